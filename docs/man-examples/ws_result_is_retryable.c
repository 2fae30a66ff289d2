#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <wsclient.h>

/* Print what a feed sends, and come back after each drop, waiting a random
   time up to 0.5 s, 1 s, 2 s ... (at most 30 s) while attempts fail. */
int main(void)
{
    long cap_ms = 500;
    for (;;) {
        ws_conn *conn = NULL;
        ws_response *response = NULL;
        uint16_t status = 0, close_code = 0;
        int32_t rc = ws_connect("wss://example.com/feed", NULL, &conn, &response);
        if (response)
            status = ws_response_status(response);
        ws_response_free(response);
        if (rc == WS_OK) {
            ws_message *msg = NULL;
            while ((rc = ws_recv_message(conn, &msg)) == WS_OK) {
                printf("%.*s\n", (int)ws_message_size(msg), (const char *)ws_message_data(msg));
                ws_message_free(msg);
            }
            close_code = ws_conn_peer_close_code(conn);
            cap_ms = 500; /* it opened: start small again */
        }
        if (!ws_result_is_retryable(rc, status, close_code)) {
            fprintf(stderr, "done: %s\n", ws_result_string(rc));
            ws_conn_free(conn);
            return rc == WS_CLOSED ? 0 : 1;
        }
        ws_conn_free(conn);
        poll(NULL, 0, (int)(rand() % (cap_ms + 1))); /* full jitter */
        cap_ms = cap_ms * 2 > 30000 ? 30000 : cap_ms * 2;
    }
}
