#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <wsclient.h>

/* One connection driven by poll(2): no call waits. */
int run(ws_conn *conn)
{
    if (ws_conn_set_nonblocking(conn, true) != WS_OK)
        return -1;
    ws_send_text(conn, "hello", 5); /* queued */
    uint32_t wants;
    while ((wants = ws_conn_wants(conn)) != 0) {
        struct pollfd pfd = {.fd = ws_conn_fd(conn), .events = 0};
        if (wants & WS_WANT_READ)
            pfd.events |= POLLIN;
        if (wants & WS_WANT_WRITE)
            pfd.events |= POLLOUT;
        int64_t timeout = ws_conn_next_timeout_ms(conn);
        if (poll(&pfd, 1, timeout > 60000 ? 60000 : (int)timeout) < 0 && errno != EINTR)
            return -1;
        int32_t rc = ws_conn_flush(conn); /* writes, and acts on deadlines */
        if (rc != WS_OK && rc != WS_ERR_WOULD_BLOCK)
            return -1;
        for (;;) { /* receive until WS_ERR_WOULD_BLOCK */
            ws_message *msg = NULL;
            rc = ws_recv_message(conn, &msg);
            if (rc == WS_ERR_WOULD_BLOCK)
                break;
            if (rc != WS_OK)
                return rc == WS_CLOSED ? 0 : -1;
            printf("%zu bytes (%zu still queued)\n", ws_message_size(msg),
                   ws_conn_queued_bytes(conn));
            ws_message_free(msg);
        }
    }
    return 0;
}

int main(void)
{
    ws_conn *conn = NULL;
    if (ws_connect("ws://localhost:8080/", NULL, &conn, NULL) != WS_OK)
        return 1;
    int rc = run(conn);
    ws_conn_free(conn);
    return rc ? 1 : 0;
}
