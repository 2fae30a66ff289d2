#include <stdio.h>
#include <string.h>
#include <wsclient.h>

/* Publish a burst of quotes in one call: the messages one after the
   other in one buffer, written in as few system calls as the socket
   allows. */
int main(void)
{
    ws_conn *conn = NULL;
    if (ws_connect("ws://localhost:8080/quotes", NULL, &conn, NULL) != WS_OK)
        return 1;
    static const char *quotes[] = {"{\"s\":\"ABC\",\"p\":101.5}", "{\"s\":\"DEF\",\"p\":42.25}",
                                   "{\"s\":\"GHI\",\"p\":7.125}"};
    uint8_t buf[256];
    size_t lens[3], at = 0;
    int32_t types[3];
    for (int i = 0; i < 3; i++) {
        lens[i] = strlen(quotes[i]);
        types[i] = WS_MESSAGE_TEXT;
        memcpy(buf + at, quotes[i], lens[i]);
        at += lens[i];
    }
    size_t sent = 0;
    int32_t rc = ws_send_messages(conn, buf, lens, types, 3, 0, &sent);
    if (rc != WS_OK)
        fprintf(stderr, "%zu of 3 sent: %s\n", sent, ws_conn_errmsg(conn));
    ws_close(conn, 1000, NULL);
    ws_conn_free(conn);
    return rc == WS_OK ? 0 : 1;
}
