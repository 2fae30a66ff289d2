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
 * Connections are opened inside the loop too (ws_connect_start, then
 * ws_connect_continue until it stops returning WS_ERR_WOULD_BLOCK), so a
 * slow server never holds up the others. The loop asks each connection what
 * it waits for (ws_conn_wants), on which descriptor (ws_conn_fd: read it
 * again each round; it becomes the socket's when the connect succeeds) and until when
 * (ws_conn_next_timeout_ms); once open, it receives until WS_ERR_WOULD_BLOCK
 * and flushes. A message the send queue refuses (WS_ERR_WOULD_BLOCK) is kept
 * and retried; meanwhile that connection is not read, which pushes back on
 * the server instead of growing memory.
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
    int connecting;       /* started, not open yet */
    ws_message *unsent;   /* an echo waiting for room in the send queue */
    int ended;            /* the WebSocket is over; only winding down */
    int ask;              /* close after the first answer instead of echoing */
    const char *greeting; /* sent once open (with ask) */
    char answer[64];      /* the start of the first answer (with ask) */
    long received;
};

static int quiet;

static ws_options *make_options(int autobahn) {
    ws_options *opts = ws_options_new();
    int ok = opts != NULL;
    /* Keepalive, except for the Autobahn suite: it checks every frame a
     * testee sends, and a ping in a long case would be an unexpected one. */
    if (!autobahn)
        ok = ok && ws_options_set_keepalive(opts, 20000, 20000) == WS_OK;
    if (autobahn)
        ok = ok && ws_options_add_deflate_offer(opts, "client_no_context_takeover; client_max_window_bits") == WS_OK &&
             ws_options_set_compression_level(opts, 1) == WS_OK;
    if (!ok) {
        fprintf(stderr, "poll_client: bad options: %s\n", ws_last_error_message());
        exit(2);
    }
    return opts;
}

/* Start opening a connection; the loop finishes it. */
static int open_peer(struct peer *p, const char *uri, const ws_options *opts) {
    memset(p, 0, sizeof *p);
    p->uri = uri;
    int32_t rc = ws_connect_start(uri, opts, &p->conn);
    if (rc != WS_OK) {
        fprintf(stderr, "poll_client: %s: %s: %s\n", uri, ws_result_string(rc), ws_last_error_message());
        return -1;
    }
    p->connecting = 1;
    return 0;
}

static void end_peer(struct peer *p, int32_t rc) {
    if (rc == WS_CLOSED) {
        if (!quiet)
            printf("%s: closed: %u %s\n", p->uri, ws_conn_peer_close_code(p->conn),
                   ws_conn_peer_close_reason(p->conn));
    } else if (!quiet) {
        printf("%s: %s: %s\n", p->uri, ws_result_is_fail(rc) ? "failed" : "error", ws_conn_errmsg(p->conn));
    }
    p->ended = 1;
}

/* One step of the opening. 0 once open; -1 while it goes on or when it
 * ended (then the peer is over). */
static int finish_opening(struct peer *p) {
    ws_response *response = NULL;
    int32_t rc = ws_connect_continue(p->conn, &response);
    if (rc == WS_ERR_WOULD_BLOCK)
        return -1;
    p->connecting = 0;
    if (rc == WS_HTTP_RESPONSE) {
        fprintf(stderr, "poll_client: %s: answered HTTP %d\n", p->uri, ws_response_status(response));
        ws_response_free(response);
        p->ended = 1;
        return -1;
    }
    if (rc != WS_OK) {
        fprintf(stderr, "poll_client: %s: %s: %s\n", p->uri, ws_result_string(rc), ws_conn_errmsg(p->conn));
        p->ended = 1;
        return -1;
    }
    /* Open, in non-blocking mode. Queued; written by the flush below. */
    if (p->greeting &&
        ws_send(p->conn, WS_MESSAGE_TEXT, (const uint8_t *)p->greeting, strlen(p->greeting), WS_SEND_MORE) != WS_OK)
        fprintf(stderr, "poll_client: %s: %s\n", p->uri, ws_conn_errmsg(p->conn));
    return 0;
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
    if (p->connecting && finish_opening(p) != 0)
        return;
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
        if (p->ask) {
            if (p->received == 1) {
                int len = (int)ws_message_size(msg);
                snprintf(p->answer, sizeof p->answer, "%.*s", len, (const char *)ws_message_data(msg));
                if (!quiet)
                    printf("%s: %.*s\n", p->uri, len, (const char *)ws_message_data(msg));
                ws_close(p->conn, 1000, "done");
            }
            ws_message_free(msg);
            continue;
        }
        if (!quiet)
            printf("%s: echoing a message of %zu bytes\n", p->uri, ws_message_size(msg));
        echo(p, msg);
    }
    /* Writes what is queued and runs due timers (keepalive, close timeout). */
    int32_t rc = ws_conn_flush(p->conn);
    if (rc != WS_OK && rc != WS_ERR_WOULD_BLOCK && !p->ended)
        end_peer(p, rc);
}

/* Drive `n` peers until every one is over. Each is serviced before the
 * first wait (and at once when it opens): messages that came with the
 * handshake response are already read, and the socket would never show
 * them. */
static void run(struct peer *peers, int n) {
    struct pollfd fds[MAX_CONNS];
    for (;;) {
        int live = 0;
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
        if (live == 0)
            return;
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
            /* No descriptor while connecting: it can go on at once. */
            int64_t t = fds[i].fd < 0 ? 0 : ws_conn_next_timeout_ms(p->conn);
            if (t >= 0 && (timeout < 0 || t < timeout))
                timeout = t;
        }
        if (poll(fds, (nfds_t)n, timeout > 2000000000 ? 2000000000 : (int)timeout) < 0) {
            perror("poll_client: poll");
            return;
        }
    }
}

static int autobahn(const char *base, const char *agent) {
    ws_options *opts = make_options(1);
    char uri[512];
    struct peer p;
    quiet = getenv("POLL_CLIENT_VERBOSE") == NULL;
    snprintf(uri, sizeof uri, "%s/getCaseCount", base);
    long count = -1;
    if (open_peer(&p, uri, opts) == 0) {
        p.ask = 1;
        run(&p, 1);
        if (p.received > 0)
            count = strtol(p.answer, NULL, 10);
    }
    if (count < 0) {
        fprintf(stderr, "poll_client: cannot get the case count\n");
        ws_options_free(opts);
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
        if (open_peer(&peers[n], argv[i], opts) != 0)
            continue;
        peers[n].ask = 1;
        peers[n].greeting = text;
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
