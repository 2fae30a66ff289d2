/*
 * C tests of the caller's transport (ws_connect_transport): the library
 * moves no byte itself; this program carries them over a socket it opened,
 * with poll(). tests/integration/test_transport.py runs it against Python
 * websockets servers: over TCP, over a Unix socket, and over one end of a
 * socketpair whose other end a websockets server serves.
 *
 *   test_transport tcp:PORT | unix:PATH | fd:N  [...]
 *
 * Built with -Wall -Wextra -Werror under AddressSanitizer; the last line is
 * "N passed, N failed".
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "wsclient.h"
#include "check.h"

static int passed, failed;

/* Move bytes both ways once: what the connection has to send, then what
   the socket has (waiting up to `timeout_ms` for it). Returns -1 when the
   socket failed. */
static int pump(ws_conn *conn, int fd, int timeout_ms) {
    uint8_t buf[16384];
    size_t n = 0;
    do {
        if (ws_conn_transport_out(conn, buf, sizeof buf, &n) != WS_OK)
            return -1;
        for (size_t at = 0; at < n;) {
            ssize_t w = send(fd, buf + at, n - at, MSG_NOSIGNAL);
            if (w < 0)
                return -1;
            at += (size_t)w;
        }
    } while (n == sizeof buf);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0)
        return 0;
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r == 0) {
        ws_conn_transport_eof(conn);
        return 0;
    }
    if (r < 0)
        return -1;
    size_t given = 0;
    while (given < (size_t)r) {
        size_t taken = 0;
        CHECK(ws_conn_transport_in(conn, buf + given, (size_t)r - given, &taken) == WS_OK);
        given += taken;
        if (taken == 0)
            break; /* full: the caller receives first (not in these tests) */
    }
    return 0;
}

/* Receive the next message, pumping as needed. */
static int32_t recv_pumped(ws_conn *conn, int fd, ws_message **msg) {
    for (int i = 0; i < 1000; i++) {
        int32_t rc = ws_recv_message(conn, msg);
        if (rc != WS_ERR_WOULD_BLOCK)
            return rc;
        if (pump(conn, fd, 10) < 0)
            return WS_ERR_IO;
    }
    return WS_ERR_TIMEOUT;
}

static void session(const char *what, int fd, const char *uri) {
    fprintf(stderr, "-- %s\n", what);
    ws_options *opts = ws_options_new();
    CHECK(ws_options_add_header(opts, "X-Transport", what) == WS_OK);
    CHECK(ws_options_add_deflate_offer(opts, "") == WS_OK);
    ws_conn *conn = NULL;
    CHECK(ws_connect_transport(uri, opts, &conn) == WS_OK);
    ws_options_free(opts);
    if (!conn)
        return;
    CHECK(ws_conn_state(conn) == WS_STATE_CONNECTING);
    CHECK(ws_conn_fd(conn) == -1);
    CHECK(ws_conn_wants(conn) & WS_WANT_WRITE); /* the request */
    int32_t rc = WS_ERR_WOULD_BLOCK;
    for (int i = 0; i < 1000 && rc == WS_ERR_WOULD_BLOCK; i++) {
        CHECK(pump(conn, fd, 10) == 0);
        rc = ws_connect_continue(conn, NULL);
    }
    CHECK(rc == WS_OK);
    if (rc != WS_OK) {
        fprintf(stderr, "  connect: %s\n", ws_conn_errmsg(conn));
        ws_conn_free(conn);
        return;
    }
    CHECK(ws_conn_state(conn) == WS_STATE_OPEN);
    CHECK(ws_conn_compression(conn));
    /* Never blocking: a receive with nothing there says so at once. */
    ws_message *msg = NULL;
    CHECK(ws_recv_message(conn, &msg) == WS_ERR_WOULD_BLOCK);
    CHECK(ws_conn_set_nonblocking(conn, false) == WS_ERR_INVALID_ARGUMENT);

    /* Messages both ways, a large one too (more than the transport's
       64 KiB buffers), and a ping. */
    const char *text = "over the caller's transport";
    CHECK(ws_send_text(conn, text, strlen(text)) == WS_OK);
    CHECK(recv_pumped(conn, fd, &msg) == WS_OK);
    CHECK(msg && ws_message_size(msg) == strlen(text) &&
          memcmp(ws_message_data(msg), text, strlen(text)) == 0);
    ws_message_free(msg);
    size_t big = 300000;
    uint8_t *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 7 + i / 1000);
    rc = ws_send_binary(conn, data, big);
    CHECK(rc == WS_OK);
    msg = NULL;
    CHECK(recv_pumped(conn, fd, &msg) == WS_OK);
    CHECK(msg && ws_message_size(msg) == big && memcmp(ws_message_data(msg), data, big) == 0);
    ws_message_free(msg);
    free(data);
    CHECK(ws_ping(conn, (const uint8_t *)"p", 1) == WS_OK);
    for (int i = 0; i < 100 && ws_conn_pong_count(conn) == 0; i++) {
        CHECK(pump(conn, fd, 10) == 0);
        ws_recv_message(conn, &msg); /* processes the pong; no message */
    }
    CHECK(ws_conn_pong_count(conn) == 1);

    /* The close: ours, the server's answer, its TCP close, then done. */
    CHECK(ws_close(conn, 1000, "bye") == WS_OK);
    CHECK(recv_pumped(conn, fd, &msg) == WS_CLOSED);
    CHECK(ws_conn_peer_close_code(conn) == 1000);
    for (int i = 0; i < 500 && !ws_conn_transport_done(conn); i++)
        pump(conn, fd, 10);
    CHECK(ws_conn_transport_done(conn));
    CHECK(ws_conn_wants(conn) == 0);
    ws_conn_free(conn);
}

/* A 403: the answer is handed back; the transport is done. */
static void refused(int fd, const char *uri) {
    ws_conn *conn = NULL;
    CHECK(ws_connect_transport(uri, NULL, &conn) == WS_OK);
    ws_response *response = NULL;
    int32_t rc = WS_ERR_WOULD_BLOCK;
    for (int i = 0; i < 1000 && rc == WS_ERR_WOULD_BLOCK; i++) {
        pump(conn, fd, 10);
        rc = ws_connect_continue(conn, &response);
    }
    CHECK(rc == WS_HTTP_RESPONSE && response && ws_response_status(response) == 403);
    CHECK(ws_conn_transport_done(conn));
    ws_response_free(response);
    ws_conn_free(conn);
}

static void bad_arguments(void) {
    ws_conn *conn = NULL;
    uint8_t buf[4];
    size_t n = 99;
    CHECK(ws_connect_transport("http://x/", NULL, &conn) == WS_ERR_URI);
    CHECK(ws_connect_transport("ws://x/", NULL, NULL) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_conn_transport_out(NULL, buf, sizeof buf, &n) == WS_ERR_NULL_ARGUMENT && n == 0);
    CHECK(ws_conn_transport_in(NULL, buf, sizeof buf, &n) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_conn_transport_eof(NULL) == WS_ERR_NULL_ARGUMENT);
    CHECK(!ws_conn_transport_done(NULL));
    CHECK(ws_connect_transport("ws://x/", NULL, &conn) == WS_OK);
    CHECK(ws_conn_transport_out(conn, NULL, 4, &n) == WS_ERR_NULL_ARGUMENT);
    CHECK(!ws_conn_transport_done(conn)); /* still connecting */
    ws_conn_free(conn);
    /* A connection over its own socket has no caller's transport. */
    ws_options *opts = ws_options_new();
    ws_options_free(opts);
}

static int open_fd(const char *spec) {
    if (strncmp(spec, "fd:", 3) == 0)
        return atoi(spec + 3);
    int fd;
    if (strncmp(spec, "tcp:", 4) == 0) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(spec + 4))};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
            return -1;
    } else {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", spec + 5);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
            return -1;
    }
    return fd;
}

int main(int argc, char **argv) {
    bad_arguments();
    for (int i = 1; i < argc; i++) {
        const char *spec = argv[i];
        int fd = open_fd(spec);
        CHECK(fd >= 0);
        if (fd < 0)
            continue;
        session(spec, fd, "ws://localhost/echo");
        close(fd);
        if (strncmp(spec, "fd:", 3) != 0) {
            fd = open_fd(spec);
            refused(fd, "ws://localhost/status/403");
            close(fd);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
