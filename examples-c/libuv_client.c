/*
 * N WebSocket connections driven by libuv, without blocking: each is
 * opened with ws_connect_start, sends one text message, waits for its
 * echo, and closes cleanly.
 *
 *   libuv_client URI N        e.g. libuv_client ws://127.0.0.1:9001/ 5
 *
 * Each connection has a uv_poll_t on the descriptor the library names
 * (ws_conn_fd) for the events it wants (ws_conn_wants), and a uv_timer_t
 * for its next deadline (ws_conn_next_timeout_ms). Whichever fires, the
 * connection is driven as far as it goes (drive), then the watchers are
 * set again from what the library says now (watch). Exits 0 only if every
 * connection got its echo.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "wsclient.h"

enum stage { CONNECTING, OPEN, CLOSING, ENDING };

struct client {
    int id;
    ws_conn *conn;
    enum stage stage;
    char text[64];      /* what we send, and expect back */
    uv_poll_t *poll;    /* watches `fd` for `events`; NULL when nothing is watched */
    int fd, events;
    uv_timer_t timer;
};

static int echoed;

static void on_poll(uv_poll_t *poll, int status, int events);
static void on_timer(uv_timer_t *timer);

static void free_handle(uv_handle_t *handle) { free(handle); }

static void free_client(uv_handle_t *timer) {
    struct client *c = timer->data;
    ws_conn_free(c->conn);
    free(c);
}

/* uv_close stops the poll at once, so the same number can be watched again
 * right away; the handle's memory goes once libuv is done with it. */
static void forget_poll(struct client *c) {
    if (c->poll) {
        uv_close((uv_handle_t *)c->poll, free_handle);
        c->poll = NULL;
    }
}

/* The connection is over: drop its watchers, then (once libuv is done
 * with the timer) the connection itself. */
static void finish(struct client *c) {
    forget_poll(c);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, free_client);
}

/* Set the watchers from what the connection waits for now. `renew`: the
 * connect just succeeded, so the descriptor went from the one watched while
 * connecting to the socket's: the poll handle is started afresh. */
static void watch(struct client *c, int renew) {
    int fd = ws_conn_fd(c->conn);
    uint32_t wants = ws_conn_wants(c->conn);
    int events = ((wants & WS_WANT_READ) ? UV_READABLE : 0) | ((wants & WS_WANT_WRITE) ? UV_WRITABLE : 0);
    if (renew || fd != c->fd)
        forget_poll(c);
    if (fd >= 0 && !c->poll) {
        c->poll = malloc(sizeof *c->poll);
        if (!c->poll || uv_poll_init(c->timer.loop, c->poll, fd) != 0) {
            fprintf(stderr, "libuv_client: %d: cannot watch descriptor %d\n", c->id, fd);
            exit(1);
        }
        c->poll->data = c;
        c->fd = fd;
        c->events = 0;
    }
    /* uv_poll_start re-registers the descriptor: only when the events change. */
    if (c->poll && events != c->events) {
        if (events)
            uv_poll_start(c->poll, events, on_poll);
        else
            uv_poll_stop(c->poll);
        c->events = events;
    }
    /* -1: no deadline; 0: call again now. */
    int64_t ms = ws_conn_next_timeout_ms(c->conn);
    if (ms >= 0)
        uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
    else
        uv_timer_stop(&c->timer);
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
            fprintf(stderr, "libuv_client: %d: %s\n", c->id, ws_conn_errmsg(c->conn));
            c->stage = ENDING;
            return;
        }
        size_t size = ws_message_size(msg);
        const char *data = (const char *)ws_message_data(msg);
        if (c->stage == OPEN && size == strlen(c->text) && memcmp(data, c->text, size) == 0) {
            printf("%d: echoed \"%.*s\"\n", c->id, (int)size, data);
            echoed++;
            /* Queued behind nothing; keep receiving until the server's close. */
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
                fprintf(stderr, "libuv_client: %d: HTTP %u\n", c->id, ws_response_status(response));
            else
                fprintf(stderr, "libuv_client: %d: %s\n", c->id, ws_conn_errmsg(c->conn));
            ws_response_free(response);
            finish(c);
            return;
        }
        /* Open. Non-blocking mode: the send is queued, written by the flush below. */
        c->stage = OPEN;
        if (ws_send_text(c->conn, c->text, strlen(c->text)) != WS_OK) {
            fprintf(stderr, "libuv_client: %d: %s\n", c->id, ws_conn_errmsg(c->conn));
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
        fprintf(stderr, "libuv_client: %d: %s\n", c->id, ws_conn_errmsg(c->conn));
        c->stage = ENDING;
    }
    if (c->stage == ENDING && ws_conn_wants(c->conn) == 0)
        finish(c);
    else
        watch(c, connecting);
}

static void on_poll(uv_poll_t *poll, int status, int events) {
    (void)status; /* an error shows up in the library's next call */
    (void)events;
    drive(poll->data);
}

static void on_timer(uv_timer_t *timer) { drive(timer->data); }

int main(int argc, char **argv) {
    int n = argc == 3 ? atoi(argv[2]) : 0;
    if (n < 1) {
        fprintf(stderr, "usage: libuv_client URI N\n");
        return 2;
    }
    uv_loop_t *loop = uv_default_loop();
    for (int i = 0; i < n; i++) {
        struct client *c = calloc(1, sizeof *c);
        if (!c)
            return 1;
        c->id = i;
        c->fd = -1;
        snprintf(c->text, sizeof c->text, "hello from libuv, connection %d", i);
        uv_timer_init(loop, &c->timer);
        c->timer.data = c;
        /* Checks the URI and starts; never waits. */
        if (ws_connect_start(argv[1], NULL, &c->conn) != WS_OK) {
            fprintf(stderr, "libuv_client: %s\n", ws_last_error_message());
            finish(c);
            continue;
        }
        drive(c);
    }
    uv_run(loop, UV_RUN_DEFAULT); /* returns when every handle is closed */
    uv_loop_close(loop);
    printf("libuv_client: %d of %d connections echoed\n", echoed, n);
    return echoed == n ? 0 : 1;
}
