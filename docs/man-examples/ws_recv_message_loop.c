#include <stdio.h>
#include <string.h>
#include <wsclient.h>

/* Echo each text message; stop the loop with 42 on "bye". */
static int32_t on_message(ws_conn *conn, const ws_message *msg, void *userdata)
{
    unsigned *count = userdata;
    const uint8_t *data = ws_message_data(msg);
    size_t size = ws_message_size(msg);
    ++*count;
    if (size == 3 && memcmp(data, "bye", 3) == 0)
        return 42;
    if (ws_message_type(msg) == WS_MESSAGE_TEXT)
        ws_send_text(conn, (const char *)data, size);
    return 0;
}

int main(void)
{
    ws_conn *conn = NULL;
    unsigned count = 0;
    if (ws_connect("ws://localhost:8080/", NULL, &conn, NULL) != WS_OK)
        return 1;
    int32_t rc = ws_recv_message_loop(conn, on_message, &count);
    if (rc == WS_STOPPED)
        printf("stopped with %d after %u messages\n", ws_last_stop_value(), count);
    else if (rc != WS_CLOSED)
        fprintf(stderr, "%s\n", ws_last_error_message());
    ws_close(conn, 1000, "bye");
    ws_conn_free(conn);
    return 0;
}
