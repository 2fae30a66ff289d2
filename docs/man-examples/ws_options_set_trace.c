#include <inttypes.h>
#include <stdio.h>
#include <wsclient.h>

/* "Why did it disconnect?": every event of the connection on stderr, then
   its counters and connect timings. */
static void trace(const ws_trace_event *event, void *userdata)
{
    (void)userdata;
    int64_t us = 0;
    ws_trace_event_number(event, WS_TRACE_FIELD_ELAPSED_US, &us);
    fprintf(stderr, "[%" PRIu64 " %8.3f ms %s] %s\n", ws_trace_event_conn_id(event),
            us / 1000.0, ws_trace_kind_name(ws_trace_event_kind(event)),
            ws_trace_event_text(event));
    const char *headers = ws_trace_event_string(event, WS_TRACE_FIELD_HEADERS);
    if (headers) /* credentials arrive as [redacted] */
        fprintf(stderr, "%s\n", headers);
}

int main(void)
{
    ws_options *opts = ws_options_new();
    ws_options_set_trace(opts, trace, NULL);
    ws_options_set_tls_keylog_env(opts, true); /* SSLKEYLOGFILE, for Wireshark */
    if (0) /* or a file of its own */
        ws_options_set_tls_keylog_file(opts, "/tmp/keys.log");
    ws_conn *conn = NULL;
    int32_t rc = ws_connect("wss://localhost:8443/", opts, &conn, NULL);
    ws_options_free(opts);
    if (rc != WS_OK)
        return 1;
    ws_ping(conn, (const uint8_t *)"hi", 2);
    ws_close(conn, 1000, "bye");
    ws_message *msg = NULL;
    while (ws_recv_message(conn, &msg) == WS_OK)
        ws_message_free(msg);
    const int32_t stats[] = {WS_STAT_BYTES_IN, WS_STAT_BYTES_OUT, WS_STAT_PAYLOAD_IN,
                             WS_STAT_RTT_LAST_US, WS_STAT_TIME_TLS_US, WS_STAT_TIME_TOTAL_US};
    for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++)
        printf("conn %" PRIu64 " %s = %" PRIu64 "\n", ws_conn_id(conn), ws_stat_name(stats[i]),
               ws_conn_stat(conn, stats[i]));
    ws_conn_free(conn);
    return 0;
}
