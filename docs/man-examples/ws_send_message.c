#include <stdio.h>
#include <wsclient.h>

/* Send one message back as it came, then send a new one. */
int echo_once(ws_conn *conn)
{
    ws_message *msg = NULL;
    if (ws_recv_message(conn, &msg) != WS_OK)
        return -1;
    int32_t rc = ws_send_message(conn, msg);
    ws_message_free(msg);
    if (rc != WS_OK)
        return -1;

    static const uint8_t data[] = {1, 2, 3};
    ws_message *reply = ws_message_new(WS_MESSAGE_BINARY, data, sizeof data);
    if (!reply)
        return -1;
    rc = ws_send_message(conn, reply);
    ws_message_free(reply);
    return rc == WS_OK ? 0 : -1;
}

int main(void)
{
    ws_conn *conn = NULL;
    if (ws_connect("ws://localhost:8080/", NULL, &conn, NULL) != WS_OK)
        return 1;
    if (echo_once(conn) != 0)
        fprintf(stderr, "%s\n", ws_last_error_message());
    ws_conn_free(conn);
    return 0;
}
