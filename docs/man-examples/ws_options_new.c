#include <stdint.h>
#include <stdio.h>
#include <wsclient.h>

/* Limits, timeouts, framing and pinned addresses; each setter returns WS_OK or an error. */
int main(void)
{
    ws_options *opts = ws_options_new();
    int32_t rc = WS_OK;
    if (rc == WS_OK)
        rc = ws_options_set_timeouts(opts, 5000, 10000, 0, 30000);
    if (rc == WS_OK)
        rc = ws_options_set_close_timeout(opts, 2000);
    if (rc == WS_OK) /* a ping every 20 s; fail when its pong is 5 s late */
        rc = ws_options_set_keepalive(opts, 20000, 5000);
    if (rc == WS_OK)
        rc = ws_options_set_max_message_size(opts, 16u << 20);
    if (rc == WS_OK)
        rc = ws_options_set_max_frame_size(opts, 1u << 20);
    if (rc == WS_OK)
        rc = ws_options_set_handshake_limits(opts, 16384, 65536);
    if (rc == WS_OK)
        rc = ws_options_set_send_queue_limit(opts, 8u << 20);
    if (rc == WS_OK)
        rc = ws_options_set_fragment_size(opts, 65536);
    if (rc == WS_OK)
        rc = ws_options_add_deflate_offer(opts, "client_max_window_bits");
    if (rc == WS_OK)
        rc = ws_options_set_compression_level(opts, 6);
    if (rc == WS_OK)
        rc = ws_options_set_auto_pong(opts, true);
    if (rc == WS_OK) /* localhost:8080 is these two, raced; no resolver asked */
        rc = ws_options_add_resolve(opts, "localhost:8080:[::1],127.0.0.1");
    if (rc != WS_OK) {
        fprintf(stderr, "options: %s\n", ws_last_error_message());
        ws_options_free(opts);
        return 1;
    }
    ws_conn *conn = NULL;
    rc = ws_connect("ws://localhost:8080/", opts, &conn, NULL);
    ws_options_free(opts); /* only read during ws_connect */
    ws_conn_free(conn);
    return rc == WS_OK ? 0 : 1;
}
