#include <stdio.h>
#include <wsclient.h>

/* A private CA and a client certificate for wss://. */
int main(void)
{
    ws_options *opts = ws_options_new();
    int32_t rc = ws_options_set_tls_ca_file(opts, "/etc/myapp/ca.pem");
    if (rc == WS_OK)
        rc = ws_options_set_tls_ca_dir(opts, "/etc/myapp/certs");
    if (rc == WS_OK) /* key in its own file; NULL: in the certificate file */
        rc = ws_options_set_tls_client_cert(opts, "/etc/myapp/client.pem",
                                            "/etc/myapp/client.key");
    if (rc == WS_OK) /* never in production: accepts any certificate */
        rc = ws_options_set_tls_danger_accept_invalid_certs(opts, false);
    if (rc != WS_OK) {
        fprintf(stderr, "options: %s\n", ws_last_error_message());
        ws_options_free(opts);
        return 1;
    }
    ws_conn *conn = NULL;
    rc = ws_connect("wss://localhost:8443/", opts, &conn, NULL);
    if (rc == WS_ERR_TLS_VERIFY)
        fprintf(stderr, "%s\n", ws_last_error_message());
    ws_options_free(opts);
    ws_conn_free(conn);
    return rc == WS_OK ? 0 : 1;
}
