#include <stdio.h>
#include <wsclient.h>

/* Print a response that was not a WebSocket upgrade (a redirect, a 403). */
void print_response(const ws_response *response)
{
    printf("HTTP %u %s\n", ws_response_status(response), ws_response_reason(response));
    for (size_t i = 0; i < ws_response_header_count(response); i++)
        printf("%s: %s\n", ws_response_header_name(response, i),
               ws_response_header_value(response, i));
    const char *location = ws_response_header(response, "Location");
    if (location)
        printf("redirected to %s\n", location);
    printf("\n%.*s\n", (int)ws_response_body_length(response),
           (const char *)ws_response_body(response));
}

int main(void)
{
    ws_conn *conn = NULL;
    ws_response *response = NULL;
    int32_t rc = ws_connect("ws://localhost:8080/", NULL, &conn, &response);
    if (rc == WS_HTTP_RESPONSE) {
        print_response(response);
        ws_response_free(response);
    }
    ws_conn_free(conn);
    return rc == WS_OK ? 0 : 1;
}
