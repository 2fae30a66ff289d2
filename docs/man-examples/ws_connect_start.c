#include <poll.h>
#include <stdio.h>
#include <wsclient.h>

/* Connect without blocking: a real event loop would serve its other
 * descriptors in the same poll(2). */
int main(void)
{
    ws_conn *conn = NULL;
    ws_response *response = NULL;
    int32_t rc = ws_connect_start("wss://echo.example.org/chat", NULL, &conn);
    if (rc != WS_OK) { /* a bad URI or option */
        fprintf(stderr, "%s: %s\n", ws_result_string(rc), ws_last_error_message());
        return 1;
    }
    while ((rc = ws_connect_continue(conn, &response)) == WS_ERR_WOULD_BLOCK) {
        /* While connecting, one descriptor to wait on for reading; once
           open, the socket's (another one). */
        uint32_t wants = ws_conn_wants(conn);
        struct pollfd pfd = {.fd = ws_conn_fd(conn), .events = 0};
        if (wants & WS_WANT_READ)
            pfd.events |= POLLIN;
        if (wants & WS_WANT_WRITE)
            pfd.events |= POLLOUT;
        int64_t timeout = ws_conn_next_timeout_ms(conn);
        poll(&pfd, 1, timeout > 60000 ? 60000 : (int)timeout);
    }
    if (rc == WS_HTTP_RESPONSE) {
        printf("HTTP %u %s\n", ws_response_status(response), ws_response_reason(response));
        ws_response_free(response);
    } else if (rc != WS_OK) {
        fprintf(stderr, "%s: %s\n", ws_result_string(rc), ws_conn_errmsg(conn));
    } else {
        /* Open, in non-blocking mode: see ws_conn_set_nonblocking(3). */
        printf("open, subprotocol %s\n", ws_conn_subprotocol(conn) ? ws_conn_subprotocol(conn) : "none");
    }
    ws_conn_free(conn); /* also cancels a connect still going on */
    return rc == WS_OK ? 0 : 1;
}
