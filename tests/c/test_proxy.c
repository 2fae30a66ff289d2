/*
 * C tests of connecting through an HTTP CONNECT proxy: ws:// and wss://,
 * with and without Basic authentication, a 407 for a wrong password with the
 * proxy's answer, and proxies from the environment (only when asked for;
 * no_proxy honoured). tests/integration/test_proxy.py starts the servers
 * (Python websockets echo servers, proxy.py twice) and checks afterwards,
 * from the proxies' own reports, which connections went through them.
 *
 *   test_proxy PORT_A PORT_B TLS_PORT CA_FILE OPEN_PROXY AUTH_PROXY USERINFO
 *
 * Built with -Wall -Wextra -Werror under AddressSanitizer; the last line is
 * "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsclient.h"
#include "check.h"

static int passed, failed;


static const char *ca_file;

/* Options trusting the test CA, through `proxy` (NULL: none). */
static ws_options *options(const char *proxy) {
    ws_options *opts = ws_options_new();
    CHECK(ws_options_set_tls_ca_file(opts, ca_file) == WS_OK);
    CHECK(ws_options_set_timeouts(opts, 10000, 10000, 10000, 10000) == WS_OK);
    if (proxy)
        CHECK(ws_options_set_proxy(opts, proxy) == WS_OK);
    return opts;
}

/* Connect to `uri` with `opts`, echo a text message, close cleanly. */
static void echo(const char *uri, const ws_options *opts) {
    ws_conn *conn = NULL;
    int32_t rc = ws_connect(uri, opts, &conn, NULL);
    CHECK(rc == WS_OK && conn != NULL);
    if (rc != WS_OK) {
        fprintf(stderr, "  connecting to %s\n", uri);
        return;
    }
    const char *text = "through the proxy";
    CHECK(ws_send_text(conn, text, strlen(text)) == WS_OK);
    ws_message *msg = NULL;
    CHECK(ws_recv_message(conn, &msg) == WS_OK);
    CHECK(msg && ws_message_size(msg) == strlen(text) &&
          memcmp(ws_message_data(msg), text, strlen(text)) == 0);
    ws_message_free(msg);
    CHECK(ws_close(conn, 1000, "bye") == WS_OK);
    msg = NULL;
    CHECK(ws_recv_message(conn, &msg) == WS_CLOSED && msg == NULL);
    ws_conn_free(conn);
}

static char *with_userinfo(const char *proxy, const char *userinfo) {
    /* http://host:port -> http://userinfo@host:port */
    static char buf[512];
    const char *rest = strstr(proxy, "://");
    snprintf(buf, sizeof buf, "http://%s@%s", userinfo, rest ? rest + 3 : proxy);
    return buf;
}

static void test_explicit_proxies(int a, int tls, const char *open_proxy, const char *auth_url) {
    char ws[128], wss[128];
    snprintf(ws, sizeof ws, "ws://localhost:%d/", a);
    snprintf(wss, sizeof wss, "wss://localhost:%d/", tls);
    const char *proxies[] = {open_proxy, auth_url};
    for (int i = 0; i < 2; i++) {
        ws_options *opts = options(proxies[i]);
        echo(ws, opts);
        echo(wss, opts);
        ws_options_free(opts);
    }
}

static void test_wrong_password_is_407(int a, const char *auth_proxy) {
    char ws[128];
    snprintf(ws, sizeof ws, "ws://localhost:%d/", a);
    const char *urls[] = {with_userinfo(auth_proxy, "alice:wrong"), auth_proxy};
    for (int i = 0; i < 2; i++) {
        ws_options *opts = options(urls[i]);
        ws_conn *conn = NULL;
        ws_response *response = NULL;
        CHECK(ws_connect(ws, opts, &conn, &response) == WS_ERR_PROXY && conn == NULL);
        CHECK(ws_last_error_code() == WS_ERR_PROXY);
        CHECK(strstr(ws_last_error_message(), "HTTP 407") != NULL);
        CHECK(strstr(ws_last_error_message(), "wrong") == NULL); /* no password in messages */
        CHECK(response != NULL && ws_response_status(response) == 407);
        CHECK(ws_response_header(response, "Proxy-Authenticate") != NULL);
        ws_response_free(response);
        /* Without a response_out the answer is simply dropped. */
        CHECK(ws_connect(ws, opts, &conn, NULL) == WS_ERR_PROXY);
        ws_options_free(opts);
    }
}

static void test_bad_proxy_urls(void) {
    ws_options *opts = ws_options_new();
    CHECK(ws_options_set_proxy(opts, "https://127.0.0.1:3128") == WS_ERR_INVALID_ARGUMENT);
    CHECK(strstr(ws_last_error_message(), "use http://") != NULL);
    CHECK(ws_options_set_proxy(opts, "http://") == WS_ERR_INVALID_ARGUMENT);
    CHECK(ws_options_set_proxy(NULL, "http://h:1") == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_options_use_env_proxy(NULL, true) == WS_ERR_NULL_ARGUMENT);
    /* NULL and "" go back to direct connections. */
    CHECK(ws_options_set_proxy(opts, "127.0.0.1:1") == WS_OK);
    CHECK(ws_options_set_proxy(opts, NULL) == WS_OK);
    CHECK(ws_options_set_proxy(opts, "") == WS_OK);
    ws_options_free(opts);
    /* A proxy that is not there is a connect error that names it. */
    opts = options("127.0.0.1:1");
    ws_conn *conn = NULL;
    CHECK(ws_connect("ws://example.com/", opts, &conn, NULL) == WS_ERR_CONNECT);
    CHECK(strstr(ws_last_error_message(), "proxy 127.0.0.1:1") != NULL);
    ws_options_free(opts);
}

static void test_env_proxies(int a, int b, int tls, const char *open_proxy, const char *auth_url) {
    char uri[128];
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    setenv("http_proxy", open_proxy, 1);
    setenv("HTTPS_PROXY", auth_url, 1);

    /* Not asked for: direct (the open proxy must not see 127.0.0.1:A). */
    ws_options *direct = options(NULL);
    snprintf(uri, sizeof uri, "ws://127.0.0.1:%d/", a);
    echo(uri, direct);
    ws_options_free(direct);

    ws_options *opts = options(NULL);
    CHECK(ws_options_use_env_proxy(opts, true) == WS_OK);
    /* http_proxy for ws:// (the open proxy sees 127.0.0.1:B). */
    snprintf(uri, sizeof uri, "ws://127.0.0.1:%d/", b);
    echo(uri, opts);
    /* HTTPS_PROXY, with credentials, for wss:// (the auth proxy sees 127.0.0.1:TLS). */
    snprintf(uri, sizeof uri, "wss://127.0.0.1:%d/", tls);
    echo(uri, opts);
    /* no_proxy: direct (the open proxy must not see localhost:B). */
    setenv("no_proxy", "example.com, localhost", 1);
    snprintf(uri, sizeof uri, "ws://localhost:%d/", b);
    echo(uri, opts);
    /* An explicit proxy wins over the environment. */
    setenv("http_proxy", "http://127.0.0.1:1", 1);
    unsetenv("no_proxy");
    CHECK(ws_options_set_proxy(opts, open_proxy) == WS_OK);
    snprintf(uri, sizeof uri, "ws://localhost:%d/", a);
    echo(uri, opts);
    /* A bad proxy in the environment is an error that names the variable. */
    CHECK(ws_options_set_proxy(opts, NULL) == WS_OK);
    setenv("http_proxy", "ftp://127.0.0.1:1", 1);
    ws_conn *conn = NULL;
    CHECK(ws_connect(uri, opts, &conn, NULL) == WS_ERR_INVALID_ARGUMENT && conn == NULL);
    CHECK(strstr(ws_last_error_message(), "$http_proxy") != NULL);
    ws_options_free(opts);
}

int main(int argc, char **argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: test_proxy PORT_A PORT_B TLS_PORT CA_FILE OPEN_PROXY AUTH_PROXY "
                        "USERINFO\n");
        return 2;
    }
    int a = atoi(argv[1]), b = atoi(argv[2]), tls = atoi(argv[3]);
    ca_file = argv[4];
    const char *open_proxy = argv[5], *auth_proxy = argv[6];
    char auth_url[512];
    snprintf(auth_url, sizeof auth_url, "%s", with_userinfo(auth_proxy, argv[7]));
    test_bad_proxy_urls();
    test_explicit_proxies(a, tls, open_proxy, auth_url);
    test_wrong_password_is_407(a, auth_proxy);
    test_env_proxies(a, b, tls, open_proxy, auth_url);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
