/*
 * A reader thread and a writer thread sharing one connection, the shape of
 * a chat client or a market-data feed: the reader blocks in
 * ws_recv_message and prints what arrives, while the writer sends each line
 * of standard input and then closes (or sends COUNT numbered messages, and
 * the reader closes once COUNT answers came back from an echo server). The
 * library serialises the writes (the writer's messages, the reader's
 * automatic pongs, the close) so neither thread needs a lock of its own.
 *
 *   duplex_client URI            send the lines of stdin
 *   duplex_client URI COUNT      send COUNT numbered messages to an echo server
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsclient.h"

struct shared {
    ws_conn *conn;
    long count; /* < 0: read stdin */
    long sent;
    long received;
};

static void *reader(void *arg) {
    struct shared *s = arg;
    for (;;) {
        ws_message *msg = NULL;
        int32_t rc = ws_recv_message(s->conn, &msg);
        if (rc == WS_CLOSED) {
            printf("reader: closed: %u\n", ws_conn_peer_close_code(s->conn));
            break;
        }
        if (rc != WS_OK) {
            /* The per-thread error: the writer may fail at the same time. */
            fprintf(stderr, "reader: %s\n", ws_last_error_message());
            break;
        }
        s->received++;
        printf("reader: %.*s\n", (int)ws_message_size(msg), (const char *)ws_message_data(msg));
        ws_message_free(msg);
        /* Closing from this thread while the writer may still be sending is
         * fine: its later sends get WS_ERR_INVALID_STATE. */
        if (s->received == s->count && ws_close(s->conn, 1000, "done") != WS_OK)
            fprintf(stderr, "reader: close: %s\n", ws_last_error_message());
    }
    return NULL;
}

static void *writer(void *arg) {
    struct shared *s = arg;
    char line[4096];
    for (long i = 0; s->count < 0 || i < s->count; i++) {
        if (s->count < 0) {
            if (!fgets(line, sizeof line, stdin))
                break;
            line[strcspn(line, "\n")] = '\0';
        } else {
            snprintf(line, sizeof line, "message %ld", i);
        }
        if (ws_send_text(s->conn, line, strlen(line)) != WS_OK) {
            fprintf(stderr, "writer: %s\n", ws_last_error_message());
            return NULL;
        }
        s->sent++;
    }
    /* The reader goes on until the server answers the close. */
    if (s->count < 0 && ws_close(s->conn, 1000, "done") != WS_OK)
        fprintf(stderr, "writer: close: %s\n", ws_last_error_message());
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: duplex_client URI [COUNT]\n");
        return 2;
    }
    struct shared s = {NULL, argc == 3 ? strtol(argv[2], NULL, 10) : -1, 0, 0};
    int32_t rc = ws_connect(argv[1], NULL, &s.conn, NULL);
    if (rc != WS_OK) {
        fprintf(stderr, "duplex_client: %s: %s\n", ws_result_string(rc), ws_last_error_message());
        return 1;
    }
    pthread_t r, w;
    pthread_create(&r, NULL, reader, &s);
    pthread_create(&w, NULL, writer, &s);
    pthread_join(w, NULL);
    pthread_join(r, NULL);
    ws_conn_free(s.conn);
    printf("duplex_client: sent %ld, received %ld\n", s.sent, s.received);
    return s.sent == s.received ? 0 : 1;
}
