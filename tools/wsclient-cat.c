/*
 * wsclient-cat: a command-line WebSocket client on libwsclient's public C API,
 * in the spirit of websocat and wscat. Each line of stdin is sent as a
 * message; every message that arrives is printed on stdout; the close code
 * and errors go to stderr (or, with --json, everything is a JSON event on
 * stdout, one per line). At the end of stdin the connection is closed with
 * 1000 and the server's answer awaited.
 *
 * One thread: poll() on stdin and the connection's socket, with the
 * connection in non-blocking mode: receives return WS_ERR_WOULD_BLOCK, sends
 * are queued and written by ws_conn_flush when the socket takes them, and
 * the library's deadlines (keepalive pings, the close timeout) come due at
 * ws_conn_next_timeout_ms.
 *
 * With --reconnect a connection that drops (as ws_result_is_retryable
 * judges) is opened again after a backoff delay, and the lines of stdin not
 * yet sent go to the new one.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wsclient.h"

#define PROGRAM "wsclient-cat"

enum exit_status { EXIT_CLOSED = 0, EXIT_ERROR = 1, EXIT_USAGE = 2 };

/* Long-only options. */
enum {
    OPT_ORIGIN = 256,
    OPT_DEFLATE,
    OPT_CACERT,
    OPT_CAPATH,
    OPT_CERT,
    OPT_KEY,
    OPT_ENV_PROXY,
    OPT_PING_INTERVAL,
    OPT_PING_TIMEOUT,
    OPT_CONNECT_TIMEOUT,
    OPT_CLOSE_CODE,
    OPT_CLOSE_REASON,
    OPT_MAX_SIZE,
    OPT_LINGER,
    OPT_RECONNECT,
    OPT_RECONNECT_DELAY,
    OPT_RECONNECT_MAX_DELAY,
    OPT_RECONNECT_ATTEMPTS,
    OPT_STATS,
    OPT_PRINT_PING_RTTS,
    OPT_KEYLOG,
};

static const struct option long_options[] = {
    {"binary", no_argument, NULL, 'b'},
    {"header", required_argument, NULL, 'H'},
    {"protocol", required_argument, NULL, 'p'},
    {"origin", required_argument, NULL, OPT_ORIGIN},
    {"deflate", optional_argument, NULL, OPT_DEFLATE},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"capath", required_argument, NULL, OPT_CAPATH},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"insecure", no_argument, NULL, 'k'},
    {"proxy", required_argument, NULL, 'x'},
    {"env-proxy", no_argument, NULL, OPT_ENV_PROXY},
    {"ping-interval", required_argument, NULL, OPT_PING_INTERVAL},
    {"ping-timeout", required_argument, NULL, OPT_PING_TIMEOUT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"close-code", required_argument, NULL, OPT_CLOSE_CODE},
    {"close-reason", required_argument, NULL, OPT_CLOSE_REASON},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {"linger", required_argument, NULL, OPT_LINGER},
    {"reconnect", no_argument, NULL, OPT_RECONNECT},
    {"reconnect-delay", required_argument, NULL, OPT_RECONNECT_DELAY},
    {"reconnect-max-delay", required_argument, NULL, OPT_RECONNECT_MAX_DELAY},
    {"reconnect-attempts", required_argument, NULL, OPT_RECONNECT_ATTEMPTS},
    {"json", no_argument, NULL, 'j'},
    {"verbose", no_argument, NULL, 'v'},
    {"stats", no_argument, NULL, OPT_STATS},
    {"print-ping-rtts", no_argument, NULL, OPT_PRINT_PING_RTTS},
    {"keylog", required_argument, NULL, OPT_KEYLOG},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out) {
    fprintf(out,
            "Usage: " PROGRAM " [OPTIONS] URL\n"
            "\n"
            "Connect to a WebSocket server (ws:// or wss://), send each line of stdin as a\n"
            "message, and print every message that arrives, one per line. At the end of\n"
            "stdin, once the server has been quiet for --linger seconds, the connection is\n"
            "closed (code 1000) and the server's close awaited.\n"
            "\n"
            "Messages:\n"
            "  -b, --binary              send lines as binary messages (default: text)\n"
            "  -j, --json                print events as JSON lines on stdout: open, message\n"
            "                            (text as \"data\", binary as \"base64\"), close,\n"
            "                            http_response, error\n"
            "  -q, --quiet               no status lines on stderr (connected, closed)\n"
            "      --max-size BYTES      largest message accepted (default 64 MiB)\n"
            "      --linger SECS         after the end of stdin, wait for replies until none\n"
            "                            came for SECS seconds, then close (default 0.5)\n"
            "      --close-code CODE     close with CODE at the end of stdin (default 1000)\n"
            "      --close-reason TEXT   and this reason\n"
            "\n"
            "Handshake:\n"
            "  -H, --header 'NAME: VALUE'  add a request header (repeatable)\n"
            "  -p, --protocol NAME       offer a subprotocol (repeatable, in order)\n"
            "      --origin ORIGIN       send an Origin header\n"
            "      --deflate[=PARAMS]    offer permessage-deflate, e.g.\n"
            "                            --deflate='server_max_window_bits=10'; repeat for\n"
            "                            fallback offers; bare --deflate: the plain offer\n"
            "      --connect-timeout SECS  connect and handshake timeout (default 30)\n"
            "\n"
            "TLS and proxies:\n"
            "      --cacert FILE         trust the CA certificates in this PEM file\n"
            "      --capath DIR          trust the CA certificates in this hashed directory\n"
            "      --cert FILE           present this client certificate (PEM)\n"
            "      --key FILE            its private key (default: in --cert)\n"
            "  -k, --insecure            accept any server certificate (testing only)\n"
            "  -x, --proxy URL           through an HTTP proxy: http://[user:pass@]host:port\n"
            "      --env-proxy           use http_proxy/https_proxy/all_proxy/no_proxy\n"
            "\n"
            "Keepalive:\n"
            "      --ping-interval SECS  keepalive: send a ping every SECS seconds (e.g. 0.5)\n"
            "      --ping-timeout SECS   fail when a pong takes longer (default: the interval)\n"
            "\n"
            "Reconnecting:\n"
            "      --reconnect           when the connection drops before the end of stdin,\n"
            "                            connect again and go on with the lines not yet sent:\n"
            "                            after a network or TLS error, a timeout, an HTTP 500,\n"
            "                            502, 503 or 504, or a close with 1001, 1011, 1012,\n"
            "                            1013 or 1014; not after a 4xx, a certificate that\n"
            "                            does not verify, or another close code\n"
            "      --reconnect-delay SECS  attempt n after a drop waits a random time between\n"
            "                            0 and SECS * 2^(n-1) (full jitter; default 1)\n"
            "      --reconnect-max-delay SECS  but never more than SECS (default 60)\n"
            "      --reconnect-attempts N  give up when N attempts in a row fail (default: never)\n"
            "\n"
            "Seeing what happens:\n"
            "  -v, --verbose             trace every step on stderr: name lookup, TCP, proxy,\n"
            "                            TLS, the handshake's headers (credentials redacted),\n"
            "                            each frame's header, pings, pongs, the close, the\n"
            "                            failure (with --json: \"trace\" events on stdout)\n"
            "      --stats               print the connection's counters and connect timings\n"
            "                            at exit\n"
            "      --print-ping-rtts     print the round trip of each ping's pong\n"
            "      --keylog FILE         append the TLS secrets to FILE for Wireshark (also\n"
            "                            from SSLKEYLOGFILE, as curl does)\n"
            "\n"
            "  -h, --help                show this help\n"
            "  -V, --version             show the program and library version\n"
            "\n"
            "Exit status: 0 after a close handshake (whatever its code, unless --reconnect\n"
            "connects again), 1 on an error or an HTTP answer other than 101, 2 on bad\n"
            "usage.\n");
}

/* ------------------------------------------------------------------ output */

static int json;
static int quiet;

/* Write a JSON string literal for `len` bytes of UTF-8. */
static void json_string(const char *s, size_t len) {
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        default:
            if (c < 0x20 || c == 0x7f)
                printf("\\u%04x", c);
            else
                putchar(c);
        }
    }
    putchar('"');
}

static void json_cstring(const char *s) {
    if (s)
        json_string(s, strlen(s));
    else
        fputs("null", stdout);
}

static void base64(const unsigned char *data, size_t len) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    putchar('"');
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)data[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        putchar(alphabet[(v >> 18) & 63]);
        putchar(alphabet[(v >> 12) & 63]);
        putchar(i + 1 < len ? alphabet[(v >> 6) & 63] : '=');
        putchar(i + 2 < len ? alphabet[v & 63] : '=');
    }
    putchar('"');
}

/* End an output record; a closed stdout ends the program. */
static void flush_line(void) {
    putchar('\n');
    if (fflush(stdout) != 0) {
        fprintf(stderr, PROGRAM ": cannot write to stdout: %s\n", strerror(errno));
        exit(EXIT_ERROR);
    }
}

static void status(const char *fmt, ...) {
    if (quiet || json)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs(PROGRAM ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* How the last connection (or attempt) ended: its result, the HTTP status
 * of a non-101 answer, the server's close code, and whether we closed it at
 * the end of stdin. What --reconnect decides on. */
static struct {
    int32_t rc;
    uint16_t http_status;
    uint16_t close_code;
    int by_us;
} ending;

/* An error from the library: `code` with the detail in `detail`. */
static void report_error(int32_t code, const char *detail, uint16_t close_code) {
    if (json) {
        printf("{\"event\":\"error\",\"code\":%d,\"name\":", code);
        json_cstring(ws_result_string(code));
        fputs(",\"message\":", stdout);
        json_cstring(detail);
        if (close_code)
            printf(",\"close_code\":%u", close_code);
        fputc('}', stdout);
        flush_line();
    }
    /* Errors always reach stderr, even with --json or --quiet. */
    fprintf(stderr, PROGRAM ": %s: %s", ws_result_string(code), detail ? detail : "");
    if (close_code)
        fprintf(stderr, " (closed with %u)", close_code);
    fputc('\n', stderr);
}

static void report_response(const ws_response *r, const char *from) {
    if (json) {
        printf("{\"event\":\"http_response\",\"from\":\"%s\",\"status\":%u,\"reason\":", from,
               ws_response_status(r));
        json_cstring(ws_response_reason(r));
        fputs(",\"headers\":[", stdout);
        for (size_t i = 0; i < ws_response_header_count(r); i++) {
            fputs(i ? ",[" : "[", stdout);
            json_cstring(ws_response_header_name(r, i));
            putchar(',');
            json_cstring(ws_response_header_value(r, i));
            putchar(']');
        }
        fputs("],\"body_base64\":", stdout);
        base64(ws_response_body(r), ws_response_body_length(r));
        fputc('}', stdout);
        flush_line();
        return;
    }
    fprintf(stderr, PROGRAM ": the %s answered HTTP %u %s\n", from, ws_response_status(r),
            ws_response_reason(r));
    for (size_t i = 0; i < ws_response_header_count(r); i++)
        fprintf(stderr, "  %s: %s\n", ws_response_header_name(r, i), ws_response_header_value(r, i));
    fwrite(ws_response_body(r), 1, ws_response_body_length(r), stderr);
}

static void report_open(ws_conn *conn, const char *url) {
    const char *protocol = ws_conn_subprotocol(conn);
    bool compression = ws_conn_compression(conn);
    if (json) {
        fputs("{\"event\":\"open\",\"url\":", stdout);
        json_cstring(url);
        fputs(",\"subprotocol\":", stdout);
        json_cstring(protocol);
        printf(",\"compression\":%s}", compression ? "true" : "false");
        flush_line();
        return;
    }
    status("connected to %s%s%s%s", url, protocol ? " (subprotocol " : "", protocol ? protocol : "",
           protocol ? ")" : "");
    if (ws_conn_tls_resumed(conn))
        status("TLS session resumed");
    if (compression)
        status("permessage-deflate is on");
}

static void report_message(const ws_message *msg) {
    const uint8_t *data = ws_message_data(msg);
    size_t size = ws_message_size(msg);
    if (json) {
        if (ws_message_type(msg) == WS_MESSAGE_TEXT) {
            fputs("{\"event\":\"message\",\"type\":\"text\",\"data\":", stdout);
            json_string((const char *)data, size);
        } else {
            fputs("{\"event\":\"message\",\"type\":\"binary\",\"base64\":", stdout);
            base64(data, size);
        }
        fputc('}', stdout);
    } else if (size > 0 && fwrite(data, 1, size, stdout) != size) {
        fprintf(stderr, PROGRAM ": cannot write to stdout: %s\n", strerror(errno));
        exit(EXIT_ERROR);
    }
    flush_line();
}

static void report_close(ws_conn *conn) {
    uint16_t code = ws_conn_peer_close_code(conn);
    const char *reason = ws_conn_peer_close_reason(conn);
    if (json) {
        fputs("{\"event\":\"close\",\"code\":", stdout);
        if (code)
            printf("%u", code);
        else
            fputs("null", stdout);
        fputs(",\"reason\":", stdout);
        json_cstring(reason ? reason : "");
        fputc('}', stdout);
        flush_line();
        return;
    }
    const char *name = code ? ws_close_code_to_reason(code) : NULL;
    if (code)
        status("closed: %u%s%s%s %s", code, name ? " (" : "", name ? name : "", name ? ")" : "",
               reason ? reason : "");
    else
        status("closed without a code");
}

/* ------------------------------------------------------------------ options */

struct settings {
    const char *url;
    int stats;
    int binary;
    double ping_interval;
    double ping_timeout;
    double linger;
    uint16_t close_code;
    const char *close_reason;
    int reconnect;
    double reconnect_delay;
    double reconnect_max_delay;
    unsigned long long reconnect_attempts; /* 0: no limit */
};

static void die_usage(const char *fmt, const char *arg) {
    fprintf(stderr, PROGRAM ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '" PROGRAM " --help'.\n");
    exit(EXIT_USAGE);
}

static double seconds(const char *arg, const char *name) {
    char *end = NULL;
    double v = strtod(arg, &end);
    if (!end || *end || !(v >= 0) || v > 86400.0 * 365)
        die_usage("bad number of seconds for %s", name);
    return v;
}

static unsigned long long number(const char *arg, const char *name, unsigned long long max) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (!end || *end || errno || arg[0] == '-' || v > max)
        die_usage("bad number for %s", name);
    return v;
}

/* Apply one library setter's result: a refused option is a usage error. */
static void check(int32_t rc, const char *what) {
    if (rc != WS_OK) {
        fprintf(stderr, PROGRAM ": %s: %s\n", what, ws_last_error_message());
        exit(EXIT_USAGE);
    }
}

/* ------------------------------------------------------------------ tracing */

enum { TRACE_ALL = 1, TRACE_RTTS = 2 };
static int trace_flags;

/* Each line of a multi-line field on stderr, after `prefix`. */
static void print_lines(const char *prefix, const char *text) {
    while (text && *text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        fprintf(stderr, "%s%.*s\n", prefix, (int)n, text);
        text = nl ? nl + 1 : text + n;
    }
}

/* The library's trace: every event with -v; the round trips with
 * --print-ping-rtts. */
static void on_trace(const ws_trace_event *event, void *userdata) {
    (void)userdata;
    int kind = ws_trace_event_kind(event);
    int64_t elapsed = 0, rtt = 0;
    ws_trace_event_number(event, WS_TRACE_FIELD_ELAPSED_US, &elapsed);
    if ((trace_flags & TRACE_RTTS) && kind == WS_TRACE_PONG_RECEIVED &&
        ws_trace_event_number(event, WS_TRACE_FIELD_RTT_US, &rtt)) {
        if (json) {
            printf("{\"event\":\"ping_rtt\",\"rtt_ms\":%.3f}", (double)rtt / 1000.0);
            flush_line();
        } else {
            fprintf(stderr, "rtt %.3f ms\n", (double)rtt / 1000.0);
        }
    }
    if (!(trace_flags & TRACE_ALL))
        return;
    const char *headers = ws_trace_event_string(event, WS_TRACE_FIELD_HEADERS);
    if (json) {
        printf("{\"event\":\"trace\",\"kind\":");
        json_cstring(ws_trace_kind_name(kind));
        printf(",\"ms\":%.3f,\"text\":", (double)elapsed / 1000.0);
        json_cstring(ws_trace_event_text(event));
        if (headers) {
            printf(",\"headers\":");
            json_cstring(headers);
        }
        flush_line();
        return;
    }
    fprintf(stderr, "* %9.3f ms %s\n", (double)elapsed / 1000.0, ws_trace_event_text(event));
    if (kind == WS_TRACE_REQUEST_SENT)
        print_lines("> ", headers);
    else if (kind == WS_TRACE_RESPONSE)
        print_lines("< ", headers);
}

/* --stats: the counters and timings at exit. */
static void print_stats(ws_conn *conn) {
    static const int32_t stats[] = {
        WS_STAT_BYTES_IN, WS_STAT_BYTES_OUT, WS_STAT_PAYLOAD_IN, WS_STAT_PAYLOAD_OUT,
        WS_STAT_FRAMES_IN, WS_STAT_FRAMES_OUT, WS_STAT_MESSAGES_IN, WS_STAT_MESSAGES_OUT,
        WS_STAT_PINGS_SENT, WS_STAT_PONGS_RECEIVED, WS_STAT_RTT_LAST_US,
        WS_STAT_RTT_SMOOTHED_US, WS_STAT_TIME_RESOLVE_US, WS_STAT_TIME_CONNECT_US,
        WS_STAT_TIME_PROXY_US, WS_STAT_TIME_TLS_US, WS_STAT_TIME_HTTP_US,
        WS_STAT_TIME_TOTAL_US, WS_STAT_REDIRECTS,
    };
    size_t n = sizeof stats / sizeof stats[0];
    if (json) {
        printf("{\"event\":\"stats\"");
        for (size_t i = 0; i < n; i++)
            printf(",\"%s\":%llu", ws_stat_name(stats[i]),
                   (unsigned long long)ws_conn_stat(conn, stats[i]));
        printf("}");
        flush_line();
        return;
    }
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%-16s %llu\n", ws_stat_name(stats[i]),
                (unsigned long long)ws_conn_stat(conn, stats[i]));
}

static ws_options *parse_args(int argc, char **argv, struct settings *s) {
    ws_options *opts = ws_options_new();
    const char *cert = NULL, *key = NULL;
    uint32_t timeout_ms = 30000;
    s->close_code = 1000;
    s->linger = 0.5;
    s->reconnect_delay = 1.0;
    s->reconnect_max_delay = 60.0;
    int c;
    while ((c = getopt_long(argc, argv, "bH:p:kx:jqvhV", long_options, NULL)) != -1) {
        switch (c) {
        case 'v': trace_flags |= TRACE_ALL; break;
        case OPT_PRINT_PING_RTTS: trace_flags |= TRACE_RTTS; break;
        case OPT_STATS: s->stats = 1; break;
        case OPT_KEYLOG: check(ws_options_set_tls_keylog_file(opts, optarg), "--keylog"); break;
        case 'b': s->binary = 1; break;
        case 'j': json = 1; break;
        case 'q': quiet = 1; break;
        case 'k': check(ws_options_set_tls_danger_accept_invalid_certs(opts, true), "--insecure"); break;
        case 'x': check(ws_options_set_proxy(opts, optarg), "--proxy"); break;
        case OPT_ENV_PROXY: check(ws_options_use_env_proxy(opts, true), "--env-proxy"); break;
        case 'p': check(ws_options_add_subprotocol(opts, optarg), "--protocol"); break;
        case OPT_ORIGIN: check(ws_options_set_origin(opts, optarg), "--origin"); break;
        case OPT_DEFLATE: check(ws_options_add_deflate_offer(opts, optarg ? optarg : ""), "--deflate"); break;
        case OPT_CACERT: check(ws_options_set_tls_ca_file(opts, optarg), "--cacert"); break;
        case OPT_CAPATH: check(ws_options_set_tls_ca_dir(opts, optarg), "--capath"); break;
        case OPT_CERT: cert = optarg; break;
        case OPT_KEY: key = optarg; break;
        case OPT_PING_INTERVAL: s->ping_interval = seconds(optarg, "--ping-interval"); break;
        case OPT_PING_TIMEOUT: s->ping_timeout = seconds(optarg, "--ping-timeout"); break;
        case OPT_CONNECT_TIMEOUT:
            timeout_ms = (uint32_t)(seconds(optarg, "--connect-timeout") * 1000.0);
            break;
        case OPT_CLOSE_CODE: s->close_code = (uint16_t)number(optarg, "--close-code", 4999); break;
        case OPT_CLOSE_REASON: s->close_reason = optarg; break;
        case OPT_LINGER: s->linger = seconds(optarg, "--linger"); break;
        case OPT_RECONNECT: s->reconnect = 1; break;
        case OPT_RECONNECT_DELAY: s->reconnect_delay = seconds(optarg, "--reconnect-delay"); break;
        case OPT_RECONNECT_MAX_DELAY: s->reconnect_max_delay = seconds(optarg, "--reconnect-max-delay"); break;
        case OPT_RECONNECT_ATTEMPTS:
            s->reconnect_attempts = number(optarg, "--reconnect-attempts", 1000000000);
            break;
        case OPT_MAX_SIZE:
            check(ws_options_set_max_message_size(opts, (size_t)number(optarg, "--max-size", SIZE_MAX)),
                  "--max-size");
            break;
        case 'H': {
            const char *colon = strchr(optarg, ':');
            if (!colon || colon == optarg)
                die_usage("a header is 'NAME: VALUE', not '%s'", optarg);
            char name[256];
            size_t n = (size_t)(colon - optarg);
            if (n >= sizeof name)
                die_usage("header name too long: %s", optarg);
            memcpy(name, optarg, n);
            name[n] = '\0';
            const char *value = colon + 1;
            while (*value == ' ' || *value == '\t')
                value++;
            check(ws_options_add_header(opts, name, value), "--header");
            break;
        }
        case 'h': usage(stdout); exit(EXIT_CLOSED);
        case 'V': printf(PROGRAM " (libwsclient %s)\n", ws_version()); exit(EXIT_CLOSED);
        default: fprintf(stderr, "Try '" PROGRAM " --help'.\n"); exit(EXIT_USAGE);
        }
    }
    if (trace_flags)
        check(ws_options_set_trace(opts, on_trace, NULL), "--verbose");
    /* A command-line debugging tool: SSLKEYLOGFILE is honoured, as by curl. */
    check(ws_options_set_tls_keylog_env(opts, true), "SSLKEYLOGFILE");
    if (optind != argc - 1)
        die_usage("%s", optind >= argc ? "missing URL" : "too many arguments");
    s->url = argv[optind];
    if (key && !cert)
        die_usage("%s", "--key needs --cert");
    if (cert)
        check(ws_options_set_tls_client_cert(opts, cert, key), "--cert");
    check(ws_options_set_timeouts(opts, timeout_ms, timeout_ms, 0, 0), "--connect-timeout");
    if (s->ping_timeout > 0 && s->ping_interval <= 0)
        die_usage("%s", "--ping-timeout needs --ping-interval");
    if (s->ping_interval > 0) {
        /* At least 1 ms each: 0 would turn keepalive off. */
        uint32_t interval = (uint32_t)(s->ping_interval * 1000.0) + 1;
        uint32_t timeout = s->ping_timeout > 0 ? (uint32_t)(s->ping_timeout * 1000.0) + 1 : interval;
        check(ws_options_set_keepalive(opts, interval, timeout), "--ping-interval");
    }
    return opts;
}

/* ------------------------------------------------------------------ the loop */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Send one line (without its newline). */
static int32_t send_line(ws_conn *conn, const struct settings *s, const char *line, size_t len) {
    if (len > 0 && line[len - 1] == '\r')
        len--;
    return ws_send(conn, s->binary ? WS_MESSAGE_BINARY : WS_MESSAGE_TEXT, (const uint8_t *)line, len, 0);
}

/* Receive until nothing is pending; `*got` counts the messages. Returns -1
 * to go on polling, else the exit status. */
static int drain(ws_conn *conn, int *got) {
    for (;;) {
        ws_message *msg = NULL;
        int32_t rc = ws_recv_message(conn, &msg);
        if (rc == WS_OK) {
            report_message(msg);
            ws_message_free(msg);
            ++*got;
        } else if (rc == WS_ERR_WOULD_BLOCK) {
            return -1;
        } else if (rc == WS_CLOSED) {
            ending.rc = rc;
            ending.close_code = ws_conn_peer_close_code(conn);
            report_close(conn);
            return EXIT_CLOSED;
        } else {
            ending.rc = rc;
            ending.close_code = ws_conn_peer_close_code(conn);
            report_error(rc, ws_conn_errmsg(conn), ws_conn_error_close_code(conn));
            return EXIT_ERROR;
        }
    }
}

/* Buffered stdin, split into lines. */
struct input {
    char *buf;
    size_t len, cap;
    int eof;
};

/* Append what stdin has (one read). */
static void read_stdin(struct input *in) {
    if (in->cap - in->len < 65536) {
        size_t cap = in->cap ? in->cap * 2 : 131072;
        char *grown = realloc(in->buf, cap);
        if (!grown) {
            fprintf(stderr, PROGRAM ": out of memory\n");
            exit(EXIT_ERROR);
        }
        in->buf = grown;
        in->cap = cap;
    }
    ssize_t n = read(STDIN_FILENO, in->buf + in->len, in->cap - in->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0)
        in->eof = 1;
    else
        in->len += (size_t)n;
}

/* Queue every complete line (at EOF also the last, unterminated one). A
 * full send queue (WS_ERR_WOULD_BLOCK) keeps the rest for later. */
static int32_t send_lines(ws_conn *conn, const struct settings *s, struct input *in) {
    size_t start = 0;
    int32_t rc = WS_OK;
    for (;;) {
        char *nl = memchr(in->buf + start, '\n', in->len - start);
        size_t end = nl ? (size_t)(nl - in->buf) : in->len;
        if (!nl && !(in->eof && end > start))
            break;
        rc = send_line(conn, s, in->buf + start, end - start);
        if (rc != WS_OK)
            break;
        start = nl ? end + 1 : end;
    }
    memmove(in->buf, in->buf + start, in->len - start);
    in->len -= start;
    return rc;
}

/* Milliseconds from now until `when` (0 if past), for poll(). */
static int until(double when) {
    double ms = (when - now()) * 1000.0;
    return ms <= 0 ? 0 : (int)ms + 1;
}

/* The smaller poll() timeout; -1 is "none". */
static int sooner(int a, int64_t b) {
    if (b < 0)
        return a;
    int bi = b > 86400000 ? 86400000 : (int)b;
    return (a < 0 || bi < a) ? bi : a;
}

static int fail_with(ws_conn *conn, int32_t rc) {
    ending.rc = rc;
    ending.close_code = ws_conn_peer_close_code(conn);
    report_error(rc, ws_conn_errmsg(conn), ws_conn_error_close_code(conn));
    return EXIT_ERROR;
}

/* Wait for the socket as the connection wants, or its next deadline. */
static void wait_conn(ws_conn *conn, struct pollfd *extra, int timeout) {
    uint32_t wants = ws_conn_wants(conn);
    struct pollfd fds[2] = {{.fd = ws_conn_fd(conn), .events = 0}, {.fd = -1}};
    if (wants & WS_WANT_READ)
        fds[0].events |= POLLIN;
    if (wants & WS_WANT_WRITE)
        fds[0].events |= POLLOUT;
    if (extra)
        fds[1] = *extra;
    timeout = sooner(timeout, ws_conn_next_timeout_ms(conn));
    if (wants == 0 && timeout < 0)
        timeout = 100; /* the connection is over: the next receive says how */
    if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
        fprintf(stderr, PROGRAM ": poll: %s\n", strerror(errno));
        exit(EXIT_ERROR);
    }
    if (extra)
        *extra = fds[1];
}

/* After the close (or a failure): let the library send what it still has
 * to (our close reply) and wait out the server's TCP close. */
static void finish(ws_conn *conn) {
    while (ws_conn_wants(conn) != 0) {
        int32_t rc = ws_conn_flush(conn);
        if (rc != WS_OK && rc != WS_ERR_WOULD_BLOCK)
            return;
        if (ws_conn_wants(conn) == 0)
            return;
        wait_conn(conn, NULL, -1);
    }
}

/* One connection's session, with the input left by the one before. */
static int run(ws_conn *conn, const struct settings *s, struct input *input_state) {
    struct input in = *input_state;
    int closing = 0, result = -1;
    /* After EOF: close when nothing arrived till then. */
    double quiet_until = in.eof ? now() + s->linger : 0;
    while (result < 0) {
        int got = 0;
        result = drain(conn, &got);
        if (result >= 0)
            break;
        if (got && in.eof)
            quiet_until = now() + s->linger;
        int32_t rc = closing ? WS_OK : send_lines(conn, s, &in);
        int blocked = rc == WS_ERR_WOULD_BLOCK;
        if (rc != WS_OK && !blocked) {
            /* The server may have closed meanwhile: report its close. */
            result = drain(conn, &got);
            if (result < 0)
                result = fail_with(conn, rc);
            break;
        }
        if (in.eof && in.len == 0 && !closing && now() >= quiet_until) {
            rc = ws_close(conn, s->close_code, s->close_reason);
            if (rc != WS_OK && rc != WS_ERR_WOULD_BLOCK) {
                result = fail_with(conn, rc);
                break;
            }
            closing = 1;
            ending.by_us = 1;
        }
        /* Write the queue and run due deadlines (keepalive, close timeout). */
        rc = ws_conn_flush(conn);
        if (rc != WS_OK && rc != WS_ERR_WOULD_BLOCK) {
            result = drain(conn, &got);
            if (result < 0)
                result = fail_with(conn, rc);
            break;
        }
        /* Read stdin only while the queue keeps up (back-pressure). */
        struct pollfd input = {.fd = -1, .events = POLLIN};
        if (!in.eof && !blocked && ws_conn_queued_bytes(conn) < (1u << 20))
            input.fd = STDIN_FILENO;
        int timeout = (in.eof && !closing) ? until(quiet_until) : -1;
        wait_conn(conn, &input, timeout);
        if (input.fd >= 0 && (input.revents & (POLLIN | POLLHUP | POLLERR))) {
            read_stdin(&in);
            if (in.eof)
                quiet_until = now() + s->linger;
        }
    }
    finish(conn);
    *input_state = in;
    return result;
}

/* Open one connection and run it to its end; `ending` says how it ended. */
static int connect_once(const ws_options *opts, const struct settings *s, struct input *in, int *opened) {
    ws_conn *conn = NULL;
    ws_response *response = NULL;
    memset(&ending, 0, sizeof ending);
    int32_t rc = ws_connect(s->url, opts, &conn, &response);
    ending.rc = rc;
    if (rc == WS_HTTP_RESPONSE || (rc == WS_ERR_PROXY && response)) {
        if (rc == WS_ERR_PROXY)
            report_error(rc, ws_last_error_message(), 0);
        ending.http_status = ws_response_status(response);
        report_response(response, rc == WS_ERR_PROXY ? "proxy" : "server");
        ws_response_free(response);
        return EXIT_ERROR;
    }
    if (rc != WS_OK) {
        report_error(rc, ws_last_error_message(), ws_last_error_close_code());
        return EXIT_ERROR;
    }
    *opened = 1;
    report_open(conn, s->url);
    int status_code = EXIT_ERROR;
    if (ws_conn_set_nonblocking(conn, true) != WS_OK) {
        ending.rc = ws_last_error_code();
        report_error(ending.rc, ws_last_error_message(), 0);
    } else {
        status_code = run(conn, s, in);
    }
    if (s->stats)
        print_stats(conn);
    ws_conn_free(conn);
    return status_code;
}

/* --reconnect: the wait before attempt n (from 1) after a drop, in
 * seconds: random between 0 and min(max, delay * 2^(n-1)) (full jitter). */
static double backoff(const struct settings *s, unsigned long long n) {
    double cap = s->reconnect_delay;
    for (unsigned long long i = 1; i < n && cap < s->reconnect_max_delay; i++)
        cap *= 2;
    if (cap > s->reconnect_max_delay)
        cap = s->reconnect_max_delay;
    return cap * ((double)random() / (double)RAND_MAX);
}

static void report_reconnect(unsigned long long attempt, double delay) {
    if (json) {
        printf("{\"event\":\"reconnect\",\"attempt\":%llu,\"delay\":%.3f}", attempt, delay);
        flush_line();
    }
    status("reconnecting in %.3f s (attempt %llu)", delay, attempt);
}

static void sleep_for(double secs) {
    struct timespec ts = {.tv_sec = (time_t)secs, .tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN); /* a closed stdout or socket is an error code */
    struct settings s = {0};
    ws_options *opts = parse_args(argc, argv, &s);
    srandom((unsigned)time(NULL) ^ ((unsigned)getpid() << 16));
    struct input in = {0};
    unsigned long long attempt = 0; /* since the last connection that opened */
    int status_code;
    for (;;) {
        int opened = 0;
        status_code = connect_once(opts, &s, &in, &opened);
        /* Once stdin ended and every line went out, the session is over. */
        int input_left = !in.eof || in.len > 0;
        if (!s.reconnect || ending.by_us || !input_left ||
            !ws_result_is_retryable(ending.rc, ending.http_status, ending.close_code))
            break;
        attempt = opened ? 1 : attempt + 1;
        if (s.reconnect_attempts && attempt > s.reconnect_attempts) {
            fprintf(stderr, PROGRAM ": giving up: %llu attempt%s to reconnect failed\n", s.reconnect_attempts,
                    s.reconnect_attempts == 1 ? "" : "s");
            status_code = EXIT_ERROR;
            break;
        }
        double delay = backoff(&s, attempt);
        report_reconnect(attempt, delay);
        sleep_for(delay);
    }
    ws_options_free(opts);
    free(in.buf);
    return status_code;
}
