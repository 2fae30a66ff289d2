/*
 * The small-message benchmark's echo server (benches/small.py starts one per
 * client run, so that its CPU time is that run's): the cheap WebSocket echo
 * of benches/support/servers.rs, in C and in a process of its own.
 *
 * On 127.0.0.1, a thread per connection on a blocking socket (TCP_NODELAY).
 * It answers the upgrade (any path, no extension), then for every read of
 * what is available (up to the free room of a 64 KiB buffer, grown to fit a
 * larger frame) writes back, in one write, every frame that read completed:
 * each unmasked in place (8 bytes at a time) with its server header put in
 * front of its payload, moved down to follow the previous one. It does not
 * validate UTF-8 and never reassembles fragments. A ping is answered with a
 * pong and a pong with nothing (so a client's keepalive works); a close is
 * echoed and ends the connection. So the server costs about one read and
 * one write per batch whatever the client, and the clients set the pace.
 *
 * Blocking rather than epoll: with one connection per run an epoll_wait
 * would only add a system call per read, as the Rust original has none.
 * C rather than Rust: a cargo example would build the library again with
 * the dev-dependencies' features, and the next `make` would build it back.
 *
 * Prints "PORT n", then serves until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "upgrade_answer.h"

#define READ_ROOM (64 << 10)    /* as RAW_READ_BUFFER in benches/support/servers.rs */
#define MAX_REQUEST (8 << 10)   /* longest upgrade request accepted */

static void *grow(void *p, size_t size) {
    p = realloc(p, size);
    if (!p) {
        perror("small_server: realloc");
        exit(1);
    }
    return p;
}

static bool write_all(int fd, const unsigned char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

/* Read the upgrade request and answer it: the bytes after the request are
 * left at the front of `buf` (their count in *end); false for a bad one. */
static bool upgrade(int fd, unsigned char *buf, size_t cap, size_t *end) {
    size_t have = 0;
    unsigned char *stop;
    while (!(stop = memmem(buf, have, "\r\n\r\n", 4))) {
        if (have >= MAX_REQUEST || have == cap)
            return false;
        ssize_t n = read(fd, buf + have, (cap < MAX_REQUEST ? cap : MAX_REQUEST) - have);
        if (n <= 0)
            return false;
        have += (size_t)n;
    }
    size_t request = (size_t)(stop + 4 - buf);
    char head[MAX_REQUEST + 1];
    memcpy(head, buf, request);
    head[request] = '\0';
    char answer[256];
    size_t n;
    if (!upgrade_answer(head, answer, sizeof answer, &n) || !write_all(fd, (const unsigned char *)answer, n))
        return false;
    memmove(buf, buf + request, have - request);
    *end = have - request;
    return true;
}

static void unmask(unsigned char *data, size_t len, const unsigned char key[4]) {
    uint32_t k32;
    memcpy(&k32, key, 4);
    uint64_t k = (uint64_t)k32 | (uint64_t)k32 << 32;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, data + i, 8);
        w ^= k;
        memcpy(data + i, &w, 8);
    }
    for (; i < len; i++)
        data[i] ^= key[i % 4];
}

/* What one read made: the bytes consumed from the front of the buffer, the
 * reply (out_start..out_end), whether to stop after writing it; and, when
 * an incomplete frame needs more room than the buffer has, that room. */
struct answer {
    size_t consumed, out_start, out_end, need;
    bool last;
};

static struct answer echo_frames(unsigned char *buf, size_t end) {
    struct answer a = {0};
    size_t pos = 0;
    bool started = false;
    while (end - pos >= 2) {
        const unsigned char *f = buf + pos;
        size_t avail = end - pos, head = 2, len = f[1] & 0x7f;
        if (len == 126) {
            head = 4;
            if (avail < head)
                break;
            len = (size_t)f[2] << 8 | f[3];
        } else if (len == 127) {
            head = 10;
            if (avail < head)
                break;
            len = 0;
            for (int i = 2; i < 10; i++)
                len = len << 8 | f[i];
        }
        size_t payload = pos + head + 4;
        if (avail < head + 4 || end - payload < len) {
            if (avail >= head + 4)
                a.need = payload + len;
            break;
        }
        unsigned char first = f[0], opcode = first & 0x0f;
        unmask(buf + payload, len, f + head);
        pos = payload + len;
        if (opcode == 0xa)
            continue; /* a pong: nothing to answer */
        if (opcode == 0x9)
            first = 0x8a; /* a ping: its pong */
        unsigned char h[10] = {first};
        size_t hl = 2;
        if (len < 126) {
            h[1] = (unsigned char)len;
        } else if (len <= 0xffff) {
            h[1] = 126, h[2] = (unsigned char)(len >> 8), h[3] = (unsigned char)len, hl = 4;
        } else {
            h[1] = 127, hl = 10;
            for (int i = 0; i < 8; i++)
                h[9 - i] = (unsigned char)(len >> (8 * i));
        }
        size_t at = payload - hl;
        memcpy(buf + at, h, hl);
        if (!started) {
            started = true;
            a.out_start = at;
            a.out_end = pos;
        } else {
            memmove(buf + a.out_end, buf + at, pos - at);
            a.out_end += pos - at;
        }
        if (opcode == 0x8) {
            a.last = true;
            break;
        }
    }
    a.consumed = pos;
    return a;
}

static void *serve(void *arg) {
    int fd = (int)(intptr_t)arg;
    size_t cap = READ_ROOM, end = 0;
    unsigned char *buf = grow(NULL, cap);
    if (!upgrade(fd, buf, cap, &end))
        goto done;
    for (bool first = true;; first = false) {
        if (!first || end == 0) {
            ssize_t n = read(fd, buf + end, cap - end);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            end += (size_t)n;
        }
        struct answer a = echo_frames(buf, end);
        if (a.out_end > a.out_start && !write_all(fd, buf + a.out_start, a.out_end - a.out_start))
            break;
        if (a.last)
            break;
        memmove(buf, buf + a.consumed, end - a.consumed);
        end -= a.consumed;
        size_t need = a.need > a.consumed ? a.need - a.consumed : 0;
        if (end == cap || need > cap) {
            cap = need > cap * 2 ? need : cap * 2;
            buf = grow(buf, cap);
        }
    }
done:
    free(buf);
    close(fd);
    return NULL;
}

int main(void) {
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t addr_len = sizeof addr;
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(listener, 64) != 0 || getsockname(listener, (struct sockaddr *)&addr, &addr_len) != 0) {
        perror("small_server: listen");
        return 1;
    }
    printf("PORT %u\n", ntohs(addr.sin_port));
    fflush(stdout);
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("small_server: accept");
            return 1;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&thread, &attr, serve, (void *)(intptr_t)fd) != 0) {
            perror("small_server: pthread_create");
            close(fd);
        }
        pthread_attr_destroy(&attr);
    }
}
