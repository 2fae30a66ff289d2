#include <stdio.h>
#include <wsclient.h>

/* What the server agreed to in its 101 response. */
int main(void)
{
    ws_options *opts = ws_options_new();
    ws_options_add_subprotocol(opts, "chat.v2");
    ws_options_add_subprotocol(opts, "chat.v1");
    ws_options_add_deflate_offer(opts, "");
    ws_conn *conn = NULL;
    int32_t rc = ws_connect("ws://localhost:8080/", opts, &conn, NULL);
    ws_options_free(opts);
    if (rc != WS_OK)
        return 1;
    const char *protocol = ws_conn_subprotocol(conn);
    const char *server = ws_conn_header(conn, "Server");
    printf("subprotocol %s, compression %s, server %s\n", protocol ? protocol : "none",
           ws_conn_compression(conn) ? "on" : "off", server ? server : "unknown");
    /* Every header of the 101 response, in order. */
    for (size_t i = 0; i < ws_conn_header_count(conn); i++)
        printf("%s: %s\n", ws_conn_header_name(conn, i), ws_conn_header_value(conn, i));
    ws_conn_free(conn);
    return 0;
}
