/*
 * N WebSocket connections driven by libevent, without blocking: each is
 * opened with ws_connect_start, sends one text message, waits for its
 * echo, and closes cleanly.
 *
 *   libevent_client URI N     e.g. libevent_client ws://127.0.0.1:9001/ 5
 *
 * Each connection has one persistent event: the descriptor the library
 * names (ws_conn_fd), the events it wants (ws_conn_wants) and, as the
 * event's timeout, its next deadline (ws_conn_next_timeout_ms). Whether
 * the descriptor or the timeout fired, the connection is driven as far as
 * it goes (drive), then the event is set again from what the library says
 * now (watch). Exits 0 only if every connection got its echo.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsclient.h"

enum stage { CONNECTING, OPEN, CLOSING, ENDING };

struct client {
    int id;
    ws_conn *conn;
    enum stage stage;
    char text[64];     /* what we send, and expect back */
    struct event *ev;  /* on `fd` for `what` (EV_READ, EV_WRITE) and a timeout */
    int fd;
    short what;
};

static struct event_base *base;
static int echoed;

static void on_event(evutil_socket_t fd, short what, void *arg);

static void finish(struct client *c) {
    event_free(c->ev); /* also from within its own callback */
    ws_conn_free(c->conn);
    free(c);
}

/* Set the event from what the connection waits for now. `renew`: the
 * connect just succeeded, so the descriptor went from the one watched while
 * connecting to the socket's: the event is deleted and added afresh. */
static void watch(struct client *c, int renew) {
    int fd = ws_conn_fd(c->conn);
    uint32_t wants = ws_conn_wants(c->conn);
    short what = (short)(((wants & WS_WANT_READ) ? EV_READ : 0) | ((wants & WS_WANT_WRITE) ? EV_WRITE : 0));
    if (renew || fd != c->fd || what != c->what) {
        event_del(c->ev);
        event_assign(c->ev, base, fd, what | EV_PERSIST, on_event, c);
        c->fd = fd;
        c->what = what;
    }
    int64_t ms = ws_conn_next_timeout_ms(c->conn);
    if (ms >= 0) {
        struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
        event_add(c->ev, &tv); /* replaces the previous timeout */
    } else {
        event_remove_timer(c->ev); /* no deadline now */
        event_add(c->ev, NULL);
    }
}

/* Receive everything that has arrived: the echo, then the server's close. */
static void receive(struct client *c) {
    for (;;) {
        ws_message *msg = NULL;
        int32_t rc = ws_recv_message(c->conn, &msg);
        if (rc == WS_ERR_WOULD_BLOCK)
            return;
        if (rc == WS_CLOSED) {
            c->stage = ENDING;
            return;
        }
        if (rc != WS_OK) {
            fprintf(stderr, "libevent_client: %d: %s\n", c->id, ws_conn_errmsg(c->conn));
            c->stage = ENDING;
            return;
        }
        size_t size = ws_message_size(msg);
        const char *data = (const char *)ws_message_data(msg);
        if (c->stage == OPEN && size == strlen(c->text) && memcmp(data, c->text, size) == 0) {
            printf("%d: echoed \"%.*s\"\n", c->id, (int)size, data);
            echoed++;
            /* Queued; keep receiving until the server's close. */
            ws_close(c->conn, 1000, "done");
            c->stage = CLOSING;
        }
        ws_message_free(msg);
    }
}

/* Do all the connection can do now, then watch for what comes next. */
static void drive(struct client *c) {
    int connecting = c->stage == CONNECTING;
    if (connecting) {
        ws_response *response = NULL;
        int32_t rc = ws_connect_continue(c->conn, &response);
        if (rc == WS_ERR_WOULD_BLOCK) {
            watch(c, 0);
            return;
        }
        if (rc != WS_OK) {
            if (rc == WS_HTTP_RESPONSE)
                fprintf(stderr, "libevent_client: %d: HTTP %u\n", c->id, ws_response_status(response));
            else
                fprintf(stderr, "libevent_client: %d: %s\n", c->id, ws_conn_errmsg(c->conn));
            ws_response_free(response);
            finish(c);
            return;
        }
        /* Open. Non-blocking mode: the send is queued, written by the flush below. */
        c->stage = OPEN;
        if (ws_send_text(c->conn, c->text, strlen(c->text)) != WS_OK) {
            fprintf(stderr, "libevent_client: %d: %s\n", c->id, ws_conn_errmsg(c->conn));
            c->stage = ENDING;
        }
    }
    /* Also right after opening: the server's first bytes may have come with
     * its handshake answer, and the socket would not show them again. */
    if (c->stage != ENDING)
        receive(c);
    /* Writes what is queued; runs due deadlines (close timeout, keepalive);
     * after the close handshake, waits out the server's TCP close. */
    int32_t rc = ws_conn_flush(c->conn);
    if (rc != WS_OK && rc != WS_ERR_WOULD_BLOCK && c->stage != ENDING) {
        fprintf(stderr, "libevent_client: %d: %s\n", c->id, ws_conn_errmsg(c->conn));
        c->stage = ENDING;
    }
    if (c->stage == ENDING && ws_conn_wants(c->conn) == 0)
        finish(c);
    else
        watch(c, connecting);
}

static void on_event(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what; /* readable, writable or timed out: drive finds out which */
    drive(arg);
}

int main(int argc, char **argv) {
    int n = argc == 3 ? atoi(argv[2]) : 0;
    if (n < 1) {
        fprintf(stderr, "usage: libevent_client URI N\n");
        return 2;
    }
    base = event_base_new();
    if (!base)
        return 1;
    for (int i = 0; i < n; i++) {
        struct client *c = calloc(1, sizeof *c);
        if (!c)
            return 1;
        c->id = i;
        c->fd = -1;
        snprintf(c->text, sizeof c->text, "hello from libevent, connection %d", i);
        c->ev = event_new(base, -1, 0, on_event, c);
        if (!c->ev)
            return 1;
        /* Checks the URI and starts; never waits. */
        if (ws_connect_start(argv[1], NULL, &c->conn) != WS_OK) {
            fprintf(stderr, "libevent_client: %s\n", ws_last_error_message());
            finish(c);
            continue;
        }
        drive(c);
    }
    event_base_dispatch(base); /* returns when no event is left */
    event_base_free(base);
    printf("libevent_client: %d of %d connections echoed\n", echoed, n);
    return echoed == n ? 0 : 1;
}
