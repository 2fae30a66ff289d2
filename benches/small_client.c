/*
 * The small-message benchmark's C clients (benches/small.py runs them and
 * prints the table): libwsclient's C API, and raw TCP sending the same bytes.
 *
 *   small_client ws|ws-part|ws-batch|ws-batches|ws-traced|raw URI text|binary SIZE COUNT INFLIGHT
 *
 * Both echo COUNT messages of SIZE bytes through the server at URI (ws://
 * host:port/, an IPv4 address), INFLIGHT at a time: write a batch of
 * INFLIGHT messages (the last batch may be smaller), then read its echoes;
 * repeat. One message and its echo, checked byte for byte, come first and
 * are not counted.
 *
 * - ws: ws_send with WS_SEND_MORE for each message of the batch, then
 *   ws_conn_flush; then ws_recv_message (size and type checked) and
 *   ws_message_free for each echo. With INFLIGHT 1 (a round trip), one
 *   ws_send without flags.
 * - ws-part: ws, but each echo is received with ws_recv_part into a buffer
 *   of the client's (no message handle), size and type checked.
 * - ws-batch: ws, but the echoes are received with ws_recv_messages into
 *   one buffer of the client's (every message already received per call;
 *   no message handle), sizes and types checked.
 * - ws-batches: ws-batch, and each batch is sent with one ws_send_messages
 *   call (the messages one after the other in one buffer, written before
 *   the call returns) instead of WS_SEND_MORE and ws_conn_flush.
 * - ws-traced: ws, with a trace callback that counts the events (every
 *   frame each way is one): the cost of tracing against ws without.
 * - raw: the same WebSocket frames' bytes (masked client frames) built
 *   before the clock starts, the batch written with one write (more only if
 *   the kernel takes less), then read until as many bytes as the server's
 *   echo of it has (its frames are unmasked: 4 bytes shorter each) came
 *   back. No framing, masking or UTF-8 work: the floor of the kernel and
 *   the server.
 *
 * Prints "name value" lines: messages, seconds (wall time of the counted
 * messages), user_s and sys_s (this process's CPU time over the same span,
 * getrusage).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wsclient.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double tv_s(struct timeval t) {
    return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "small_client: %s: %s\n", what, detail);
    exit(1);
}

/* Printable ASCII (valid UTF-8 for text messages), the same every run. */
static unsigned char *payload(size_t size) {
    unsigned char *p = malloc(size ? size : 1);
    if (!p)
        fail("malloc", strerror(errno));
    unsigned x = 12345;
    for (size_t i = 0; i < size; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (unsigned char)(' ' + (x >> 16) % 95);
    }
    return p;
}

struct clock {
    double wall;
    struct rusage usage;
};

static struct clock start_clock(void) {
    struct clock c;
    getrusage(RUSAGE_SELF, &c.usage);
    c.wall = now_s();
    return c;
}

static void report(struct clock c, size_t messages) {
    double wall = now_s() - c.wall;
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    printf("messages %zu\nseconds %.6f\nuser_s %.6f\nsys_s %.6f\n", messages, wall,
           tv_s(u.ru_utime) - tv_s(c.usage.ru_utime), tv_s(u.ru_stime) - tv_s(c.usage.ru_stime));
}

/* ------------------------------------------------------------ libwsclient */

static void ws_check(ws_conn *conn, int32_t rc, const char *what) {
    if (rc != WS_OK)
        fail(what, conn ? ws_conn_errmsg(conn) : ws_last_error_message());
}

static void ws_recv_echo(ws_conn *conn, int32_t type, const unsigned char *data, size_t size, bool verify) {
    ws_message *msg = NULL;
    ws_check(conn, ws_recv_message(conn, &msg), "ws_recv_message");
    if (ws_message_size(msg) != size || ws_message_type(msg) != type ||
        (verify && size && memcmp(ws_message_data(msg), data, size) != 0))
        fail("ws_recv_message", "not the message sent");
    ws_message_free(msg);
}

static bool use_parts, use_batch, use_send_batch;

/* Receive `count` echoes with ws_recv_messages, as many a call as have come. */
static void ws_recv_batch(ws_conn *conn, int32_t type, size_t size, size_t count) {
    enum { MAX = 1024 };
    static uint8_t buf[1 << 18];
    static size_t lens[MAX];
    static int32_t types[MAX];
    while (count > 0) {
        size_t got = 0;
        ws_check(conn, ws_recv_messages(conn, buf, sizeof buf, lens, types, count < MAX ? count : MAX, &got),
                 "ws_recv_messages");
        for (size_t i = 0; i < got; i++)
            if (lens[i] != size || types[i] != type)
                fail("ws_recv_messages", "not the message sent");
        count -= got;
    }
}

static void ws_recv_echo_part(ws_conn *conn, int32_t type, size_t size) {
    static uint8_t buf[1 << 16];
    size_t n = 0, total = 0;
    int32_t got = 0;
    bool last = false;
    /* A piece ends where the bytes read so far end: a message may come in
       two. */
    while (!last) {
        ws_check(conn, ws_recv_part(conn, buf + total, sizeof buf - total, &n, &got, &last),
                 "ws_recv_part");
        total += n;
    }
    if (total != size || got != type)
        fail("ws_recv_part", "not the message sent");
}

static void count_event(const ws_trace_event *event, void *userdata) {
    (void)event;
    ++*(size_t *)userdata;
}

static void run_ws(const char *uri, int32_t type, size_t size, size_t count, size_t inflight,
                   bool traced) {
    unsigned char *data = payload(size);
    ws_conn *conn = NULL;
    ws_response *response = NULL;
    size_t events = 0;
    ws_options *opts = ws_options_new();
    if (traced)
        ws_options_set_trace(opts, count_event, &events);
    int32_t rc = ws_connect(uri, opts, &conn, &response);
    ws_options_free(opts);
    if (rc != WS_OK || !conn)
        fail("ws_connect", response ? ws_response_reason(response) : ws_last_error_message());
    ws_check(conn, ws_send(conn, type, data, size, 0), "ws_send");
    ws_recv_echo(conn, type, data, size, true);
    /* ws-batches: a batch's messages one after the other, built once. */
    uint8_t *batch_buf = NULL;
    size_t *batch_lens = NULL;
    int32_t *batch_types = NULL;
    if (use_send_batch) {
        batch_buf = malloc(size * inflight + 1);
        batch_lens = malloc(sizeof *batch_lens * inflight);
        batch_types = malloc(sizeof *batch_types * inflight);
        if (!batch_buf || !batch_lens || !batch_types)
            fail("malloc", strerror(errno));
        for (size_t i = 0; i < inflight; i++) {
            memcpy(batch_buf + i * size, data, size);
            batch_lens[i] = size;
            batch_types[i] = type;
        }
    }

    struct clock c = start_clock();
    for (size_t done = 0; done < count;) {
        size_t batch = count - done < inflight ? count - done : inflight;
        if (inflight == 1) {
            ws_check(conn, ws_send(conn, type, data, size, 0), "ws_send");
        } else if (use_send_batch) {
            size_t sent = 0;
            ws_check(conn, ws_send_messages(conn, batch_buf, batch_lens, batch_types, batch, 0, &sent),
                     "ws_send_messages");
            if (sent != batch)
                fail("ws_send_messages", "not every message taken");
        } else {
            for (size_t i = 0; i < batch; i++)
                ws_check(conn, ws_send(conn, type, data, size, WS_SEND_MORE), "ws_send");
            ws_check(conn, ws_conn_flush(conn), "ws_conn_flush");
        }
        if (use_batch)
            ws_recv_batch(conn, type, size, batch);
        for (size_t i = 0; i < batch && !use_batch; i++) {
            if (use_parts)
                ws_recv_echo_part(conn, type, size);
            else
                ws_recv_echo(conn, type, data, size, false);
        }
        done += batch;
    }
    report(c, count);
    if (traced && events < 2 * count)
        fail("trace", "fewer events than frames");
    ws_close(conn, 1000, NULL);
    ws_conn_free(conn);
    free(batch_buf);
    free(batch_lens);
    free(batch_types);
    free(data);
}

/* ------------------------------------------------------------ raw TCP */

/* A client frame: FIN, the opcode, a mask key, the masked payload. */
static size_t put_frame(unsigned char *out, int opcode, const unsigned char *data, size_t size, unsigned n_key) {
    size_t n = 0;
    out[n++] = (unsigned char)(0x80 | opcode);
    if (size < 126) {
        out[n++] = (unsigned char)(0x80 | size);
    } else if (size <= 0xffff) {
        out[n++] = 0x80 | 126;
        out[n++] = (unsigned char)(size >> 8);
        out[n++] = (unsigned char)size;
    } else {
        out[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (unsigned char)((unsigned long long)size >> (8 * i));
    }
    unsigned char key[4];
    for (int i = 0; i < 4; i++) {
        n_key = n_key * 1103515245u + 12345u;
        key[i] = (unsigned char)(n_key >> 16);
    }
    memcpy(out + n, key, 4);
    n += 4;
    for (size_t i = 0; i < size; i++)
        out[n + i] = data[i] ^ key[i % 4];
    return n + size;
}

static size_t server_header_len(size_t size) {
    return size < 126 ? 2 : size <= 0xffff ? 4 : 10;
}

static void raw_write(int fd, const unsigned char *p, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fail("write", n < 0 ? strerror(errno) : "nothing written");
        p += n;
        len -= (size_t)n;
    }
}

static void raw_read(int fd, unsigned char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fail("read", n < 0 ? strerror(errno) : "the server closed the connection");
        buf += n;
        len -= (size_t)n;
    }
}

static int raw_connect(const char *uri) {
    char host[64];
    unsigned port;
    if (sscanf(uri, "ws://%63[0-9.]:%u", host, &port) != 2)
        fail(uri, "expected ws://IPV4:PORT/");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        fail(uri, "not an IPv4 address");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        fail("connect", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* The upgrade, unchecked but for its status line: the server only
     * needs the key (this is RFC 6455's sample). */
    char request[512];
    int n = snprintf(request, sizeof request,
                     "GET / HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     host, port);
    raw_write(fd, (const unsigned char *)request, (size_t)n);
    char answer[1024];
    size_t have = 0;
    while (have < 4 || memcmp(answer + have - 4, "\r\n\r\n", 4) != 0) {
        if (have == sizeof answer)
            fail("upgrade", "response too long");
        raw_read(fd, (unsigned char *)answer + have, 1); /* byte by byte: nothing past the 101 */
        have++;
    }
    if (strncmp(answer, "HTTP/1.1 101 ", 13) != 0)
        fail("upgrade", "no 101");
    return fd;
}

static void run_raw(const char *uri, int32_t type, size_t size, size_t count, size_t inflight) {
    unsigned char *data = payload(size);
    int opcode = type == WS_MESSAGE_TEXT ? 1 : 2;
    size_t frame_max = size + 14, echo_len = server_header_len(size) + size;
    size_t batch_max = inflight < count ? inflight : count;
    unsigned char *frames = malloc(frame_max * (batch_max ? batch_max : 1));
    unsigned char *back = malloc(echo_len * (batch_max ? batch_max : 1));
    if (!frames || !back)
        fail("malloc", strerror(errno));
    /* One frame per message of a batch, each with its own mask key. */
    size_t frame_len = 0;
    for (size_t i = 0; i < batch_max; i++)
        frame_len = put_frame(frames + i * frame_len, opcode, data, size, (unsigned)i + 1);
    int fd = raw_connect(uri);

    raw_write(fd, frames, frame_len);
    raw_read(fd, back, echo_len);
    if (back[0] != (0x80 | opcode) || memcmp(back + server_header_len(size), data, size) != 0)
        fail("raw", "not the message sent");

    struct clock c = start_clock();
    for (size_t done = 0; done < count;) {
        size_t batch = count - done < inflight ? count - done : inflight;
        raw_write(fd, frames, frame_len * batch);
        raw_read(fd, back, echo_len * batch);
        done += batch;
    }
    report(c, count);
    close(fd);
    free(frames);
    free(back);
    free(data);
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s ws|ws-part|ws-batch|ws-batches|ws-traced|raw URI text|binary SIZE COUNT INFLIGHT\n", argv[0]);
        return 2;
    }
    bool raw = strcmp(argv[1], "raw") == 0, traced = strcmp(argv[1], "ws-traced") == 0;
    use_parts = strcmp(argv[1], "ws-part") == 0;
    use_send_batch = strcmp(argv[1], "ws-batches") == 0;
    use_batch = use_send_batch || strcmp(argv[1], "ws-batch") == 0;
    if (!raw && !traced && !use_parts && !use_batch && strcmp(argv[1], "ws") != 0)
        fail(argv[1], "expected ws, ws-part, ws-batch, ws-batches, ws-traced or raw");
    int32_t type = strcmp(argv[3], "text") == 0 ? WS_MESSAGE_TEXT : WS_MESSAGE_BINARY;
    size_t size = strtoull(argv[4], NULL, 10), count = strtoull(argv[5], NULL, 10),
           inflight = strtoull(argv[6], NULL, 10);
    if (inflight == 0)
        fail("INFLIGHT", "must be at least 1");
    if (raw)
        run_raw(argv[2], type, size, count, inflight);
    else
        run_ws(argv[2], type, size, count, inflight, traced);
    return 0;
}
