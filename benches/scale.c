/*
 * The scale benchmark's C client (benches/scale.py runs it and prints the
 * table): one thread and epoll open N connections with ws_connect_start,
 * at most INFLIGHT connecting at once, keepalive on; then the connections
 * sit idle for ROUNDS keepalive intervals (and one second) while the
 * library pings.
 *
 *   scale URI N INTERVAL_MS ROUNDS INFLIGHT
 *
 * Prints "name value" lines:
 *   connect_s, connect_cpu_s  wall and CPU time to open all N
 *   connect_sys_s             the part of that CPU time in the kernel
 *   heap_bytes                malloc'd bytes held after opening, minus
 *                             before (mallinfo2: allocated chunks + mmapped)
 *   rss_bytes                 VmRSS after opening, minus before
 *   window_s, window_cpu_s    the idle window: wall and CPU time
 *   window_sys_s              the part of that CPU time in the kernel
 *   heap_window_bytes         as heap_bytes, after the window (pings sent)
 *   pongs, min_pongs          pongs received in it, in all and by the
 *                             connection that got fewest
 *   failed                    connections that failed (first error on stderr)
 * CPU is the process's user + system time (getrusage). The bench's own
 * tables are allocated before the "before" figures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "wsclient.h"

struct peer {
    ws_conn *conn;   /* NULL: not started, or failed */
    bool open;
    int fd;          /* registered in epoll for `events` */
    uint32_t events;
    int64_t due;     /* next deadline (ms, monotonic); -1: none */
};

/* Deadlines in a binary min-heap. An entry is stale when its peer's `due`
 * has moved since: it is skipped when popped, never searched for. */
struct timer {
    int64_t due;
    int peer;
};

static struct peer *peers;
static int n_peers, opened, failed;
static struct timer *timers;
static size_t n_timers, timer_room;
static int ep;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CPU time of the process: user + system, or system only. */
static double cpu_s(bool system_only) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return system_only ? sys : sys + (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
}

static size_t heap_bytes(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static size_t rss_bytes(void) {
    long size = 0, pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &pages) != 2)
            pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

static void swap_timers(size_t a, size_t b) {
    struct timer t = timers[a];
    timers[a] = timers[b];
    timers[b] = t;
}

static void sift_down(size_t at) {
    for (;;) {
        size_t l = 2 * at + 1, least = at;
        if (l < n_timers && timers[l].due < timers[least].due)
            least = l;
        if (l + 1 < n_timers && timers[l + 1].due < timers[least].due)
            least = l + 1;
        if (least == at)
            return;
        swap_timers(at, least);
        at = least;
    }
}

/* Add peer's deadline (already in its `due`). */
static void timer_push(int peer) {
    if (n_timers == timer_room) {
        /* Full of stale entries: rebuild from the live deadlines, at most
         * one per peer (this one's included). */
        n_timers = 0;
        for (int i = 0; i < n_peers; i++)
            if (peers[i].conn && peers[i].due >= 0)
                timers[n_timers++] = (struct timer){peers[i].due, i};
        for (size_t i = n_timers / 2; i-- > 0;)
            sift_down(i);
        return;
    }
    size_t at = n_timers++;
    timers[at] = (struct timer){peers[peer].due, peer};
    for (; at > 0 && timers[(at - 1) / 2].due > timers[at].due; at = (at - 1) / 2)
        swap_timers(at, (at - 1) / 2);
}

static void timer_pop(void) {
    timers[0] = timers[--n_timers];
    sift_down(0);
}

static void fail(int i, int32_t rc) {
    if (failed++ == 0)
        fprintf(stderr, "scale: connection %d: %s: %s\n", i, ws_result_string(rc), ws_conn_errmsg(peers[i].conn));
    ws_conn_free(peers[i].conn); /* closing its descriptor takes it out of epoll */
    peers[i].conn = NULL;
    peers[i].due = -1;
}

/* Register what the connection waits for. `renew`: the connect just
 * succeeded and the descriptor went from the connecting one (now closed,
 * which took it out of epoll) to the socket's: MOD fails with ENOENT then,
 * and ADD registers it. */
static void watch(int i, bool renew) {
    struct peer *p = &peers[i];
    int fd = ws_conn_fd(p->conn);
    uint32_t wants = ws_conn_wants(p->conn);
    uint32_t events = ((wants & WS_WANT_READ) ? EPOLLIN : 0) | ((wants & WS_WANT_WRITE) ? EPOLLOUT : 0);
    if (fd >= 0 && (renew || fd != p->fd || events != p->events)) {
        struct epoll_event e = {.events = events, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e) != 0 && errno == ENOENT)
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    }
    p->fd = fd;
    p->events = events;
    int64_t ms = ws_conn_next_timeout_ms(p->conn);
    int64_t due = ms < 0 ? -1 : now_ms() + ms;
    if (due != p->due) {
        p->due = due;
        if (due >= 0)
            timer_push(i);
    }
}

/* Everything connection i can do now. */
static void service(int i) {
    struct peer *p = &peers[i];
    bool connecting = !p->open;
    if (connecting) {
        int32_t rc = ws_connect_continue(p->conn, NULL);
        if (rc == WS_ERR_WOULD_BLOCK) {
            watch(i, false);
            return;
        }
        if (rc != WS_OK) {
            fail(i, rc);
            return;
        }
        p->open = true;
        opened++;
    }
    for (;;) { /* pongs are taken in here; no message is expected */
        ws_message *msg = NULL;
        int32_t rc = ws_recv_message(p->conn, &msg);
        if (rc == WS_ERR_WOULD_BLOCK)
            break;
        if (rc != WS_OK) {
            fail(i, rc);
            return;
        }
        ws_message_free(msg);
    }
    int32_t rc = ws_conn_flush(p->conn); /* sends a ping when one is due */
    if (rc != WS_OK && rc != WS_ERR_WOULD_BLOCK) {
        fail(i, rc);
        return;
    }
    watch(i, connecting);
}

/* One turn of the loop: wait for events (at most until `until`, and the
 * next deadline), service the ready connections, then the due ones. */
static void turn(int64_t until) {
    static struct epoll_event events[1024];
    int64_t now = now_ms();
    while (n_timers > 0 && peers[timers[0].peer].due != timers[0].due)
        timer_pop(); /* stale */
    int64_t wake = until;
    if (n_timers > 0 && (wake < 0 || timers[0].due < wake))
        wake = timers[0].due;
    int timeout = wake < 0 ? -1 : wake <= now ? 0 : (int)(wake - now);
    int n = epoll_wait(ep, events, 1024, timeout);
    for (int k = 0; k < n; k++) {
        int i = (int)events[k].data.u32;
        if (peers[i].conn)
            service(i);
    }
    now = now_ms();
    while (n_timers > 0 && timers[0].due <= now) {
        struct timer t = timers[0];
        timer_pop();
        if (peers[t.peer].conn && peers[t.peer].due == t.due) {
            /* Consumed: the deadline that watch() finds next is pushed even
             * when it is this one again (0 ms left). */
            peers[t.peer].due = -1;
            service(t.peer);
        }
    }
}

static void raise_fd_limit(rlim_t need) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur >= need)
        return;
    if (rl.rlim_max < need) {
        fprintf(stderr, "scale: %lu descriptors needed, the hard limit is %lu: lower SCALE_CONNS\n",
                (unsigned long)need, (unsigned long)rl.rlim_max);
        exit(2);
    }
    rl.rlim_cur = need;
    setrlimit(RLIMIT_NOFILE, &rl);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: scale URI N INTERVAL_MS ROUNDS INFLIGHT\n");
        return 2;
    }
    const char *uri = argv[1];
    n_peers = atoi(argv[2]);
    int interval = atoi(argv[3]), rounds = atoi(argv[4]), inflight = atoi(argv[5]);
    if (n_peers < 1 || interval < 1 || rounds < 1 || inflight < 1)
        return 2;
    /* One descriptor per open connection; a connecting one may hold two
     * (its attempts' epoll instance and the socket). */
    raise_fd_limit((rlim_t)n_peers + 2 * (rlim_t)inflight + 64);

    ws_options *opts = ws_options_new();
    /* The pong timeout is generous: a late pong under load is not what is measured. */
    if (ws_options_set_keepalive(opts, (uint32_t)interval, 10000) != WS_OK)
        return 2;
    ep = epoll_create1(EPOLL_CLOEXEC);
    peers = calloc((size_t)n_peers, sizeof *peers);
    timer_room = 4 * (size_t)n_peers + 16;
    timers = malloc(timer_room * sizeof *timers);
    if (ep < 0 || !peers || !timers)
        return 1;
    for (int i = 0; i < n_peers; i++)
        peers[i] = (struct peer){NULL, false, -1, 0, -1};

    /* One connection first, so that one-time costs are not counted per connection. */
    ws_conn *warm = NULL;
    if (ws_connect(uri, opts, &warm, NULL) != WS_OK) {
        fprintf(stderr, "scale: %s\n", ws_last_error_message());
        return 1;
    }
    ws_conn_free(warm);

    size_t heap0 = heap_bytes(), rss0 = rss_bytes();
    double cpu0 = cpu_s(false), sys0 = cpu_s(true);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int started = 0;
    while (opened + failed < n_peers) {
        while (started < n_peers && started - opened - failed < inflight) {
            int i = started++;
            int32_t rc = ws_connect_start(uri, opts, &peers[i].conn);
            if (rc != WS_OK) {
                fprintf(stderr, "scale: %s\n", ws_last_error_message());
                return 1;
            }
            service(i); /* the first step, and the descriptor registered */
        }
        turn(-1);
    }
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double connect_cpu = cpu_s(false) - cpu0, connect_sys = cpu_s(true) - sys0;
    size_t heap1 = heap_bytes(), rss1 = rss_bytes();
    printf("connect_s %.6f\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    printf("connect_cpu_s %.6f\nconnect_sys_s %.6f\n", connect_cpu, connect_sys);
    printf("heap_bytes %ld\n", (long)(heap1 - heap0));
    printf("rss_bytes %ld\n", (long)(rss1 - rss0));

    /* Idle: only keepalive pings and their pongs, for `rounds` intervals. */
    uint64_t *pongs0 = calloc((size_t)n_peers, sizeof *pongs0);
    if (!pongs0)
        return 1;
    for (int i = 0; i < n_peers; i++)
        pongs0[i] = ws_conn_pong_count(peers[i].conn);
    double cpu_w = cpu_s(false), sys_w = cpu_s(true);
    /* Each connection's pings are due `interval` apart from its opening:
     * `rounds` of them fall in this window when the connect phase was
     * shorter than the interval; the last second is for the last pongs. */
    int64_t start = now_ms(), end = start + (int64_t)interval * rounds + 1000;
    while (now_ms() < end)
        turn(end);
    double window_cpu = cpu_s(false) - cpu_w, window_sys = cpu_s(true) - sys_w;
    double window_s = (double)(now_ms() - start) / 1e3;
    uint64_t pongs = 0, min_pongs = UINT64_MAX;
    for (int i = 0; i < n_peers; i++) {
        uint64_t got = peers[i].conn ? ws_conn_pong_count(peers[i].conn) - pongs0[i] : 0;
        pongs += got;
        if (got < min_pongs)
            min_pongs = got;
    }
    printf("window_s %.3f\nwindow_cpu_s %.6f\nwindow_sys_s %.6f\n", window_s, window_cpu, window_sys);
    printf("heap_window_bytes %ld\n", (long)(heap_bytes() - heap0));
    printf("pongs %llu\nmin_pongs %llu\n", (unsigned long long)pongs, (unsigned long long)min_pongs);
    printf("failed %d\n", failed);
    fflush(stdout);
    for (int i = 0; i < n_peers; i++)
        ws_conn_free(peers[i].conn);
    ws_options_free(opts);
    return failed == 0 ? 0 : 1;
}
