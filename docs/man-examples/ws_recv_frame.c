#include <stdio.h>
#include <wsclient.h>

/* Frame by frame: print each frame and answer pings by hand. */
int dump_frames(ws_conn *conn)
{
    for (;;) {
        ws_frame *frame = NULL;
        if (ws_recv_frame(conn, &frame) != WS_OK)
            return -1;
        uint8_t opcode = ws_frame_opcode(frame);
        printf("%s%s rsv=%u%s mask=%d %llu bytes\n", ws_frame_optype(frame),
               ws_frame_fin(frame) ? " fin" : "", ws_frame_rsv(frame),
               ws_frame_rsv_bit(frame, 4) ? " (compressed)" : "", ws_frame_mask(frame),
               (unsigned long long)ws_frame_payload_length(frame));
        if (opcode == 9) { /* ping: answer with a pong of the same payload */
            ws_frame *pong = ws_frame_new(true, 0, 10, ws_frame_payload_data(frame),
                                          (size_t)ws_frame_payload_length(frame));
            ws_send_frame(conn, pong);
            ws_frame_free(pong);
        }
        ws_frame_free(frame);
        if (opcode == 8) /* the server's close */
            return 0;
    }
}

int main(void)
{
    ws_conn *conn = NULL;
    if (ws_connect("ws://localhost:8080/", NULL, &conn, NULL) != WS_OK)
        return 1;
    int rc = dump_frames(conn);
    ws_conn_free(conn);
    return rc ? 1 : 0;
}
