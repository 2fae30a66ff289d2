#include <stdio.h>
#include <wsclient.h>

/* A clean close: send ours, receive until the server's close arrives. */
int close_cleanly(ws_conn *conn)
{
    int32_t rc = ws_close(conn, 1000, "done");
    while (rc == WS_OK) {
        ws_message *msg = NULL;
        rc = ws_recv_message(conn, &msg);
        ws_message_free(msg);
    }
    printf("state %d, server's close code %u\n", ws_conn_state(conn),
           ws_conn_peer_close_code(conn));
    ws_conn_free(conn);
    return rc == WS_CLOSED ? 0 : -1;
}

int main(void)
{
    ws_conn *conn = NULL;
    if (ws_connect("ws://localhost:8080/", NULL, &conn, NULL) != WS_OK)
        return 1;
    return close_cleanly(conn) ? 1 : 0;
}
