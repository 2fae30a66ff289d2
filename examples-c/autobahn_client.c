/*
 * An Autobahn Testsuite testee: runs every case of a fuzzingserver,
 * echoing each message back, then asks the server to write its reports.
 *
 *   autobahn_client [--parts=SIZE] [BASE_URI] [AGENT] [PROXY]
 *
 * (defaults ws://127.0.0.1:9001, libwsclient, no proxy; PROXY is an
 * http://[user:password@]host:port URL, for the gate through a proxy).
 * With --parts, every message is received with ws_recv_part into a buffer
 * of SIZE bytes (100 in the gate: pieces then split frames and characters),
 * put together, and echoed whole.
 *
 * Every connection offers permessage-deflate, as the ws-client egg's own Autobahn
 * client does, so that sections 12 and 13 run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static ws_conn *open_conn(const char *uri, const ws_options *opts) {
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
    if (ws_recv_message(conn, &msg) == WS_OK) {
        char text[32] = {0};
        size_t n = ws_message_size(msg);
        memcpy(text, ws_message_data(msg), n < sizeof text - 1 ? n : sizeof text - 1);
        count = strtol(text, NULL, 10);
        ws_message_free(msg);
        ws_recv_message(conn, &msg); /* the server's close */
    }
    ws_conn_free(conn);
    return count;
}

static void run_and_wait(const char *uri, const ws_options *opts) {
    ws_conn *conn = open_conn(uri, opts);
    if (!conn)
        return;
    if (part_size)
        echo_in_parts(conn);
    else
        ws_recv_message_loop(conn, echo, NULL);
    ws_conn_free(conn);
}

int main(int argc, char **argv) {
    if (argc > 1 && strncmp(argv[1], "--parts=", 8) == 0) {
        part_size = strtoul(argv[1] + 8, NULL, 10);
        argv++;
        argc--;
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
