/*
 * Stay connected: send COUNT numbered messages to an echo server and print
 * each echo, connecting again whenever the connection drops, for as long
 * as ws_result_is_retryable says another attempt may succeed. A 403 or a
 * certificate that does not verify ends the program; a lost connection, a
 * refused connect, a 503 or a server closing with 1012 (restarting) or
 * 1013 (try again later) do not.
 *
 * Between attempts it waits with exponential backoff and full jitter: the
 * n-th attempt in a row (n = 1, 2, ...) waits a random time between 0 and
 * min(MAX_MS, INITIAL_MS * 2^(n-1)), so that clients dropped together do
 * not come back together. A connection that opens starts the count again.
 * A message whose echo did not arrive is sent again on the next
 * connection (at least once).
 *
 *   reconnect_client URI [COUNT [INITIAL_MS [MAX_MS]]]
 *                       (defaults: 10 messages, 500 ms, 30000 ms)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wsclient.h"

/* A random wait up to the n-th cap (n >= 1), in milliseconds. */
static long backoff_ms(unsigned n, long initial_ms, long max_ms) {
    long cap = initial_ms;
    for (unsigned i = 1; i < n && cap < max_ms; i++)
        cap *= 2;
    if (cap > max_ms)
        cap = max_ms;
    return cap > 0 ? random() % (cap + 1) : 0;
}

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* One connection: echo messages *next .. count-1. Returns how it ended
 * (WS_OK: all echoed, and closed), with the server's HTTP status or close
 * code for the classifier. */
static int32_t session(const char *uri, const ws_options *opts, long *next, long count, uint16_t *status,
                       uint16_t *close_code, int *opened) {
    ws_conn *conn = NULL;
    ws_response *response = NULL;
    *status = *close_code = 0;
    *opened = 0;
    int32_t rc = ws_connect(uri, opts, &conn, &response);
    if (rc != WS_OK) {
        if (response) {
            *status = ws_response_status(response);
            fprintf(stderr, "reconnect_client: the server answered HTTP %u %s\n", *status,
                    ws_response_reason(response));
            ws_response_free(response);
        } else {
            fprintf(stderr, "reconnect_client: %s: %s\n", ws_result_string(rc), ws_last_error_message());
        }
        return rc;
    }
    *opened = 1;
    printf("reconnect_client: connected%s\n", ws_conn_tls_resumed(conn) ? " (TLS session resumed)" : "");
    while (*next < count) {
        char text[64];
        int len = snprintf(text, sizeof text, "message %ld", *next + 1);
        ws_message *msg = NULL;
        rc = ws_send_text(conn, text, (size_t)len);
        if (rc == WS_OK)
            rc = ws_recv_message(conn, &msg);
        if (rc != WS_OK)
            break;
        printf("reconnect_client: echo %.*s\n", (int)ws_message_size(msg), (const char *)ws_message_data(msg));
        fflush(stdout);
        ws_message_free(msg);
        ++*next;
    }
    if (rc == WS_OK) {
        rc = ws_close(conn, 1000, "done");
        if (rc == WS_OK) {
            ws_message *msg = NULL;
            while ((rc = ws_recv_message(conn, &msg)) == WS_OK)
                ws_message_free(msg);
        }
        rc = rc == WS_CLOSED ? WS_OK : rc;
    } else if (rc == WS_CLOSED) {
        *close_code = ws_conn_peer_close_code(conn);
        fprintf(stderr, "reconnect_client: the server closed with %u %s\n", *close_code,
                ws_conn_peer_close_reason(conn));
    } else {
        *close_code = ws_conn_peer_close_code(conn);
        fprintf(stderr, "reconnect_client: %s: %s\n", ws_result_string(rc), ws_conn_errmsg(conn));
    }
    ws_conn_free(conn);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: reconnect_client URI [COUNT [INITIAL_MS [MAX_MS]]]\n");
        return 2;
    }
    const char *uri = argv[1];
    long count = argc > 2 ? atol(argv[2]) : 10;
    long initial_ms = argc > 3 ? atol(argv[3]) : 500;
    long max_ms = argc > 4 ? atol(argv[4]) : 30000;
    srandom((unsigned)time(NULL) ^ ((unsigned)getpid() << 16));
    /* One options object for every attempt: wss:// connections then share
       TLS settings, and so TLS sessions (a reconnect resumes). */
    ws_options *opts = ws_options_new();
    ws_options_set_timeouts(opts, 10000, 10000, 30000, 10000);
    long next = 0;
    unsigned attempt = 0;
    int32_t rc;
    for (;;) {
        uint16_t status, close_code;
        int opened;
        rc = session(uri, opts, &next, count, &status, &close_code, &opened);
        if (rc == WS_OK || !ws_result_is_retryable(rc, status, close_code))
            break;
        attempt = opened ? 1 : attempt + 1;
        long wait = backoff_ms(attempt, initial_ms, max_ms);
        printf("reconnect_client: reconnecting in %ld ms (attempt %u)\n", wait, attempt);
        fflush(stdout);
        sleep_ms(wait);
    }
    ws_options_free(opts);
    if (rc == WS_OK)
        printf("reconnect_client: %ld messages echoed\n", count);
    return rc == WS_OK ? 0 : 1;
}
