#include <stdio.h>
#include <wsclient.h>

/* The frames a received message was assembled from. */
void print_frames(const ws_message *msg)
{
    size_t n = ws_message_frame_count(msg);
    for (size_t i = 0; i < n; i++) {
        const ws_frame *frame = ws_message_frame(msg, i);
        printf("frame %zu: opcode %u, %llu bytes%s\n", i, ws_frame_opcode(frame),
               (unsigned long long)ws_frame_payload_length(frame),
               ws_frame_fin(frame) ? ", final" : "");
    }
}

int main(void)
{
    ws_conn *conn = NULL;
    ws_message *msg = NULL;
    if (ws_connect("ws://localhost:8080/", NULL, &conn, NULL) != WS_OK)
        return 1;
    if (ws_recv_message(conn, &msg) == WS_OK) {
        print_frames(msg);
        ws_message_free(msg);
    }
    ws_conn_free(conn);
    return 0;
}
