#include <stdio.h>
#include <wsclient.h>

/* A private CA, a client certificate and stricter TLS for wss://. */
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
    if (rc == WS_OK)
        rc = ws_options_set_tls_min_version(opts, WS_TLS_1_2);
    if (rc == WS_OK) /* TLS 1.2 ciphers, in OpenSSL's syntax */
        rc = ws_options_set_tls_ciphers(opts, "ECDHE-ECDSA-AES128-GCM-SHA256:"
                                              "ECDHE-RSA-AES128-GCM-SHA256");
    if (rc == WS_OK)
        rc = ws_options_set_tls13_ciphersuites(opts, "TLS_AES_256_GCM_SHA384:"
                                                     "TLS_AES_128_GCM_SHA256");
    if (rc == WS_OK) /* or the path of a PEM/DER public key file */
        rc = ws_options_set_tls_pinned_public_key(
            opts, "sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE=");
    if (rc == WS_OK) /* the certificate is for this name, not localhost */
        rc = ws_options_set_tls_server_name(opts, "ws.example.org");
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
