/*
 * The ws-client egg's example: connect and echo back every text message until the
 * server closes the connection.
 *
 *   echo_client [URI]        (default ws://localhost:9001)
 */
#include <stdio.h>
#include <string.h>

#include "wsclient.h"

static int32_t echo(ws_conn *conn, const ws_message *msg, void *userdata) {
    (void)userdata;
    if (ws_message_type(msg) != WS_MESSAGE_TEXT)
        return 0;
    size_t size = ws_message_size(msg);
    printf("echo_client: echoing %.*s\n", (int)size, (const char *)ws_message_data(msg));
    fflush(stdout);
    return ws_send_text(conn, (const char *)ws_message_data(msg), size) == WS_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    const char *uri = argc > 1 ? argv[1] : "ws://localhost:9001";
    ws_conn *conn = NULL;
    ws_response *response = NULL;
    int32_t rc = ws_connect(uri, NULL, &conn, &response);
    if (rc == WS_HTTP_RESPONSE) {
        fprintf(stderr, "echo_client: server answered HTTP %u %s\n", ws_response_status(response),
                ws_response_reason(response));
        ws_response_free(response);
        return 1;
    }
    if (rc != WS_OK) {
        fprintf(stderr, "echo_client: %s: %s\n", ws_result_string(rc), ws_last_error_message());
        return 1;
    }
    rc = ws_recv_message_loop(conn, echo, NULL);
    if (rc == WS_CLOSED) {
        printf("echo_client: server closed with %u %s\n", ws_conn_peer_close_code(conn),
               ws_conn_peer_close_reason(conn));
    } else {
        fprintf(stderr, "echo_client: %s: %s\n", ws_result_string(rc), ws_conn_errmsg(conn));
    }
    ws_conn_free(conn);
    return rc == WS_CLOSED ? 0 : 1;
}
