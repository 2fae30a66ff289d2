/*
 * C tests of observability: the trace callback, the counters and the TLS
 * key log. tests/integration/test_trace.py starts the servers (the byte-
 * counting echo server of tests/servers/counting_server.py over TLS, and
 * proxy.py with Basic authentication) and compares the counters this program
 * prints with what the server counted.
 *
 *   test_trace TLS_PORT CA_FILE AUTH_PROXY_URL KEYLOG_DIR
 *
 * Built with -Wall -Wextra -Werror under AddressSanitizer; prints
 * "STATS name=value ..." for the traced connection, and last
 * "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wsclient.h"
#include "check.h"

static int passed, failed;

#define SECRET_TOKEN "s3cret-bearer-token"
#define SECRET_COOKIE "s3cret-cookie"
#define SECRET_API "s3cret-api-key"
#define SECRET_PROXY "s3cret-proxy-pw"

/* What the callback saw. */
#define MAX_EVENTS 256
struct seen {
    int kinds[MAX_EVENTS];
    int count;
    int leaks;          /* events with a secret in a text or string field */
    uint64_t conn_id;   /* the id the events carry (one connection) */
    int ids_differ;
    int64_t rtt_us;     /* from the pong event; -1 if none */
    int64_t status;     /* from the response event */
    int frames_sent, frames_received;
    int64_t last_sent_opcode;
    char tls_version[32];
    int has_fields;     /* every event has ELAPSED_US */
    int bad_calls;      /* accessor calls with wrong arguments that did not fail */
};

static int leaks(const char *s) {
    return s && (strstr(s, SECRET_TOKEN) || strstr(s, SECRET_COOKIE) || strstr(s, SECRET_API) ||
                 strstr(s, SECRET_PROXY));
}

static void on_event(const ws_trace_event *event, void *userdata) {
    struct seen *seen = userdata;
    int kind = ws_trace_event_kind(event);
    if (seen->count < MAX_EVENTS)
        seen->kinds[seen->count] = kind;
    seen->count++;
    if (getenv("TRACE_VERBOSE"))
        fprintf(stderr, "* [%s] %s\n", ws_trace_kind_name(kind), ws_trace_event_text(event));
    uint64_t id = ws_trace_event_conn_id(event);
    if (seen->conn_id == 0)
        seen->conn_id = id;
    else if (id != seen->conn_id)
        seen->ids_differ++;
    if (leaks(ws_trace_event_text(event)))
        seen->leaks++;
    for (int field = WS_TRACE_FIELD_HOST; field <= WS_TRACE_FIELD_PROXY; field++)
        if (leaks(ws_trace_event_string(event, field)))
            seen->leaks++;
    int64_t n = 0;
    if (!ws_trace_event_number(event, WS_TRACE_FIELD_ELAPSED_US, &n) || n < 0)
        seen->has_fields = 0;
    /* A number asked as a string and a string asked as a number are absent. */
    if (ws_trace_event_string(event, WS_TRACE_FIELD_ELAPSED_US) != NULL ||
        ws_trace_event_number(event, WS_TRACE_FIELD_HOST, &n) ||
        ws_trace_event_number(event, 9999, &n))
        seen->bad_calls++;
    switch (kind) {
    case WS_TRACE_PONG_RECEIVED:
        if (!ws_trace_event_number(event, WS_TRACE_FIELD_RTT_US, &seen->rtt_us))
            seen->rtt_us = -1;
        break;
    case WS_TRACE_RESPONSE:
        ws_trace_event_number(event, WS_TRACE_FIELD_STATUS, &seen->status);
        break;
    case WS_TRACE_TLS_DONE: {
        const char *v = ws_trace_event_string(event, WS_TRACE_FIELD_TLS_VERSION);
        snprintf(seen->tls_version, sizeof seen->tls_version, "%s", v ? v : "");
        break;
    }
    case WS_TRACE_FRAME_SENT:
        seen->frames_sent++;
        ws_trace_event_number(event, WS_TRACE_FIELD_OPCODE, &seen->last_sent_opcode);
        break;
    case WS_TRACE_FRAME_RECEIVED:
        seen->frames_received++;
        break;
    default:
        break;
    }
}

/* The index of the first `kind` at or after `from` in what was seen, or -1. */
static int find(const struct seen *seen, int kind, int from) {
    for (int i = from < 0 ? 0 : from; i < seen->count && i < MAX_EVENTS; i++)
        if (seen->kinds[i] == kind)
            return i;
    return -1;
}

static const int STATS[] = {
    WS_STAT_BYTES_IN, WS_STAT_BYTES_OUT, WS_STAT_PAYLOAD_IN, WS_STAT_PAYLOAD_OUT,
    WS_STAT_FRAMES_IN, WS_STAT_FRAMES_OUT, WS_STAT_MESSAGES_IN, WS_STAT_MESSAGES_OUT,
    WS_STAT_PINGS_SENT, WS_STAT_PONGS_RECEIVED, WS_STAT_RTT_LAST_US, WS_STAT_RTT_SMOOTHED_US,
    WS_STAT_TIME_RESOLVE_US, WS_STAT_TIME_CONNECT_US, WS_STAT_TIME_PROXY_US,
    WS_STAT_TIME_TLS_US, WS_STAT_TIME_HTTP_US, WS_STAT_TIME_TOTAL_US, WS_STAT_REDIRECTS,
};

/* Over TLS with deflate through the authenticating proxy: messages, a ping,
   a close; the events in order, no secret in any, and the counters. */
static void traced_connection(const char *uri, const char *ca_file, const char *proxy) {
    struct seen seen;
    memset(&seen, 0, sizeof seen);
    seen.has_fields = 1;
    seen.rtt_us = -1;
    ws_options *opts = ws_options_new();
    CHECK(ws_options_set_tls_ca_file(opts, ca_file) == WS_OK);
    CHECK(ws_options_set_proxy(opts, proxy) == WS_OK);
    CHECK(ws_options_add_deflate_offer(opts, "") == WS_OK);
    CHECK(ws_options_add_header(opts, "Authorization", "Bearer " SECRET_TOKEN) == WS_OK);
    CHECK(ws_options_add_header(opts, "Cookie", "session=" SECRET_COOKIE) == WS_OK);
    CHECK(ws_options_add_sensitive_header(opts, "X-Api-Key", SECRET_API) == WS_OK);
    CHECK(ws_options_set_trace(opts, on_event, &seen) == WS_OK);
    ws_conn *conn = NULL;
    int32_t rc = ws_connect(uri, opts, &conn, NULL);
    ws_options_free(opts);
    CHECK(rc == WS_OK);
    if (rc != WS_OK)
        return;
    CHECK(ws_conn_compression(conn));
    CHECK(ws_conn_id(conn) == seen.conn_id && seen.conn_id != 0);

    /* Compressible text, then binary, each echoed. */
    char text[4000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "abcdefgh"[i % 8];
    size_t payload = 0;
    for (int round = 0; round < 3; round++) {
        CHECK(ws_send_text(conn, text, sizeof text) == WS_OK);
        const uint8_t bin[5] = {1, 2, 3, 4, 5};
        CHECK(ws_send_binary(conn, bin, sizeof bin) == WS_OK);
        payload += sizeof text + sizeof bin;
        for (int k = 0; k < 2; k++) {
            ws_message *msg = NULL;
            CHECK(ws_recv_message(conn, &msg) == WS_OK);
            ws_message_free(msg);
        }
    }
    /* A ping: its pong arrives before the next echo. */
    CHECK(ws_ping(conn, (const uint8_t *)"rtt", 3) == WS_OK);
    CHECK(ws_send_text(conn, "after the ping", 14) == WS_OK);
    payload += 14;
    ws_message *msg = NULL;
    CHECK(ws_recv_message(conn, &msg) == WS_OK);
    ws_message_free(msg);

    CHECK(ws_conn_stat(conn, WS_STAT_MESSAGES_OUT) == 7);
    CHECK(ws_conn_stat(conn, WS_STAT_MESSAGES_IN) == 7);
    CHECK(ws_conn_stat(conn, WS_STAT_PAYLOAD_OUT) == payload);
    CHECK(ws_conn_stat(conn, WS_STAT_PAYLOAD_IN) == payload);
    /* Compression shows: the text went out in far fewer bytes. */
    CHECK(ws_conn_stat(conn, WS_STAT_BYTES_OUT) < payload / 4);
    CHECK(ws_conn_stat(conn, WS_STAT_PINGS_SENT) == 1);
    CHECK(ws_conn_stat(conn, WS_STAT_PONGS_RECEIVED) == 1);
    CHECK(ws_conn_stat(conn, WS_STAT_RTT_LAST_US) > 0);
    CHECK(ws_conn_stat(conn, WS_STAT_RTT_SMOOTHED_US) == ws_conn_stat(conn, WS_STAT_RTT_LAST_US));
    uint64_t resolve = ws_conn_stat(conn, WS_STAT_TIME_RESOLVE_US),
             tcp = ws_conn_stat(conn, WS_STAT_TIME_CONNECT_US),
             proxied = ws_conn_stat(conn, WS_STAT_TIME_PROXY_US),
             tls = ws_conn_stat(conn, WS_STAT_TIME_TLS_US),
             http = ws_conn_stat(conn, WS_STAT_TIME_HTTP_US),
             total = ws_conn_stat(conn, WS_STAT_TIME_TOTAL_US);
    /* The proxy is an IP literal: nothing to look up. */
    CHECK(resolve == 0);
    CHECK(0 < tcp && tcp <= proxied && proxied <= tls && tls <= http && http <= total);
    CHECK(ws_conn_stat(conn, WS_STAT_REDIRECTS) == 0);
    CHECK(ws_conn_stat(conn, 9999) == 0);
    CHECK(ws_conn_stat(NULL, WS_STAT_BYTES_IN) == 0);

    CHECK(ws_close(conn, 1000, "done") == WS_OK);
    msg = NULL;
    CHECK(ws_recv_message(conn, &msg) == WS_CLOSED);
    CHECK(ws_conn_peer_close_code(conn) == 1000);
    printf("STATS");
    for (size_t i = 0; i < sizeof STATS / sizeof STATS[0]; i++)
        printf(" %s=%llu", ws_stat_name(STATS[i]),
               (unsigned long long)ws_conn_stat(conn, STATS[i]));
    printf("\n");
    fflush(stdout);
    ws_conn_free(conn);

    /* The connect's events in order, then the conversation's. */
    int tcp_at = find(&seen, WS_TRACE_TCP_ATTEMPT, 0);
    int connected = find(&seen, WS_TRACE_TCP_CONNECTED, tcp_at);
    int asked = find(&seen, WS_TRACE_PROXY, connected);
    int tunnel = find(&seen, WS_TRACE_PROXY, asked + 1);
    int tls_done = find(&seen, WS_TRACE_TLS_DONE, tunnel);
    int request = find(&seen, WS_TRACE_REQUEST_SENT, tls_done);
    int response = find(&seen, WS_TRACE_RESPONSE, request);
    int open = find(&seen, WS_TRACE_OPEN, response);
    int frame_out = find(&seen, WS_TRACE_FRAME_SENT, open);
    int frame_in = find(&seen, WS_TRACE_FRAME_RECEIVED, frame_out);
    int ping = find(&seen, WS_TRACE_PING_SENT, frame_in);
    int pong = find(&seen, WS_TRACE_PONG_RECEIVED, ping);
    int close_out = find(&seen, WS_TRACE_CLOSE_SENT, pong);
    int close_in = find(&seen, WS_TRACE_CLOSE_RECEIVED, close_out);
    fprintf(stderr, "events %d: tcp %d/%d proxy %d/%d tls %d http %d/%d open %d frames %d/%d "
            "ping %d/%d close %d/%d\n", seen.count, tcp_at, connected, asked, tunnel, tls_done,
            request, response, open, frame_out, frame_in, ping, pong, close_out, close_in);
    CHECK(tcp_at >= 0 && connected > tcp_at && asked > connected && tunnel > asked &&
          tls_done > tunnel && request > tls_done && response > request && open > response &&
          frame_out > open && frame_in > frame_out && ping > frame_in && pong > ping &&
          close_out > pong && close_in > close_out);
    CHECK(find(&seen, WS_TRACE_FAILURE, 0) == -1);
    CHECK(find(&seen, WS_TRACE_RESOLVED, 0) == -1);
    CHECK(seen.status == 101);
    CHECK(seen.rtt_us > 0);
    CHECK(strncmp(seen.tls_version, "TLSv1.", 6) == 0);
    CHECK(seen.leaks == 0);
    CHECK(seen.ids_differ == 0);
    CHECK(seen.has_fields);
    CHECK(seen.bad_calls == 0);
    /* 7 messages and a ping, and a close, each way (plus the pong in). */
    CHECK(seen.frames_sent == 9 && seen.last_sent_opcode == 8);
    CHECK(seen.frames_received == 9);
}

/* A refused connection reports its failure, with the result code. */
static int64_t failure_result;
static int failures;
static void on_failure(const ws_trace_event *event, void *userdata) {
    (void)userdata;
    if (ws_trace_event_kind(event) == WS_TRACE_FAILURE) {
        failures++;
        ws_trace_event_number(event, WS_TRACE_FIELD_RESULT, &failure_result);
    }
}

static void failed_connection(void) {
    ws_options *opts = ws_options_new();
    CHECK(ws_options_set_trace(opts, on_failure, NULL) == WS_OK);
    ws_conn *conn = NULL;
    /* Port 1 on the loopback: refused at once. */
    CHECK(ws_connect("ws://127.0.0.1:1/", opts, &conn, NULL) == WS_ERR_CONNECT);
    CHECK(failures == 1 && failure_result == WS_ERR_CONNECT);
    /* NULL turns tracing off. */
    CHECK(ws_options_set_trace(opts, NULL, NULL) == WS_OK);
    CHECK(ws_connect("ws://127.0.0.1:1/", opts, &conn, NULL) == WS_ERR_CONNECT);
    CHECK(failures == 1);
    ws_options_free(opts);
}

/* Accessors refuse what is not an event being delivered. */
static void bad_arguments(void) {
    int64_t n = 0;
    CHECK(ws_trace_event_kind(NULL) == 0);
    CHECK(ws_trace_event_conn_id(NULL) == 0);
    CHECK(strcmp(ws_trace_event_text(NULL), "") == 0);
    CHECK(!ws_trace_event_number(NULL, WS_TRACE_FIELD_ELAPSED_US, &n));
    CHECK(ws_trace_event_string(NULL, WS_TRACE_FIELD_HOST) == NULL);
    ws_options *opts = ws_options_new();
    /* Another handle passed as an event. */
    CHECK(ws_trace_event_kind((const ws_trace_event *)opts) == 0);
    ws_options_free(opts);
    CHECK(strcmp(ws_trace_kind_name(WS_TRACE_FRAME_SENT), "frame-sent") == 0);
    CHECK(ws_trace_kind_name(0) == NULL);
    CHECK(strcmp(ws_stat_name(WS_STAT_BYTES_IN), "bytes_in") == 0);
    CHECK(ws_stat_name(-1) == NULL);
    CHECK(ws_options_set_trace(NULL, on_failure, NULL) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_conn_id(NULL) == 0);
}

/* The key log: written when asked for, with TLS 1.3's secrets; never
   otherwise. */
static int file_has(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, needle, strlen(needle)) == 0)
            found = 1;
    fclose(f);
    return found;
}

static void key_log(const char *uri, const char *ca_file, const char *dir) {
    char on[512], off[512];
    snprintf(on, sizeof on, "%s/keys-on.log", dir);
    snprintf(off, sizeof off, "%s/keys-off.log", dir);
    setenv("SSLKEYLOGFILE", off, 1);
    for (int with_log = 1; with_log >= 0; with_log--) {
        ws_options *opts = ws_options_new();
        CHECK(ws_options_set_tls_ca_file(opts, ca_file) == WS_OK);
        if (with_log)
            CHECK(ws_options_set_tls_keylog_file(opts, on) == WS_OK);
        ws_conn *conn = NULL;
        CHECK(ws_connect(uri, opts, &conn, NULL) == WS_OK);
        ws_options_free(opts);
        if (conn) {
            CHECK(ws_send_text(conn, "k", 1) == WS_OK);
            ws_message *msg = NULL;
            CHECK(ws_recv_message(conn, &msg) == WS_OK);
            ws_message_free(msg);
            CHECK(ws_close(conn, 1000, "") == WS_OK);
            CHECK(ws_recv_message(conn, &msg) == WS_CLOSED);
            ws_conn_free(conn);
        }
    }
    CHECK(file_has(on, "CLIENT_HANDSHAKE_TRAFFIC_SECRET "));
    CHECK(file_has(on, "SERVER_HANDSHAKE_TRAFFIC_SECRET "));
    CHECK(file_has(on, "CLIENT_TRAFFIC_SECRET_0 "));
    CHECK(file_has(on, "SERVER_TRAFFIC_SECRET_0 "));
    /* SSLKEYLOGFILE is set, but this program did not opt in. */
    struct stat st;
    CHECK(stat(off, &st) != 0);
    /* Opting in to the environment variable. */
    ws_options *opts = ws_options_new();
    CHECK(ws_options_set_tls_ca_file(opts, ca_file) == WS_OK);
    CHECK(ws_options_set_tls_keylog_env(opts, true) == WS_OK);
    ws_conn *conn = NULL;
    CHECK(ws_connect(uri, opts, &conn, NULL) == WS_OK);
    ws_options_free(opts);
    if (conn) {
        CHECK(ws_send_text(conn, "k", 1) == WS_OK);
        ws_message *msg = NULL;
        CHECK(ws_recv_message(conn, &msg) == WS_OK);
        ws_message_free(msg);
        CHECK(ws_close(conn, 1000, "") == WS_OK);
        ws_conn_free(conn);
    }
    CHECK(file_has(off, "CLIENT_TRAFFIC_SECRET_0 "));
    unsetenv("SSLKEYLOGFILE");
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s TLS_PORT CA_FILE AUTH_PROXY_URL KEYLOG_DIR\n", argv[0]);
        return 2;
    }
    char uri[128];
    snprintf(uri, sizeof uri, "wss://localhost:%s/", argv[1]);
    char proxy[512];
    snprintf(proxy, sizeof proxy, "%s", argv[3]);
    traced_connection(uri, argv[2], proxy);
    failed_connection();
    bad_arguments();
    key_log(uri, argv[2], argv[4]);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
