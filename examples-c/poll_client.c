/*
 * One thread and poll() driving several WebSocket connections at once, in
 * non-blocking mode with keepalive on: every message received is echoed
 * back on its connection, until each server closes.
 *
 *   poll_client TEXT URI...             send TEXT on each URI, print the
 *                                       answer, close
 *   poll_client --autobahn BASE AGENT   run the Autobahn cases (echoing
 *                                       every message) through the same loop
 *
 * The loop asks each connection what it waits for (ws_conn_wants) and when
 * (ws_conn_next_timeout_ms), then receives until WS_ERR_WOULD_BLOCK and
 * flushes. A message the send queue refuses (WS_ERR_WOULD_BLOCK) is kept and
 * retried; meanwhile that connection is not read, which pushes back on the
 * server instead of growing memory.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsclient.h"

#define MAX_CONNS 64

struct peer {
    ws_conn *conn;
    const char *uri;
    ws_message *unsent; /* an echo waiting for room in the send queue */
    int ended;          /* the WebSocket is over; only winding down */
    int greeter;        /* close after the first answer instead of echoing */
    long received;
};

static int quiet;

static ws_options *make_options(int autobahn) {
    ws_options *opts = ws_options_new();
    int ok = opts && ws_options_set_keepalive(opts, 20000, 20000) == WS_OK;
    if (autobahn)
        ok = ok && ws_options_add_deflate_offer(opts, "client_no_context_takeover; client_max_window_bits") == WS_OK &&
             ws_options_set_compression_level(opts, 1) == WS_OK;
    if (!ok) {
        fprintf(stderr, "poll_client: bad options: %s\n", ws_last_error_message());
        exit(2);
    }
    return opts;
}

static int open_peer(struct peer *p, const char *uri, const ws_options *opts) {
    memset(p, 0, sizeof *p);
    p->uri = uri;
    int32_t rc = ws_connect(uri, opts, &p->conn, NULL);
    if (rc != WS_OK) {
        fprintf(stderr, "poll_client: %s: %s: %s\n", uri, ws_result_string(rc), ws_last_error_message());
        return -1;
    }
    return ws_conn_set_nonblocking(p->conn, true) == WS_OK ? 0 : -1;
}

static void end_peer(struct peer *p, int32_t rc) {
    if (rc == WS_CLOSED) {
        if (!quiet)
            printf("%s: closed: %u %s\n", p->uri, ws_conn_peer_close_code(p->conn),
                   ws_conn_peer_close_reason(p->conn));
    } else if (!quiet) {
        printf("%s: %s: %s\n", p->uri, ws_result_is_fail(rc) ? "failed" : "error", ws_last_error_message());
    }
    p->ended = 1;
}

/* Echo a message; keep it when the queue has no room for it now. */
static void echo(struct peer *p, ws_message *msg) {
    int32_t rc = ws_send_message(p->conn, msg);
    if (rc == WS_ERR_WOULD_BLOCK) {
        p->unsent = msg;
        return;
    }
    ws_message_free(msg);
    if (rc != WS_OK && rc != WS_ERR_INVALID_STATE)
        end_peer(p, rc);
}

/* Everything the connection can do now, without waiting. */
static void service(struct peer *p) {
    if (p->unsent) {
        ws_message *msg = p->unsent;
        p->unsent = NULL;
        echo(p, msg);
    }
    while (!p->ended && !p->unsent) {
        ws_message *msg = NULL;
        int32_t rc = ws_recv_message(p->conn, &msg);
        if (rc == WS_ERR_WOULD_BLOCK)
            break;
        if (rc != WS_OK) {
            end_peer(p, rc);
            break;
        }
        p->received++;
        if (p->greeter) {
            printf("%s: %.*s\n", p->uri, (int)ws_message_size(msg), (const char *)ws_message_data(msg));
            ws_message_free(msg);
            ws_close(p->conn, 1000, "done");
            continue;
        }
        echo(p, msg);
    }
    /* Writes what is queued and runs due timers (keepalive, close timeout). */
    int32_t rc = ws_conn_flush(p->conn);
    if (rc != WS_OK && rc != WS_ERR_WOULD_BLOCK && !p->ended)
        end_peer(p, rc);
}

/* Drive `n` peers until every one is over. */
static void run(struct peer *peers, int n) {
    struct pollfd fds[MAX_CONNS];
    int live = n;
    while (live > 0) {
        int64_t timeout = -1;
        for (int i = 0; i < n; i++) {
            struct peer *p = &peers[i];
            fds[i].fd = -1; /* poll ignores negative descriptors */
            fds[i].events = 0;
            if (!p->conn)
                continue;
            uint32_t wants = ws_conn_wants(p->conn);
            if (p->unsent)
                wants = (wants & ~(uint32_t)WS_WANT_READ) | WS_WANT_WRITE;
            fds[i].fd = ws_conn_fd(p->conn);
            fds[i].events = (short)(((wants & WS_WANT_READ) ? POLLIN : 0) | ((wants & WS_WANT_WRITE) ? POLLOUT : 0));
            int64_t t = ws_conn_next_timeout_ms(p->conn);
            if (t >= 0 && (timeout < 0 || t < timeout))
                timeout = t;
        }
        if (poll(fds, (nfds_t)n, timeout > 2000000000 ? 2000000000 : (int)timeout) < 0) {
            perror("poll_client: poll");
            return;
        }
        live = 0;
        for (int i = 0; i < n; i++) {
            struct peer *p = &peers[i];
            if (!p->conn)
                continue;
            service(p);
            if (p->ended && ws_conn_wants(p->conn) == 0) {
                ws_message_free(p->unsent);
                ws_conn_free(p->conn);
                p->conn = NULL;
            } else {
                live++;
            }
        }
    }
}

static int autobahn(const char *base, const char *agent) {
    ws_options *opts = make_options(1);
    char uri[512];
    struct peer p;
    quiet = 1;
    snprintf(uri, sizeof uri, "%s/getCaseCount", base);
    if (open_peer(&p, uri, opts) != 0)
        return 1;
    long count = -1;
    while (count < 0) {
        ws_message *msg = NULL;
        int32_t rc = ws_recv_message(p.conn, &msg);
        if (rc == WS_ERR_WOULD_BLOCK) {
            struct pollfd fd = {ws_conn_fd(p.conn), POLLIN, 0};
            poll(&fd, 1, 5000);
            continue;
        }
        if (rc != WS_OK)
            break;
        char text[32] = {0};
        size_t len = ws_message_size(msg);
        memcpy(text, ws_message_data(msg), len < sizeof text - 1 ? len : sizeof text - 1);
        count = strtol(text, NULL, 10);
        ws_message_free(msg);
    }
    ws_conn_free(p.conn);
    if (count < 0) {
        fprintf(stderr, "poll_client: cannot get the case count\n");
        return 1;
    }
    printf("poll_client: running %ld cases\n", count);
    for (long i = 1; i <= count + 1; i++) {
        if (i <= count)
            snprintf(uri, sizeof uri, "%s/runCase?case=%ld&agent=%s", base, i, agent);
        else
            snprintf(uri, sizeof uri, "%s/updateReports?agent=%s", base, agent);
        if (open_peer(&p, uri, opts) == 0)
            run(&p, 1);
        else
            ws_conn_free(p.conn);
    }
    ws_options_free(opts);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--autobahn") == 0)
        return autobahn(argv[2], argv[3]);
    if (argc < 3 || argc - 2 > MAX_CONNS) {
        fprintf(stderr, "usage: poll_client TEXT URI...  (at most %d URIs)\n"
                        "       poll_client --autobahn BASE AGENT\n", MAX_CONNS);
        return 2;
    }
    const char *text = argv[1];
    ws_options *opts = make_options(0);
    struct peer peers[MAX_CONNS];
    int n = 0;
    for (int i = 2; i < argc; i++) {
        if (open_peer(&peers[n], argv[i], opts) != 0) {
            ws_conn_free(peers[n].conn);
            continue;
        }
        peers[n].greeter = 1;
        /* Queued; written by the loop's first flush. */
        if (ws_send(peers[n].conn, WS_MESSAGE_TEXT, (const uint8_t *)text, strlen(text), WS_SEND_MORE) != WS_OK)
            fprintf(stderr, "poll_client: %s: %s\n", argv[i], ws_last_error_message());
        n++;
    }
    ws_options_free(opts);
    run(peers, n);
    int answered = 0;
    for (int i = 0; i < n; i++)
        answered += peers[i].received > 0;
    printf("poll_client: %d of %d connections answered\n", answered, argc - 2);
    return answered == argc - 2 ? 0 : 1;
}
