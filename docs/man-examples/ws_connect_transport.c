#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <wsclient.h>

/* A WebSocket over a Unix socket the program opens itself: the library
   hands out the bytes to send and takes the bytes received. */
static int pump(ws_conn *conn, int fd)
{
    uint8_t buf[16384];
    size_t n = 0, taken = 0;
    while (ws_conn_transport_out(conn, buf, sizeof buf, &n) == WS_OK && n > 0)
        if (send(fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n) /* short sends: loop in real code */
            return -1;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ws_conn_next_timeout_ms(conn) < 0 ? 1000 : 100) <= 0)
        return 0;
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r == 0)
        return ws_conn_transport_eof(conn);
    if (r < 0)
        return -1;
    return ws_conn_transport_in(conn, buf, (size_t)r, &taken); /* all taken while < 64 KiB wait */
}

int main(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX, .sun_path = "/run/example/ws.sock"};
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        return 1;
    ws_conn *conn = NULL;
    int32_t rc = ws_connect_transport("ws://localhost/chat", NULL, &conn);
    while (rc == WS_OK && (rc = ws_connect_continue(conn, NULL)) == WS_ERR_WOULD_BLOCK)
        rc = pump(conn, fd) < 0 ? WS_ERR_IO : WS_OK;
    if (rc == WS_OK)
        rc = ws_send_text(conn, "hello", 5);
    ws_message *msg = NULL;
    while (rc == WS_OK || rc == WS_ERR_WOULD_BLOCK) {
        rc = ws_recv_message(conn, &msg);
        if (rc == WS_OK) {
            printf("%.*s\n", (int)ws_message_size(msg), (const char *)ws_message_data(msg));
            ws_message_free(msg);
            ws_close(conn, 1000, "done");
        } else if (rc == WS_ERR_WOULD_BLOCK && pump(conn, fd) < 0) {
            break;
        }
    }
    while (!ws_conn_transport_done(conn) && pump(conn, fd) == 0)
        ; /* our last bytes out, the server's end in */
    ws_conn_free(conn);
    close(fd);
    return rc == WS_CLOSED ? 0 : 1;
}
