#include <stdio.h>
#include <string.h>
#include <wsclient.h>

int main(void)
{
    ws_conn *conn = NULL;
    if (ws_connect("ws://localhost:8080/", NULL, &conn, NULL) != WS_OK)
        return 1;
    const char *text = "hello";
    static const uint8_t bytes[] = {0xde, 0xad, 0xbe, 0xef};
    int32_t rc = ws_send_text(conn, text, strlen(text));
    if (rc == WS_OK)
        rc = ws_send_binary(conn, bytes, sizeof bytes);
    /* Two text messages written in one system call, the first uncompressed. */
    if (rc == WS_OK)
        rc = ws_send(conn, WS_MESSAGE_TEXT, (const uint8_t *)"a", 1,
                     WS_SEND_MORE | WS_SEND_UNCOMPRESSED);
    if (rc == WS_OK)
        rc = ws_send(conn, WS_MESSAGE_TEXT, (const uint8_t *)"b", 1, 0);
    if (rc != WS_OK)
        fprintf(stderr, "send: %s (%s)\n", ws_result_string(rc), ws_conn_errmsg(conn));
    ws_conn_free(conn);
    return rc == WS_OK ? 0 : 1;
}
