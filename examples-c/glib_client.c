/*
 * N WebSocket connections driven by a GLib main loop, without blocking:
 * each is opened with ws_connect_start, sends one text message, waits for
 * its echo, and closes cleanly.
 *
 *   glib_client URI N         e.g. glib_client ws://127.0.0.1:9001/ 5
 *
 * Each connection has a unix fd source (g_unix_fd_add_full) on the
 * descriptor the library names (ws_conn_fd) for the conditions it wants
 * (ws_conn_wants), and a timeout source (g_timeout_add) for its next
 * deadline (ws_conn_next_timeout_ms). Whichever fires, the connection is
 * driven as far as it goes (drive), then the sources are set again from
 * what the library says now (watch). Exits 0 only if every connection got
 * its echo.
 */
#include <glib-unix.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsclient.h"

enum stage { CONNECTING, OPEN, CLOSING, ENDING };

struct client {
    int id;
    ws_conn *conn;
    enum stage stage;
    char text[64];          /* what we send, and expect back */
    guint fd_source;        /* watches `fd` for `condition`; 0: none */
    int fd;
    GIOCondition condition;
    guint timeout_source;   /* 0: none */
};

static GMainLoop *loop;
static int live, echoed;

static gboolean on_fd(gint fd, GIOCondition condition, gpointer data);
static gboolean on_timeout(gpointer data);

static void drop_source(guint *id) {
    if (*id) {
        g_source_remove(*id); /* also from within its own callback */
        *id = 0;
    }
}

static void finish(struct client *c) {
    drop_source(&c->fd_source);
    drop_source(&c->timeout_source);
    ws_conn_free(c->conn);
    g_free(c);
    if (--live == 0)
        g_main_loop_quit(loop);
}

/* Set the sources from what the connection waits for now: a new
 * descriptor (the socket's, once the connect succeeds) or new conditions
 * need a new source. */
static void watch(struct client *c) {
    int fd = ws_conn_fd(c->conn);
    uint32_t wants = ws_conn_wants(c->conn);
    GIOCondition condition = ((wants & WS_WANT_READ) ? G_IO_IN : 0) | ((wants & WS_WANT_WRITE) ? G_IO_OUT : 0);
    if (fd != c->fd || condition != c->condition)
        drop_source(&c->fd_source);
    if (fd >= 0 && condition && !c->fd_source) {
        c->fd_source = g_unix_fd_add_full(G_PRIORITY_DEFAULT, fd, condition, on_fd, c, NULL);
        c->fd = fd;
        c->condition = condition;
    }
    /* A deadline moves with what happens: always start a new timeout.
     * -1: no deadline; 0: call again now. */
    drop_source(&c->timeout_source);
    int64_t ms = ws_conn_next_timeout_ms(c->conn);
    if (ms >= 0)
        c->timeout_source = g_timeout_add((guint)MIN(ms, G_MAXUINT), on_timeout, c);
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
            fprintf(stderr, "glib_client: %d: %s\n", c->id, ws_conn_errmsg(c->conn));
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
    if (c->stage == CONNECTING) {
        ws_response *response = NULL;
        int32_t rc = ws_connect_continue(c->conn, &response);
        if (rc == WS_ERR_WOULD_BLOCK) {
            watch(c);
            return;
        }
        if (rc != WS_OK) {
            if (rc == WS_HTTP_RESPONSE)
                fprintf(stderr, "glib_client: %d: HTTP %u\n", c->id, ws_response_status(response));
            else
                fprintf(stderr, "glib_client: %d: %s\n", c->id, ws_conn_errmsg(c->conn));
            ws_response_free(response);
            finish(c);
            return;
        }
        /* Open. Non-blocking mode: the send is queued, written by the flush below. */
        c->stage = OPEN;
        if (ws_send_text(c->conn, c->text, strlen(c->text)) != WS_OK) {
            fprintf(stderr, "glib_client: %d: %s\n", c->id, ws_conn_errmsg(c->conn));
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
        fprintf(stderr, "glib_client: %d: %s\n", c->id, ws_conn_errmsg(c->conn));
        c->stage = ENDING;
    }
    if (c->stage == ENDING && ws_conn_wants(c->conn) == 0)
        finish(c);
    else
        watch(c);
}

static gboolean on_fd(gint fd, GIOCondition condition, gpointer data) {
    (void)fd;
    (void)condition; /* readable, writable, or an error drive finds out */
    drive(data);
    return G_SOURCE_CONTINUE; /* unless watch() removed it: then ignored */
}

static gboolean on_timeout(gpointer data) {
    struct client *c = data;
    c->timeout_source = 0; /* this source ends here; watch() adds the next */
    drive(c);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv) {
    int n = argc == 3 ? atoi(argv[2]) : 0;
    if (n < 1) {
        fprintf(stderr, "usage: glib_client URI N\n");
        return 2;
    }
    loop = g_main_loop_new(NULL, FALSE);
    live = n;
    for (int i = 0; i < n; i++) {
        struct client *c = g_new0(struct client, 1);
        c->id = i;
        c->fd = -1;
        snprintf(c->text, sizeof c->text, "hello from GLib, connection %d", i);
        /* Checks the URI and starts; never waits. */
        if (ws_connect_start(argv[1], NULL, &c->conn) != WS_OK) {
            fprintf(stderr, "glib_client: %s\n", ws_last_error_message());
            finish(c);
            continue;
        }
        drive(c);
    }
    if (live > 0)
        g_main_loop_run(loop);
    g_main_loop_unref(loop);
    printf("glib_client: %d of %d connections echoed\n", echoed, n);
    return echoed == n ? 0 : 1;
}
