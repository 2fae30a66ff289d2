#include <stdio.h>
#include <wsclient.h>

/* Print every message until the close handshake is complete. */
int print_messages(ws_conn *conn)
{
    for (;;) {
        ws_message *msg = NULL;
        int32_t rc = ws_recv_message(conn, &msg);
        if (rc == WS_CLOSED) {
            printf("closed: %u %s\n", ws_conn_peer_close_code(conn),
                   ws_conn_peer_close_reason(conn));
            return 0;
        }
        if (rc != WS_OK) {
            fprintf(stderr, "receive: %s\n", ws_conn_errmsg(conn));
            return -1;
        }
        if (ws_message_type(msg) == WS_MESSAGE_TEXT)
            printf("text: %.*s\n", (int)ws_message_size(msg),
                   (const char *)ws_message_data(msg));
        else
            printf("binary: %zu bytes%s\n", ws_message_size(msg),
                   ws_message_compressed(msg) ? " (compressed)" : "");
        ws_message_free(msg);
    }
}

int main(void)
{
    ws_conn *conn = NULL;
    if (ws_connect("ws://localhost:8080/", NULL, &conn, NULL) != WS_OK)
        return 1;
    int rc = print_messages(conn);
    ws_conn_free(conn);
    return rc ? 1 : 0;
}
