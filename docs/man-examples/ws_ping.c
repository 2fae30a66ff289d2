#include <stdio.h>
#include <wsclient.h>

/* Ping, then receive until the pong has come back. */
int main(void)
{
    ws_conn *conn = NULL;
    if (ws_connect("ws://localhost:8080/", NULL, &conn, NULL) != WS_OK)
        return 1;
    uint64_t before = ws_conn_pong_count(conn);
    if (ws_ping(conn, (const uint8_t *)"t1", 2) != WS_OK)
        return 1;
    ws_conn_set_timeouts(conn, 5000, 5000);
    while (ws_conn_pong_count(conn) == before) {
        ws_message *msg = NULL;
        if (ws_recv_message(conn, &msg) != WS_OK)
            break;
        ws_message_free(msg);
    }
    uint8_t payload[125];
    size_t len = ws_conn_last_pong(conn, payload, sizeof payload);
    printf("pong: %.*s\n", (int)len, (const char *)payload);
    ws_conn_free(conn);
    return 0;
}
