#include <stdio.h>
#include <wsclient.h>

/* Through a proxy: a fixed one, or else the one from http_proxy etc. */
int main(int argc, char **argv)
{
    ws_options *opts = ws_options_new();
    int32_t rc = argc > 1 ? ws_options_set_proxy(opts, argv[1]) /* "http://user:pw@proxy:3128" */
                          : ws_options_use_env_proxy(opts, true);
    ws_conn *conn = NULL;
    ws_response *response = NULL;
    if (rc == WS_OK)
        rc = ws_connect("wss://example.org/", opts, &conn, &response);
    if (rc == WS_ERR_PROXY && response)
        fprintf(stderr, "the proxy said %u\n", ws_response_status(response));
    else if (rc != WS_OK)
        fprintf(stderr, "%s\n", ws_last_error_message());
    ws_response_free(response);
    ws_options_free(opts);
    ws_conn_free(conn);
    return rc == WS_OK ? 0 : 1;
}
