#include <stdio.h>
#include <wsclient.h>

/* What the opening handshake request carries, and where redirects go. */
int main(void)
{
    ws_options *opts = ws_options_new();
    int32_t rc = ws_options_add_header(opts, "User-Agent", "example/1.0");
    if (rc == WS_OK) /* sent to the first origin only */
        rc = ws_options_add_sensitive_header(opts, "X-Api-Key", "secret");
    if (rc == WS_OK)
        rc = ws_options_set_origin(opts, "https://example.org");
    if (rc == WS_OK)
        rc = ws_options_add_subprotocol(opts, "chat");
    if (rc == WS_OK)
        rc = ws_options_set_max_redirects(opts, 3);
    if (rc == WS_OK)
        rc = ws_options_set_redirect_credentials(opts, false);
    if (rc == WS_OK) /* GET ws://host:port/path, then back to GET /path */
        rc = ws_options_set_absolute_form(opts, true);
    if (rc == WS_OK)
        rc = ws_options_set_strip_host(opts, true);
    if (rc != WS_OK) {
        fprintf(stderr, "options: %s\n", ws_last_error_message());
        ws_options_free(opts);
        return 1;
    }
    ws_conn *conn = NULL;
    rc = ws_connect("ws://localhost:8080/", opts, &conn, NULL);
    ws_options_free(opts);
    ws_conn_free(conn);
    return rc == WS_OK ? 0 : 1;
}
