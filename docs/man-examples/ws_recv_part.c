#include <stdio.h>
#include <wsclient.h>

/* Save each message to stdout as it arrives, whatever its size, in 64 KiB
   of memory: no message is ever held whole. */
int main(void)
{
    ws_options *opts = ws_options_new();
    /* The memory bound does not depend on the limits: lift them. */
    ws_options_set_max_message_size(opts, SIZE_MAX);
    ws_options_set_max_frame_size(opts, UINT64_MAX);
    ws_conn *conn = NULL;
    int32_t rc = ws_connect("ws://localhost:8080/download", opts, &conn, NULL);
    ws_options_free(opts);
    if (rc != WS_OK)
        return 1;
    static uint8_t buf[64 * 1024];
    unsigned long long total = 0;
    for (;;) {
        size_t len = 0;
        int32_t type = 0;
        bool last = false;
        rc = ws_recv_part(conn, buf, sizeof buf, &len, &type, &last);
        if (rc != WS_OK)
            break;
        fwrite(buf, 1, len, stdout); /* text pieces end between characters */
        total += len;
        if (last) {
            fprintf(stderr, "%s message of %llu bytes\n",
                    type == WS_MESSAGE_TEXT ? "text" : "binary", total);
            total = 0;
        }
    }
    ws_conn_free(conn);
    return rc == WS_CLOSED ? 0 : 1;
}
