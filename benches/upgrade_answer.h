/*
 * The benchmark servers' answer to an upgrade request (RFC 6455 §4.2.2):
 * Sec-WebSocket-Key found in the request head, the 101 with its accept
 * value written to `answer`. Shared by scale_server.c and small_server.c,
 * each otherwise a single file.
 */
#ifndef WSCLIENT_BENCH_UPGRADE_ANSWER_H
#define WSCLIENT_BENCH_UPGRADE_ANSWER_H

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* `head`: the request up to its blank line, NUL-terminated. The answer's
 * length goes to *len; false when the request has no usable key. */
static bool upgrade_answer(char *head, char *answer, size_t cap, size_t *len) {
    char *key = NULL;
    for (char *line = strstr(head, "\r\n"); line && !key; line = strstr(line + 2, "\r\n"))
        if (strncasecmp(line + 2, "Sec-WebSocket-Key:", 18) == 0)
            key = line + 2 + 18;
    if (!key)
        return false;
    key += strspn(key, " \t");
    size_t key_len = strcspn(key, " \t\r");
    char joined[128];
    int n = snprintf(joined, sizeof joined, "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", (int)key_len, key);
    if (n < 0 || (size_t)n >= sizeof joined)
        return false;
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)joined, (size_t)n, digest);
    char accept[32];
    EVP_EncodeBlock((unsigned char *)accept, digest, SHA_DIGEST_LENGTH);
    n = snprintf(answer, cap,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
    if (n < 0 || (size_t)n >= cap)
        return false;
    *len = (size_t)n;
    return true;
}

#endif
