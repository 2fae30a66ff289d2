#include <stdio.h>
#include <wsclient.h>

/* The second connection with the same options resumes the first one's TLS
   session: an abbreviated handshake, without the certificate exchange. */
int main(void)
{
    ws_options *opts = ws_options_new();
    ws_options_set_tls_ca_file(opts, "/etc/myapp/ca.pem");
    for (int i = 1; i <= 2; i++) {
        ws_conn *conn = NULL;
        if (ws_connect("wss://example.com/", opts, &conn, NULL) != WS_OK) {
            fprintf(stderr, "%s\n", ws_last_error_message());
            break;
        }
        printf("connection %d: TLS %s\n", i, ws_conn_tls_resumed(conn) ? "resumed" : "full handshake");
        ws_close(conn, 1000, "");
        ws_message *msg = NULL;
        while (ws_recv_message(conn, &msg) == WS_OK)
            ws_message_free(msg);
        ws_conn_free(conn);
    }
    ws_options_free(opts);
    return 0;
}
