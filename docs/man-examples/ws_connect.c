#include <stdio.h>
#include <wsclient.h>

int main(void)
{
    ws_conn *conn = NULL;
    ws_response *response = NULL;
    printf("libwsclient %s\n", ws_version());
    int32_t rc = ws_connect("wss://echo.example.org/chat", NULL, &conn, &response);
    if (rc == WS_HTTP_RESPONSE) {
        printf("HTTP %u %s\n", ws_response_status(response), ws_response_reason(response));
        ws_response_free(response);
        return 1;
    }
    if (rc != WS_OK) {
        fprintf(stderr, "%s: %s\n", ws_result_string(rc), ws_last_error_message());
        return 1;
    }
    ws_send_text(conn, "hello", 5);
    ws_close(conn, 1000, NULL);
    ws_conn_free(conn);
    return 0;
}
