/*
 * An Autobahn Testsuite testee: runs every case of a fuzzingserver,
 * echoing each message back, then asks the server to write its reports.
 *
 *   autobahn_client [--parts=SIZE] [--transport] [BASE_URI] [AGENT] [PROXY]
 *
 * (defaults ws://127.0.0.1:9001, libwsclient, no proxy; PROXY is an
 * http://[user:password@]host:port URL, for the gate through a proxy).
 * With --parts, every message is received with ws_recv_part into a buffer
 * of SIZE bytes (100 in the gate: pieces then split frames and characters),
 * put together, and echoed whole. With --transport, each connection runs
 * over a TCP socket this program opens and drives itself with poll()
 * (ws_connect_transport): the library does no I/O.
 *
 * Every connection offers permessage-deflate, as the ws-client egg's own Autobahn
 * client does, so that sections 12 and 13 run.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wsclient.h"

static ws_options *make_options(const char *proxy) {
    ws_options *opts = ws_options_new();
    /* Accept the server's window and context-takeover requests; compress
     * fast, since the suite checks correctness, not ratios. */
    if (!opts || ws_options_add_deflate_offer(opts, "client_no_context_takeover; client_max_window_bits") != WS_OK ||
        ws_options_set_compression_level(opts, 1) != WS_OK ||
        (proxy && ws_options_set_proxy(opts, proxy) != WS_OK)) {
        fprintf(stderr, "autobahn_client: bad options: %s\n", ws_last_error_message());
        exit(2);
    }
    return opts;
}

/* --transport: the socket of each connection, and the bytes read from it
   that the connection did not take yet (it takes 64 KiB at most). */
static int transport_mode;
static int transport_fd = -1;
static uint8_t pending[65536];
static size_t pending_at, pending_len;

/* Move bytes once: what the connection has to send, then what arrived
   (waiting for it up to `timeout_ms`). -1 once the socket failed or ended. */
static int pump(ws_conn *conn, int timeout_ms) {
    static uint8_t buf[65536];
    size_t n = 0;
    do {
        if (ws_conn_transport_out(conn, buf, sizeof buf, &n) != WS_OK)
            return -1;
        for (size_t at = 0; at < n;) {
            ssize_t w = send(transport_fd, buf + at, n - at, MSG_NOSIGNAL);
            if (w <= 0)
                return -1;
            at += (size_t)w;
        }
    } while (n == sizeof buf);
    if (pending_at == pending_len) {
        struct pollfd p = {.fd = transport_fd, .events = POLLIN};
        int64_t due = ws_conn_next_timeout_ms(conn);
        if (due >= 0 && due < timeout_ms)
            timeout_ms = (int)due;
        if (poll(&p, 1, timeout_ms) <= 0)
            return 0;
        ssize_t r = recv(transport_fd, pending, sizeof pending, 0);
        if (r <= 0) {
            ws_conn_transport_eof(conn);
            return -1;
        }
        pending_at = 0;
        pending_len = (size_t)r;
    }
    size_t taken = 0;
    ws_conn_transport_in(conn, pending + pending_at, pending_len - pending_at, &taken);
    pending_at += taken;
    return 0;
}

/* A connection over a socket of our own to the URI's host and port. */
static ws_conn *open_transport(const char *uri, const ws_options *opts) {
    char host[64];
    unsigned port = 80;
    if (sscanf(uri, "ws://%63[0-9.]:%u", host, &port) < 1) {
        fprintf(stderr, "autobahn_client: --transport needs ws://IPV4:PORT, not %s\n", uri);
        return NULL;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &addr.sin_addr);
    transport_fd = socket(AF_INET, SOCK_STREAM, 0);
    pending_at = pending_len = 0;
    ws_conn *conn = NULL;
    int32_t rc = WS_ERR_CONNECT;
    if (connect(transport_fd, (struct sockaddr *)&addr, sizeof addr) == 0)
        rc = ws_connect_transport(uri, opts, &conn);
    while (rc == WS_OK && (rc = ws_connect_continue(conn, NULL)) == WS_ERR_WOULD_BLOCK)
        rc = pump(conn, 1000) < 0 ? WS_ERR_CONNECTION_LOST : WS_OK;
    if (rc != WS_OK) {
        fprintf(stderr, "autobahn_client: %s: %s\n", uri, ws_result_string(rc));
        ws_conn_free(conn);
        close(transport_fd);
        return NULL;
    }
    return conn;
}

/* The next message, moving bytes as needed (--transport), else blocking. */
static int32_t recv_next(ws_conn *conn, ws_message **msg) {
    for (;;) {
        int32_t rc = ws_recv_message(conn, msg);
        if (!transport_mode || rc != WS_ERR_WOULD_BLOCK)
            return rc;
        if (pump(conn, 1000) < 0) {
            rc = ws_recv_message(conn, msg); /* what the end of the stream means */
            return rc == WS_ERR_WOULD_BLOCK ? WS_ERR_CONNECTION_LOST : rc;
        }
    }
}

/* --transport: the end of a connection: our last bytes out, the server's
   TCP close in (bounded by the close timeout), then the socket closed. */
static void free_conn(ws_conn *conn) {
    if (transport_mode) {
        while (!ws_conn_transport_done(conn) && ws_conn_wants(conn) && pump(conn, 100) == 0)
            ;
        close(transport_fd);
    }
    ws_conn_free(conn);
}

static ws_conn *open_conn(const char *uri, const ws_options *opts) {
    if (transport_mode)
        return open_transport(uri, opts);
    ws_conn *conn = NULL;
    int32_t rc = ws_connect(uri, opts, &conn, NULL);
    if (rc != WS_OK) {
        fprintf(stderr, "autobahn_client: %s: %s: %s\n", uri, ws_result_string(rc), ws_last_error_message());
        return NULL;
    }
    return conn;
}

static int32_t echo(ws_conn *conn, const ws_message *msg, void *userdata) {
    (void)userdata;
    int32_t rc = ws_send_message(conn, msg);
    return rc == WS_OK ? 0 : rc;
}

/* --parts: receive each message piece by piece into `part_size` bytes. */
static size_t part_size;

static int32_t echo_in_parts(ws_conn *conn) {
    uint8_t *piece = malloc(part_size);
    uint8_t *message = NULL;
    size_t len = 0, cap = 0;
    int32_t rc;
    for (;;) {
        size_t n = 0;
        int32_t type = 0;
        bool last = false;
        rc = ws_recv_part(conn, piece, part_size, &n, &type, &last);
        if (rc == WS_ERR_WOULD_BLOCK && transport_mode && pump(conn, 1000) == 0)
            continue;
        if (rc != WS_OK)
            break;
        if (len + n > cap) {
            cap = (len + n) * 2;
            uint8_t *grown = realloc(message, cap);
            if (!grown) {
                rc = WS_ERR_MESSAGE_TOO_BIG;
                break;
            }
            message = grown;
        }
        memcpy(message + len, piece, n);
        len += n;
        if (last) {
            rc = ws_send(conn, type, message, len, 0);
            if (rc != WS_OK)
                break;
            len = 0;
        }
    }
    free(message);
    free(piece);
    return rc;
}

static long case_count(const char *base, const ws_options *opts) {
    char uri[512];
    snprintf(uri, sizeof uri, "%s/getCaseCount", base);
    ws_conn *conn = open_conn(uri, opts);
    if (!conn)
        return -1;
    ws_message *msg = NULL;
    long count = -1;
    if (recv_next(conn, &msg) == WS_OK) {
        char text[32] = {0};
        size_t n = ws_message_size(msg);
        memcpy(text, ws_message_data(msg), n < sizeof text - 1 ? n : sizeof text - 1);
        count = strtol(text, NULL, 10);
        ws_message_free(msg);
        recv_next(conn, &msg); /* the server's close */
    }
    free_conn(conn);
    return count;
}

static void run_and_wait(const char *uri, const ws_options *opts) {
    ws_conn *conn = open_conn(uri, opts);
    if (!conn)
        return;
    if (part_size) {
        echo_in_parts(conn);
    } else if (transport_mode) {
        ws_message *msg = NULL;
        while (recv_next(conn, &msg) == WS_OK) {
            int32_t rc;
            /* A full send queue: move bytes until the echo fits. */
            while ((rc = ws_send_message(conn, msg)) == WS_ERR_WOULD_BLOCK && pump(conn, 1000) == 0)
                ;
            ws_message_free(msg);
            if (rc != WS_OK)
                break;
        }
    } else {
        ws_recv_message_loop(conn, echo, NULL);
    }
    free_conn(conn);
}

int main(int argc, char **argv) {
    for (; argc > 1 && strncmp(argv[1], "--", 2) == 0; argv++, argc--) {
        if (strncmp(argv[1], "--parts=", 8) == 0)
            part_size = strtoul(argv[1] + 8, NULL, 10);
        else if (strcmp(argv[1], "--transport") == 0)
            transport_mode = 1;
    }
    const char *base = argc > 1 ? argv[1] : "ws://127.0.0.1:9001";
    const char *agent = argc > 2 ? argv[2] : "libwsclient";
    ws_options *opts = make_options(argc > 3 ? argv[3] : NULL);
    long count = case_count(base, opts);
    if (count < 0) {
        fprintf(stderr, "autobahn_client: cannot get the case count\n");
        return 1;
    }
    printf("autobahn_client: running %ld cases\n", count);
    char uri[512];
    for (long i = 1; i <= count; i++) {
        snprintf(uri, sizeof uri, "%s/runCase?case=%ld&agent=%s", base, i, agent);
        run_and_wait(uri, opts);
    }
    snprintf(uri, sizeof uri, "%s/updateReports?agent=%s", base, agent);
    run_and_wait(uri, opts);
    ws_options_free(opts);
    return 0;
}
