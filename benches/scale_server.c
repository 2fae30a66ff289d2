/*
 * The scale benchmark's server (benches/scale.py starts one per client): a
 * WebSocket echo on 127.0.0.1 that holds tens of thousands of connections
 * in one thread, so that opening 10,000 connections measures the clients,
 * not the server.
 *
 * One epoll instance, level-triggered; per connection only the bytes not
 * yet handled or written. It answers the upgrade (any path), echoes data
 * frames one by one (never reassembled), answers a ping with a pong and a
 * close with a close (then closes TCP). Prints "PORT n", then serves until
 * killed. Its descriptor limit is raised to the hard limit.
 *
 * C rather than Rust: a cargo example would build the library again with
 * the dev-dependencies' features, and the next `make` would build it back.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "upgrade_answer.h"

#define BACKLOG 4096            /* hundreds of connects at once must not find it full */
#define MAX_REQUEST (8 << 10)   /* longest upgrade request accepted */

struct buf {
    unsigned char *data;
    size_t len, cap;
};

struct peer {
    bool live, open, closing;
    bool writing;               /* registered for EPOLLOUT while `out` waits */
    struct buf in, out;
};

static struct peer *peers;      /* indexed by descriptor */
static size_t n_peers;
static int ep;

static void append(struct buf *b, const void *data, size_t len) {
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2;
        b->data = realloc(b->data, b->cap);
        if (!b->data) {
            perror("scale_server: realloc");
            exit(1);
        }
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static void consume(struct buf *b, size_t len) {
    memmove(b->data, b->data + len, b->len - len);
    b->len -= len;
}

static void drop(int fd) {
    struct peer *p = &peers[fd];
    free(p->in.data);
    free(p->out.data);
    memset(p, 0, sizeof *p);
    close(fd); /* also takes it out of epoll */
}

/* The 101 for a complete upgrade request; false for a bad one. */
static bool upgrade(struct peer *p) {
    if (p->in.len == 0)
        return true;
    unsigned char *end = memmem(p->in.data, p->in.len, "\r\n\r\n", 4);
    if (!end)
        return p->in.len < MAX_REQUEST;
    *end = '\0';
    char answer[256];
    size_t n;
    if (!upgrade_answer((char *)p->in.data, answer, sizeof answer, &n))
        return false;
    append(&p->out, answer, n);
    consume(&p->in, (size_t)(end + 4 - p->in.data));
    p->open = true;
    return true;
}

/* Answer each complete frame: data echoed, ping -> pong, close -> close
 * (then end); pongs need no answer. */
static void answer_frames(struct peer *p) {
    size_t at = 0;
    while (p->in.len - at >= 2) {
        const unsigned char *f = p->in.data + at;
        size_t avail = p->in.len - at, head = 2, len = f[1] & 0x7f;
        if (len == 126) {
            head = 4;
            if (avail < head) break;
            len = (size_t)f[2] << 8 | f[3];
        } else if (len == 127) {
            head = 10;
            if (avail < head) break;
            len = 0;
            for (int i = 2; i < 10; i++)
                len = len << 8 | f[i];
        }
        if (avail < head + 4 || avail - head - 4 < len)
            break;
        unsigned char first = f[0], *payload = p->in.data + at + head + 4;
        for (size_t i = 0; i < len; i++)
            payload[i] ^= f[head + i % 4];
        unsigned char reply = (first & 0x0f) == 0x9 ? 0x8a : first;
        if ((first & 0x0f) != 0xa) {
            unsigned char h[10] = {reply};
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
            append(&p->out, h, hl);
            append(&p->out, payload, len);
        }
        at += head + 4 + len;
        if ((first & 0x0f) == 0x8) {
            p->closing = true;
            break;
        }
    }
    consume(&p->in, at);
}

/* Handle what the socket has for us; false: drop the connection. */
static bool serve(int fd, uint32_t ready) {
    struct peer *p = &peers[fd];
    if (ready & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        unsigned char chunk[16 << 10];
        for (;;) {
            ssize_t n = read(fd, chunk, sizeof chunk);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                return false;
            if (n < 0)
                break;
            append(&p->in, chunk, (size_t)n);
        }
        if (!p->open && !upgrade(p))
            return false;
        if (p->open)
            answer_frames(p);
    }
    while (p->out.len > 0) {
        ssize_t n = write(fd, p->out.data, p->out.len);
        if (n < 0)
            return errno == EAGAIN;
        consume(&p->out, (size_t)n);
    }
    return !p->closing;
}

static void accept_all(int listener) {
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or out of descriptors: the rest wait in the backlog */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if ((size_t)fd >= n_peers) {
            size_t more = (size_t)fd * 2 + 64;
            peers = realloc(peers, more * sizeof *peers);
            if (!peers) {
                perror("scale_server: realloc");
                exit(1);
            }
            memset(peers + n_peers, 0, (more - n_peers) * sizeof *peers);
            n_peers = more;
        }
        peers[fd].live = true;
        struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    }
}

int main(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t addr_len = sizeof addr;
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(listener, BACKLOG) != 0 || getsockname(listener, (struct sockaddr *)&addr, &addr_len) != 0) {
        perror("scale_server: listen");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event e = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &e);
    printf("PORT %u\n", ntohs(addr.sin_port));
    fflush(stdout);

    static struct epoll_event events[1024];
    for (;;) {
        int n = epoll_wait(ep, events, 1024, -1);
        for (int k = 0; k < n; k++) {
            int fd = events[k].data.fd;
            if (fd == listener) {
                accept_all(listener);
                continue;
            }
            if ((size_t)fd >= n_peers || !peers[fd].live)
                continue;
            struct peer *p = &peers[fd];
            if (!serve(fd, events[k].events)) {
                drop(fd);
            } else if (p->writing != (p->out.len > 0)) {
                p->writing = p->out.len > 0;
                struct epoll_event m = {.events = p->writing ? EPOLLOUT : EPOLLIN, .data.fd = fd};
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &m);
            }
        }
    }
}
