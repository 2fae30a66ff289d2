#include <stdio.h>
#include <wsclient.h>

/* Count the messages of a feed of many small ones (market data,
   telemetry), taking every message that has arrived in one call. */
int main(void)
{
    ws_conn *conn = NULL;
    if (ws_connect("ws://localhost:8080/ticks", NULL, &conn, NULL) != WS_OK)
        return 1;
    static uint8_t buf[256 * 1024];
    static size_t lens[1024];
    static int32_t types[1024];
    unsigned long long messages = 0, bytes = 0;
    int32_t rc;
    for (;;) {
        size_t count = 0;
        rc = ws_recv_messages(conn, buf, sizeof buf, lens, types, 1024, &count);
        if (rc == WS_ERR_INVALID_ARGUMENT && count == 0) {
            /* One message larger than buf: take it whole. */
            ws_message *msg = NULL;
            rc = ws_recv_message(conn, &msg);
            if (rc != WS_OK)
                break;
            messages += 1;
            bytes += ws_message_size(msg);
            ws_message_free(msg);
            continue;
        } else if (rc != WS_OK) {
            break;
        }
        const uint8_t *at = buf;
        for (size_t i = 0; i < count; i++) {
            /* at[0 .. lens[i]) is message i, of type types[i] */
            at += lens[i];
            bytes += lens[i];
        }
        messages += count;
    }
    printf("%llu messages, %llu bytes\n", messages, bytes);
    ws_conn_free(conn);
    return rc == WS_CLOSED ? 0 : 1;
}
