/*
 * C-level tests of the public API: NULLs, errors, ownership, and a real
 * echo server (tests/servers/echo_server.py, started by
 * tests/integration/test_c_api.py, which passes its base URI).
 *
 *   test_api ws://127.0.0.1:PORT
 *
 * Built with -Wall -Wextra -Werror under AddressSanitizer; the last line is
 * "N passed, N failed".
 */
#include <poll.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wsclient.h"
#include "check.h"

static int passed, failed;


static char base[256];

static ws_conn *connect_to(const char *path, const ws_options *opts) {
    char uri[512];
    snprintf(uri, sizeof uri, "%s%s", base, path);
    ws_conn *conn = NULL;
    int32_t rc = ws_connect(uri, opts, &conn, NULL);
    CHECK(rc == WS_OK && conn != NULL);
    return conn;
}

static void test_version_and_strings(void) {
    CHECK(strcmp(ws_version(), WSCLIENT_VERSION) == 0);
    CHECK(strcmp(ws_result_string(WS_OK), "ok") == 0);
    CHECK(ws_result_string(12345) != NULL);
    CHECK(ws_result_is_fail(WS_ERR_PROTOCOL));
    CHECK(ws_result_is_fail(WS_ERR_INVALID_PAYLOAD));
    CHECK(!ws_result_is_fail(WS_ERR_TIMEOUT));
}

static void test_null_arguments(void) {
    ws_conn *conn = NULL;
    CHECK(ws_connect(NULL, NULL, &conn, NULL) == WS_ERR_NULL_ARGUMENT);
    CHECK(strstr(ws_last_error_message(), "uri") != NULL);
    CHECK(ws_connect("ws://127.0.0.1:1/", NULL, NULL, NULL) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_send_text(NULL, "x", 1) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_send_binary(NULL, NULL, 0) == WS_ERR_NULL_ARGUMENT);
    size_t taken = 99;
    CHECK(ws_send_part(NULL, WS_MESSAGE_BINARY, 1, (const uint8_t *)"x", 1, 0, &taken) == WS_ERR_NULL_ARGUMENT);
    CHECK(taken == 0);
    ws_message *msg = NULL;
    CHECK(ws_recv_message(NULL, &msg) == WS_ERR_NULL_ARGUMENT && msg == NULL);
    CHECK(ws_recv_message_loop(NULL, NULL, NULL) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_close(NULL, 1000, NULL) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_message_size(NULL) == 0);
    CHECK(ws_message_data(NULL) == NULL);
    CHECK(ws_message_type(NULL) == 0);
    CHECK(ws_message_frame(NULL, 0) == NULL);
    CHECK(ws_frame_fin(NULL) == false);
    CHECK(ws_frame_optype(NULL) == NULL);
    CHECK(ws_conn_state(NULL) == WS_STATE_CLOSED);
    CHECK(ws_conn_fd(NULL) == -1);
    CHECK(ws_response_status(NULL) == 0);
    CHECK(ws_options_add_header(NULL, "a", "b") == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_optype_to_opcode(NULL) == WS_ERR_NULL_ARGUMENT);
    /* Freeing NULL is a no-op. */
    ws_conn_free(NULL);
    ws_message_free(NULL);
    ws_frame_free(NULL);
    ws_options_free(NULL);
    ws_response_free(NULL);
    passed++;
}

static void test_wrong_handle_type(void) {
    ws_options *opts = ws_options_new();
    /* A handle of another type is refused, not dereferenced as a connection. */
    CHECK(ws_send_text((ws_conn *)opts, "x", 1) == WS_ERR_INVALID_ARGUMENT);
    CHECK(ws_message_size((const ws_message *)opts) == 0);
    ws_options_free(opts);
}

static void test_bad_inputs(void) {
    ws_conn *conn = NULL;
    CHECK(ws_connect("http://example.com/", NULL, &conn, NULL) == WS_ERR_URI && conn == NULL);
    CHECK(strstr(ws_last_error_message(), "scheme") != NULL);
    CHECK(ws_connect("not a uri", NULL, &conn, NULL) == WS_ERR_URI);
    CHECK(ws_connect("ws://127.0.0.1:1/", NULL, &conn, NULL) == WS_ERR_CONNECT && conn == NULL);
    ws_options *opts = ws_options_new();
    CHECK(ws_options_add_deflate_offer(opts, "server_max_window_bits=99") == WS_ERR_INVALID_ARGUMENT);
    CHECK(ws_options_add_deflate_offer(opts, "bogus") == WS_ERR_INVALID_ARGUMENT);
    CHECK(ws_options_set_compression_level(opts, 42) == WS_ERR_INVALID_ARGUMENT);
    ws_options_free(opts);
    CHECK(ws_message_new(7, (const uint8_t *)"x", 1) == NULL);
    CHECK(ws_message_new(WS_MESSAGE_TEXT, (const uint8_t *)"\xff", 1) == NULL);
    CHECK(ws_message_new(WS_MESSAGE_BINARY, NULL, 5) == NULL);
    CHECK(ws_frame_new(true, 8, 1, NULL, 0) == NULL);
}

static const char *self_path; /* this program: a file that exists */

/* `call` is refused with WS_ERR_INVALID_ARGUMENT, and the message has `words`. */
#define CHECK_REFUSED(call, words)                                                                 \
    do {                                                                                           \
        int32_t rc_ = (call);                                                                      \
        CHECK(rc_ == WS_ERR_INVALID_ARGUMENT && strstr(ws_last_error_message(), (words)) != NULL); \
        if (rc_ != WS_ERR_INVALID_ARGUMENT || !strstr(ws_last_error_message(), (words)))           \
            fprintf(stderr, "  %s: rc %d, message \"%s\", wanted \"%s\"\n", #call, rc_,           \
                    ws_last_error_message(), (words));                                             \
    } while (0)

/* Each setter checks what can be checked when it is called, not at
 * ws_connect, and says why in plain words; a refused value is not kept. */
static void test_setters_check_their_input(void) {
    ws_options *opts = ws_options_new();
    CHECK_REFUSED(ws_options_set_tls_ca_file(opts, "/nonexistent/ca.pem"), "no such file");
    CHECK_REFUSED(ws_options_set_tls_ca_file(opts, "/nonexistent/ca.pem"), "/nonexistent/ca.pem");
    CHECK_REFUSED(ws_options_set_tls_ca_file(opts, "/"), "is a directory");
    CHECK_REFUSED(ws_options_set_tls_ca_dir(opts, "/nonexistent"), "no such file");
    CHECK_REFUSED(ws_options_set_tls_ca_dir(opts, self_path), "not a directory");
    CHECK_REFUSED(ws_options_set_tls_client_cert(opts, "/nonexistent/c.pem", NULL), "client certificate");
    CHECK_REFUSED(ws_options_set_tls_client_cert(opts, self_path, "/nonexistent/k.pem"), "client key");
    CHECK_REFUSED(ws_options_add_header(opts, "Bad Name", "v"), "not an HTTP token");
    CHECK_REFUSED(ws_options_add_header(opts, "", "v"), "not an HTTP token");
    CHECK_REFUSED(ws_options_add_header(opts, "X-Evil", "a\r\nInjected: 1"), "CR, LF");
    CHECK_REFUSED(ws_options_add_header(opts, "Host", "evil.example"), "handshake itself");
    CHECK_REFUSED(ws_options_add_sensitive_header(opts, "X Token", "s"), "not an HTTP token");
    CHECK_REFUSED(ws_options_add_subprotocol(opts, "two words"), "not an HTTP token");
    CHECK_REFUSED(ws_options_add_subprotocol(opts, ""), "not an HTTP token");
    CHECK_REFUSED(ws_options_set_origin(opts, "example.com"), "scheme://host");
    CHECK_REFUSED(ws_options_set_origin(opts, "https://a\r\nX-Evil: 1"), "CR, LF");
    CHECK_REFUSED(ws_options_set_proxy(opts, "ftp://proxy:21"), "proxy");
    CHECK_REFUSED(ws_options_add_resolve(opts, "example.com:443"), "no address");
    CHECK_REFUSED(ws_options_add_resolve(opts, "example.com:443:localhost"), "not an IP address");
    CHECK_REFUSED(ws_options_add_resolve(opts, "example.com:99999:127.0.0.1"), "1..65535");
    CHECK(ws_options_add_resolve(opts, "example.com:443:[::1],127.0.0.1") == WS_OK);
    CHECK_REFUSED(ws_options_add_deflate_offer(opts, "bogus"), "bogus");
    CHECK_REFUSED(ws_options_set_tls_min_version(opts, 0x0302), "unknown TLS version");
    CHECK_REFUSED(ws_options_set_tls_min_version(opts, 13), "WS_TLS_1_3");
    CHECK_REFUSED(ws_options_set_tls_ciphers(opts, "NO-SUCH-CIPHER"), "cipher list");
    CHECK_REFUSED(ws_options_set_tls13_ciphersuites(opts, "TLS_AES_128_GCM_SHA256:TLS_BOGUS"),
                  "TLS_BOGUS");
    CHECK_REFUSED(ws_options_set_tls_pinned_public_key(opts, "sha256//not-base64!"),
                  "bad public key pin");
    CHECK_REFUSED(ws_options_set_tls_pinned_public_key(opts, "sha256//AAAA"), "32 bytes");
    CHECK_REFUSED(ws_options_set_tls_pinned_public_key(opts, "/nonexistent/key.pem"), "no such file");
    CHECK_REFUSED(ws_options_set_tls_pinned_public_key(opts, self_path), "no PEM or DER public key");
    CHECK_REFUSED(ws_options_set_tls_server_name(opts, "two words"), "not a host name");
    CHECK(ws_options_set_tls_min_version(NULL, WS_TLS_1_3) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_options_set_tls_server_name(NULL, NULL) == WS_ERR_NULL_ARGUMENT);

    /* Good values pass (file contents are read at connect time). */
    CHECK(ws_options_set_tls_ca_file(opts, self_path) == WS_OK);
    CHECK(ws_options_set_tls_ca_dir(opts, "/") == WS_OK);
    CHECK(ws_options_add_header(opts, "X-Token", "a b; c=d") == WS_OK);
    CHECK(ws_options_set_origin(opts, "https://app.example:8443") == WS_OK);
    CHECK(ws_options_set_origin(opts, "null") == WS_OK);
    CHECK(ws_options_add_subprotocol(opts, "chat.v2") == WS_OK);
    CHECK(ws_options_set_tls_min_version(opts, WS_TLS_1_3) == WS_OK);
    CHECK(ws_options_set_tls_min_version(opts, WS_TLS_DEFAULT) == WS_OK);
    CHECK(ws_options_set_tls_ciphers(opts, "HIGH:!aNULL") == WS_OK);
    CHECK(ws_options_set_tls_ciphers(opts, NULL) == WS_OK);
    CHECK(ws_options_set_tls13_ciphersuites(opts, "TLS_AES_256_GCM_SHA384") == WS_OK);
    CHECK(ws_options_set_tls13_ciphersuites(opts, NULL) == WS_OK);
    CHECK(ws_options_set_tls_pinned_public_key(
              opts, "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=;"
                    "sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE=") == WS_OK);
    CHECK(ws_options_set_tls_pinned_public_key(opts, NULL) == WS_OK);
    CHECK(ws_options_set_tls_server_name(opts, "example.com") == WS_OK);
    CHECK(ws_options_set_tls_server_name(opts, "[::1]") == WS_OK);
    CHECK(ws_options_set_tls_server_name(opts, NULL) == WS_OK);
    ws_options_free(opts);

    /* Nothing refused was kept: these options still connect (ws://, so the
     * TLS settings are not used). */
    opts = ws_options_new();
    ws_options_add_header(opts, "Bad Name", "v");
    ws_options_add_header(opts, "Host", "evil.example");
    ws_options_add_subprotocol(opts, "two words");
    ws_options_set_origin(opts, "example.com");
    ws_conn *conn = connect_to("/", opts);
    ws_options_free(opts);
    ws_conn_free(conn);
}

/* The message copied into the caller's buffer, as snprintf does. */
static void test_error_copy(void) {
    char buf[256], expected[256];
    ws_options *opts = ws_options_new();
    CHECK(ws_options_add_header(opts, "Bad Name", "v") == WS_ERR_INVALID_ARGUMENT);
    snprintf(expected, sizeof expected, "%s", ws_last_error_message());
    size_t len = strlen(expected);
    CHECK(len > 10);
    CHECK(ws_last_error_copy(buf, sizeof buf) == len && strcmp(buf, expected) == 0);
    CHECK(ws_last_error_copy(NULL, 0) == len);
    CHECK(ws_last_error_copy(NULL, sizeof buf) == len); /* NULL: nothing written */
    memset(buf, 'x', sizeof buf);
    CHECK(ws_last_error_copy(buf, 0) == len && buf[0] == 'x');
    CHECK(ws_last_error_copy(buf, 1) == len && buf[0] == '\0' && buf[1] == 'x');
    memset(buf, 'x', sizeof buf);
    CHECK(ws_last_error_copy(buf, 5) == len && strncmp(buf, expected, 4) == 0 && buf[4] == '\0' &&
          buf[5] == 'x');
    CHECK(ws_last_error_copy(buf, len) == len && buf[len - 1] == '\0' &&
          strncmp(buf, expected, len - 1) == 0);
    CHECK(ws_last_error_copy(buf, len + 1) == len && strcmp(buf, expected) == 0);
    /* Copying is not a failing call: the error stays. */
    CHECK(ws_last_error_code() == WS_ERR_INVALID_ARGUMENT);
    CHECK(strcmp(ws_last_error_message(), expected) == 0);
    /* The copy survives the next failing call, the pointer's text does not. */
    CHECK(ws_options_set_compression_level(opts, 42) == WS_ERR_INVALID_ARGUMENT);
    CHECK(strcmp(buf, expected) == 0 && strcmp(ws_last_error_message(), expected) != 0);
    ws_options_free(opts);

    /* A connection's own message. */
    CHECK(ws_conn_errmsg_copy(NULL, buf, sizeof buf) == 0 && buf[0] == '\0');
    ws_conn *conn = connect_to("/", NULL);
    if (!conn)
        return;
    CHECK(ws_conn_errmsg_copy(conn, buf, sizeof buf) == 0 && buf[0] == '\0'); /* no error yet */
    CHECK(ws_close(conn, 1000, NULL) == WS_OK);
    CHECK(ws_send_text(conn, "late", 4) == WS_ERR_INVALID_STATE);
    snprintf(expected, sizeof expected, "%s", ws_conn_errmsg(conn));
    len = strlen(expected);
    CHECK(len > 0);
    CHECK(ws_conn_errmsg_copy(conn, buf, sizeof buf) == len && strcmp(buf, expected) == 0);
    CHECK(ws_conn_errmsg_copy(conn, NULL, 0) == len);
    memset(buf, 'x', sizeof buf);
    CHECK(ws_conn_errmsg_copy(conn, buf, 0) == len && buf[0] == 'x');
    CHECK(ws_conn_errmsg_copy(conn, buf, 3) == len && strncmp(buf, expected, 2) == 0 && buf[2] == '\0' &&
          buf[3] == 'x');
    ws_conn_free(conn);
}

static void test_maps(void) {
    CHECK(strcmp(ws_opcode_to_optype(0x0), "continuation") == 0);
    CHECK(strcmp(ws_opcode_to_optype(0x8), "connection-close") == 0);
    CHECK(strcmp(ws_opcode_to_optype(0xA), "pong") == 0);
    CHECK(ws_opcode_to_optype(0x3) == NULL);
    CHECK(ws_optype_to_opcode("ping") == 0x9);
    CHECK(ws_optype_to_opcode("nonsense") == WS_ERR_NOT_FOUND);
    CHECK(ws_reason_to_close_code("message-too-big") == 1009);
    CHECK(ws_reason_to_close_code("tls-handshake") == 1015);
    CHECK(ws_reason_to_close_code("nonsense") == WS_ERR_NOT_FOUND);
    CHECK(strcmp(ws_close_code_to_reason(1007), "invalid-frame-payload-data") == 0);
    CHECK(ws_close_code_to_reason(1004) == NULL);
}

static void test_echo(void) {
    ws_options *opts = ws_options_new();
    CHECK(ws_options_add_deflate_offer(opts, "server_max_window_bits=10") == WS_OK);
    CHECK(ws_options_add_deflate_offer(opts, "") == WS_OK);
    ws_conn *conn = connect_to("/", opts);
    ws_options_free(opts); /* the connection does not need the options any more */
    if (!conn)
        return;
    CHECK(ws_conn_state(conn) == WS_STATE_OPEN);
    CHECK(ws_conn_compression(conn));
    CHECK(ws_conn_fd(conn) >= 0);
    CHECK(ws_conn_peer_close_code(conn) == 0); /* no close yet (valgrind: no uninit read) */

    const char *text = "Hello, wörld";
    CHECK(ws_send_text(conn, text, strlen(text)) == WS_OK);
    ws_message *msg = NULL;
    CHECK(ws_recv_message(conn, &msg) == WS_OK);
    CHECK(ws_message_type(msg) == WS_MESSAGE_TEXT);
    CHECK(ws_message_size(msg) == strlen(text));
    CHECK(memcmp(ws_message_data(msg), text, strlen(text)) == 0);
    CHECK(ws_message_frame_count(msg) >= 1);
    const ws_frame *first = ws_message_frame(msg, 0);
    CHECK(first != NULL && ws_frame_opcode(first) == 0x1 && ws_frame_fin(first));
    CHECK(strcmp(ws_frame_optype(first), "text") == 0);
    CHECK(!ws_frame_mask(first));
    CHECK(ws_frame_rsv_bit(first, 4) == ws_message_compressed(msg));
    CHECK(ws_message_frame(msg, 99) == NULL);
    ws_frame_free((ws_frame *)first); /* frames of a message are not the caller's: a no-op */

    /* Echo the received message back as-is. */
    CHECK(ws_send_message(conn, msg) == WS_OK);
    ws_message_free(msg);
    /* Its frame views died with it: refused, not read from freed memory. */
    CHECK(!ws_frame_fin(first) && ws_frame_payload_data(first) == NULL);
    CHECK(ws_message_size(msg) == 0 && ws_message_type(msg) == 0);
    ws_message_free(msg); /* a double free is refused */
    CHECK(ws_last_error_code() == WS_ERR_INVALID_ARGUMENT);
    msg = NULL;
    CHECK(ws_recv_message(conn, &msg) == WS_OK && ws_message_size(msg) == strlen(text));
    ws_message_free(msg);

    /* A megabyte of binary, and an empty message. */
    size_t big = 1 << 20;
    uint8_t *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 31 + (i >> 9));
    CHECK(ws_send_binary(conn, data, big) == WS_OK);
    CHECK(ws_recv_message(conn, &msg) == WS_OK);
    CHECK(ws_message_type(msg) == WS_MESSAGE_BINARY && ws_message_size(msg) == big);
    CHECK(memcmp(ws_message_data(msg), data, big) == 0);
    ws_message_free(msg);
    free(data);
    CHECK(ws_send_binary(conn, NULL, 0) == WS_OK);
    CHECK(ws_recv_message(conn, &msg) == WS_OK && ws_message_size(msg) == 0);
    ws_message_free(msg);

    /* Uncompressed on request; invalid UTF-8 refused before sending. */
    CHECK(ws_send(conn, WS_MESSAGE_TEXT, (const uint8_t *)"plain", 5, WS_SEND_UNCOMPRESSED) == WS_OK);
    CHECK(ws_recv_message(conn, &msg) == WS_OK && ws_message_size(msg) == 5);
    ws_message_free(msg);
    CHECK(ws_send_text(conn, "\xc3\x28", 2) == WS_ERR_INVALID_ARGUMENT);
    CHECK(ws_ping(conn, (const uint8_t *)"p", 1) == WS_OK);
    uint8_t big_ping[126] = {0};
    CHECK(ws_ping(conn, big_ping, sizeof big_ping) == WS_ERR_INVALID_ARGUMENT);

    /* Low level: one frame out, the echo back as a frame (after the pong). */
    ws_frame *frame = ws_frame_new(true, 0, 0x2, (const uint8_t *)"raw", 3);
    CHECK(frame != NULL && ws_frame_mask(frame));
    CHECK(ws_send_frame(conn, frame) == WS_OK);
    ws_frame_free(frame);
    ws_frame *got = NULL;
    do {
        ws_frame_free(got);
        got = NULL;
        CHECK(ws_recv_frame(conn, &got) == WS_OK);
    } while (got && ws_frame_opcode(got) == 0xA);
    CHECK(got && ws_frame_opcode(got) == 0x2 && ws_frame_fin(got));
    /* The server compresses its echo (RSV1); the frame is as on the wire. */
    if (got && ws_frame_rsv_bit(got, 4))
        CHECK(ws_frame_payload_length(got) > 0 && ws_frame_rsv(got) == 4);
    else
        CHECK(got && ws_frame_payload_length(got) == 3 && memcmp(ws_frame_payload_data(got), "raw", 3) == 0);
    ws_frame_free(got);

    /* Close handshake: the server answers with our code. */
    CHECK(ws_close(conn, 1000, "bye") == WS_OK);
    CHECK(ws_conn_state(conn) == WS_STATE_CLOSING);
    CHECK(ws_send_text(conn, "late", 4) == WS_ERR_INVALID_STATE);
    msg = NULL;
    CHECK(ws_recv_message(conn, &msg) == WS_CLOSED && msg == NULL);
    CHECK(ws_conn_peer_close_code(conn) == 1000);
    CHECK(ws_conn_state(conn) == WS_STATE_CLOSED);
    CHECK(ws_recv_message(conn, &msg) == WS_ERR_INVALID_STATE);
    CHECK(strlen(ws_conn_errmsg(conn)) > 0);
    ws_conn_free(conn);
}

static void test_server_close_and_loop(void) {
    ws_conn *conn = connect_to("/close/4001", NULL);
    if (!conn)
        return;
    CHECK(ws_recv_message_loop(conn, NULL, NULL) == WS_ERR_NULL_ARGUMENT);
    ws_message *msg = NULL;
    CHECK(ws_recv_message(conn, &msg) == WS_CLOSED);
    CHECK(ws_conn_peer_close_code(conn) == 4001);
    CHECK(strcmp(ws_conn_peer_close_reason(conn), "bye") == 0);
    ws_conn_free(conn);

    /* A close received as a frame keeps its reason too. */
    conn = connect_to("/close/4001", NULL);
    if (!conn)
        return;
    ws_frame *frame = NULL;
    CHECK(ws_recv_frame(conn, &frame) == WS_OK && frame && ws_frame_opcode(frame) == 0x8);
    ws_frame_free(frame);
    CHECK(ws_conn_peer_close_code(conn) == 4001);
    CHECK(strcmp(ws_conn_peer_close_reason(conn), "bye") == 0);
    ws_conn_free(conn);
}

static int32_t stop_after_one(ws_conn *conn, const ws_message *msg, void *userdata) {
    (void)conn;
    *(size_t *)userdata = ws_message_size(msg);
    return 42;
}

static void test_handler_stops_loop(void) {
    ws_conn *conn = connect_to("/headers", NULL);
    if (!conn)
        return;
    size_t size = 0;
    CHECK(ws_recv_message_loop(conn, stop_after_one, &size) == WS_STOPPED);
    CHECK(ws_last_stop_value() == 42);
    CHECK(size > 0);
    ws_conn_free(conn); /* without a close handshake: the socket is closed */
}

static int32_t return_one(ws_conn *conn, const ws_message *msg, void *userdata) {
    (void)conn, (void)msg, (void)userdata;
    return 1; /* == WS_HTTP_RESPONSE: must not be mistaken for it */
}

static int32_t free_the_connection(ws_conn *conn, const ws_message *msg, void *userdata) {
    (void)msg, (void)userdata;
    ws_conn_free(conn);
    return 0;
}

static void test_handler_codes_and_freeing(void) {
    ws_conn *conn = connect_to("/", NULL);
    if (!conn)
        return;
    CHECK(ws_send_text(conn, "a", 1) == WS_OK);
    CHECK(ws_recv_message_loop(conn, return_one, NULL) == WS_STOPPED);
    CHECK(ws_last_stop_value() == 1);
    /* A handler that frees the connection ends the loop with an error. */
    CHECK(ws_send_text(conn, "b", 1) == WS_OK);
    CHECK(ws_recv_message_loop(conn, free_the_connection, NULL) == WS_ERR_INVALID_STATE);
    CHECK(strstr(ws_last_error_message(), "freed") != NULL);
    CHECK(ws_send_text(conn, "c", 1) == WS_ERR_INVALID_ARGUMENT); /* freed: refused */
}

static void test_http_response(void) {
    char uri[512];
    snprintf(uri, sizeof uri, "%s/status/403", base);
    ws_conn *conn = NULL;
    ws_response *response = NULL;
    CHECK(ws_connect(uri, NULL, &conn, &response) == WS_HTTP_RESPONSE);
    CHECK(conn == NULL && response != NULL);
    CHECK(ws_response_status(response) == 403);
    CHECK(strcmp(ws_response_reason(response), "Forbidden") == 0);
    CHECK(ws_response_header_count(response) > 0);
    CHECK(ws_response_header_name(response, 0) != NULL);
    CHECK(ws_response_header_value(response, 999) == NULL);
    CHECK(strcmp(ws_response_header(response, "content-type"), "text/plain") == 0);
    CHECK(ws_response_body_length(response) == strlen("status 403\n"));
    CHECK(memcmp(ws_response_body(response), "status 403\n", 11) == 0);
    ws_response_free(response);
    /* The response may be ignored. */
    CHECK(ws_connect(uri, NULL, &conn, NULL) == WS_HTTP_RESPONSE);
}

/* ws_result_is_retryable on the outcomes a real server gives, then on the
   codes alone. */
static int32_t outcome(const char *path, uint16_t *status, uint16_t *close_code) {
    char uri[512];
    snprintf(uri, sizeof uri, "%s%s", base, path);
    ws_conn *conn = NULL;
    ws_response *response = NULL;
    *status = *close_code = 0;
    int32_t rc = ws_connect(uri, NULL, &conn, &response);
    if (rc == WS_HTTP_RESPONSE)
        *status = ws_response_status(response);
    ws_response_free(response);
    if (rc == WS_OK) {
        CHECK(!ws_conn_tls_resumed(conn)); /* ws:// */
        ws_message *msg = NULL;
        rc = ws_recv_message(conn, &msg);
        ws_message_free(msg);
        *close_code = ws_conn_peer_close_code(conn);
    }
    ws_conn_free(conn);
    return rc;
}

static void test_retry_classifier(void) {
    uint16_t status, code;
    int32_t rc = outcome("/status/503", &status, &code);
    CHECK(rc == WS_HTTP_RESPONSE && status == 503 && ws_result_is_retryable(rc, status, code));
    rc = outcome("/status/403", &status, &code);
    CHECK(rc == WS_HTTP_RESPONSE && status == 403 && !ws_result_is_retryable(rc, status, code));
    rc = outcome("/close/1012", &status, &code);
    CHECK(rc == WS_CLOSED && code == 1012 && ws_result_is_retryable(rc, status, code));
    rc = outcome("/close/1013", &status, &code);
    CHECK(rc == WS_CLOSED && code == 1013 && ws_result_is_retryable(rc, status, code));
    rc = outcome("/close/1008", &status, &code);
    CHECK(rc == WS_CLOSED && code == 1008 && !ws_result_is_retryable(rc, status, code));
    rc = outcome("/close/1000", &status, &code);
    CHECK(rc == WS_CLOSED && code == 1000 && !ws_result_is_retryable(rc, status, code));

    ws_conn *conn = NULL;
    rc = ws_connect("ws://127.0.0.1:1/", NULL, &conn, NULL);
    CHECK(rc == WS_ERR_CONNECT && ws_result_is_retryable(rc, 0, 0));
    rc = ws_connect("http://example.com/", NULL, &conn, NULL);
    CHECK(rc == WS_ERR_URI && !ws_result_is_retryable(rc, 0, 0));

    CHECK(ws_result_is_retryable(WS_ERR_CONNECTION_LOST, 0, 0));
    CHECK(ws_result_is_retryable(WS_ERR_TIMEOUT, 0, 0));
    CHECK(ws_result_is_retryable(WS_ERR_RESOLVE, 0, 0));
    CHECK(ws_result_is_retryable(WS_ERR_IO, 0, 0));
    CHECK(ws_result_is_retryable(WS_ERR_CONNECTION_LOST, 0, 1001));
    CHECK(!ws_result_is_retryable(WS_ERR_CONNECTION_LOST, 0, 1008));
    CHECK(ws_result_is_retryable(WS_ERR_PROXY, 502, 0));
    CHECK(!ws_result_is_retryable(WS_ERR_PROXY, 407, 0));
    CHECK(!ws_result_is_retryable(WS_HTTP_RESPONSE, 429, 0));
    CHECK(!ws_result_is_retryable(WS_ERR_TLS_VERIFY, 0, 0));
    CHECK(ws_result_is_retryable(WS_ERR_TLS, 0, 0));
    CHECK(!ws_result_is_retryable(WS_HTTP_RESPONSE, 501, 0));
    CHECK(!ws_result_is_retryable(WS_ERR_HANDSHAKE, 0, 0));
    CHECK(!ws_result_is_retryable(WS_ERR_INVALID_ARGUMENT, 0, 0));
    CHECK(!ws_result_is_retryable(WS_ERR_NULL_ARGUMENT, 0, 0));
    CHECK(!ws_result_is_retryable(WS_ERR_PROTOCOL, 0, 0));
    CHECK(!ws_result_is_retryable(WS_OK, 0, 0));
    CHECK(!ws_result_is_retryable(WS_ERR_WOULD_BLOCK, 0, 0));
    CHECK(!ws_result_is_retryable(12345, 0, 0));
    CHECK(!ws_conn_tls_resumed(NULL));
}

static void test_nonblocking(void) {
    ws_conn *conn = connect_to("/", NULL);
    if (!conn)
        return;
    /* A read timeout set after connecting: WS_ERR_TIMEOUT, still usable. */
    CHECK(ws_conn_set_timeouts(conn, 50, 0) == WS_OK);
    ws_message *idle = NULL;
    CHECK(ws_recv_message(conn, &idle) == WS_ERR_TIMEOUT && idle == NULL);
    CHECK(ws_conn_state(conn) == WS_STATE_OPEN);
    CHECK(ws_conn_set_timeouts(conn, 0, 0) == WS_OK);
    CHECK(ws_conn_set_nonblocking(conn, true) == WS_OK);
    ws_message *msg = NULL;
    CHECK(ws_recv_message(conn, &msg) == WS_ERR_WOULD_BLOCK && msg == NULL);
    CHECK(ws_conn_state(conn) == WS_STATE_OPEN);
    CHECK(ws_send_text(conn, "polled", 6) == WS_OK);
    int32_t rc;
    while ((rc = ws_recv_message(conn, &msg)) == WS_ERR_WOULD_BLOCK) {
        struct pollfd pfd = {.fd = ws_conn_fd(conn), .events = POLLIN};
        CHECK(poll(&pfd, 1, 10000) == 1);
    }
    CHECK(rc == WS_OK && ws_message_size(msg) == 6);
    ws_message_free(msg);
    CHECK(ws_close(conn, 1000, NULL) == WS_OK);
    ws_conn_free(conn);
}

/* Issue 27, item 1: a poll() loop written from the man pages alone (wait
 * for ws_conn_wants, at most ws_conn_next_timeout_ms; receive until
 * WS_ERR_WOULD_BLOCK; once WS_CLOSED came, ws_conn_flush on each event)
 * ends within a few iterations after the close. Counted, not timed. */
static void test_poll_loop_ends_after_the_close(void) {
    ws_conn *conn = connect_to("/close/4001", NULL);
    if (!conn)
        return;
    CHECK(ws_conn_set_nonblocking(conn, true) == WS_OK);
    int closed = 0, after_close = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t wants = ws_conn_wants(conn);
        if (wants == 0)
            break;
        if (closed)
            after_close++;
        struct pollfd pfd = {.fd = ws_conn_fd(conn),
                             .events = (short)(((wants & WS_WANT_READ) ? POLLIN : 0) |
                                               ((wants & WS_WANT_WRITE) ? POLLOUT : 0))};
        int64_t timeout = ws_conn_next_timeout_ms(conn);
        CHECK(poll(&pfd, 1, timeout < 0 || timeout > 10000 ? 10000 : (int)timeout) >= 0);
        if (closed) {
            int32_t rc = ws_conn_flush(conn);
            CHECK(rc == WS_OK || rc == WS_ERR_WOULD_BLOCK);
            continue;
        }
        ws_message *msg = NULL;
        int32_t rc;
        while ((rc = ws_recv_message(conn, &msg)) == WS_OK)
            ws_message_free(msg);
        if (rc == WS_CLOSED)
            closed = 1;
        else
            CHECK(rc == WS_ERR_WOULD_BLOCK);
    }
    CHECK(closed);
    CHECK(ws_conn_wants(conn) == 0);
    CHECK(after_close <= 3);
    CHECK(ws_conn_state(conn) == WS_STATE_CLOSED);
    ws_conn_free(conn);
}

static void test_event_loop_calls(void) {
    /* NULL and invalid handles: codes, never a crash. */
    CHECK(ws_conn_flush(NULL) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_conn_wants(NULL) == 0);
    CHECK(ws_conn_next_timeout_ms(NULL) == -1);
    CHECK(ws_conn_queued_bytes(NULL) == 0);
    CHECK(ws_options_set_keepalive(NULL, 1, 1) == WS_ERR_NULL_ARGUMENT);
    ws_options *opts = ws_options_new();
    CHECK(ws_options_set_keepalive(opts, 1000, 0) == WS_ERR_INVALID_ARGUMENT);
    CHECK(ws_options_set_send_queue_limit(opts, 0) == WS_ERR_INVALID_ARGUMENT);
    CHECK(ws_options_set_keepalive(opts, 60000, 30000) == WS_OK);
    CHECK(ws_options_set_send_queue_limit(opts, 1 << 20) == WS_OK);
    ws_conn *conn = connect_to("/", opts);
    ws_options_free(opts);
    if (!conn)
        return;
    /* Keepalive sets the deadline; an idle connection wants to read. */
    int64_t t = ws_conn_next_timeout_ms(conn);
    CHECK(t > 50000 && t <= 60000);
    CHECK(ws_conn_wants(conn) == WS_WANT_READ);
    CHECK(ws_conn_set_nonblocking(conn, true) == WS_OK);
    /* A batch: queued by WS_SEND_MORE, written by one flush, echoed in order. */
    char text[16];
    for (int i = 0; i < 10; i++) {
        int n = snprintf(text, sizeof text, "batch %d", i);
        CHECK(ws_send(conn, WS_MESSAGE_TEXT, (const uint8_t *)text, (size_t)n, WS_SEND_MORE) == WS_OK);
    }
    CHECK(ws_conn_queued_bytes(conn) > 10 * 7);
    CHECK(ws_conn_wants(conn) == (WS_WANT_READ | WS_WANT_WRITE));
    CHECK(ws_conn_flush(conn) == WS_OK);
    CHECK(ws_conn_queued_bytes(conn) == 0);
    for (int i = 0; i < 10; i++) {
        ws_message *msg = NULL;
        int32_t rc;
        while ((rc = ws_recv_message(conn, &msg)) == WS_ERR_WOULD_BLOCK) {
            struct pollfd pfd = {.fd = ws_conn_fd(conn), .events = POLLIN};
            CHECK(poll(&pfd, 1, 10000) == 1);
        }
        int n = snprintf(text, sizeof text, "batch %d", i);
        CHECK(rc == WS_OK && ws_message_size(msg) == (size_t)n && memcmp(ws_message_data(msg), text, (size_t)n) == 0);
        ws_message_free(msg);
    }
    /* A message in parts, a character split between them, echoed whole. */
    const char *parts = "h\xc3\xa9llo";
    size_t taken = 0;
    CHECK(ws_send_part(conn, WS_MESSAGE_TEXT, 6, (const uint8_t *)parts, 2, 0, &taken) == WS_OK && taken == 2);
    CHECK(ws_send_part(conn, WS_MESSAGE_BINARY, 6, (const uint8_t *)parts + 2, 4, 0, &taken) == WS_ERR_INVALID_ARGUMENT);
    CHECK(ws_send_part(conn, WS_MESSAGE_TEXT, 6, (const uint8_t *)parts + 2, 4, 0, NULL) == WS_OK);
    CHECK(ws_conn_flush(conn) == WS_OK);
    {
        ws_message *msg = NULL;
        int32_t rc;
        while ((rc = ws_recv_message(conn, &msg)) == WS_ERR_WOULD_BLOCK) {
            struct pollfd pfd = {.fd = ws_conn_fd(conn), .events = POLLIN};
            CHECK(poll(&pfd, 1, 10000) == 1);
        }
        CHECK(rc == WS_OK && ws_message_type(msg) == WS_MESSAGE_TEXT && ws_message_size(msg) == 6 &&
              memcmp(ws_message_data(msg), parts, 6) == 0);
        ws_message_free(msg);
    }
    /* The close handshake without blocking, to the end. */
    CHECK(ws_close(conn, 1000, "bye") == WS_OK);
    CHECK(ws_conn_state(conn) == WS_STATE_CLOSING);
    int32_t rc;
    ws_message *msg = NULL;
    while ((rc = ws_recv_message(conn, &msg)) == WS_ERR_WOULD_BLOCK) {
        struct pollfd pfd = {.fd = ws_conn_fd(conn), .events = POLLIN};
        CHECK(poll(&pfd, 1, 10000) == 1);
    }
    CHECK(rc == WS_CLOSED && ws_conn_peer_close_code(conn) == 1000);
    while (ws_conn_wants(conn) != 0) {
        struct pollfd pfd = {.fd = ws_conn_fd(conn), .events = POLLIN};
        int64_t wait = ws_conn_next_timeout_ms(conn);
        poll(&pfd, 1, wait < 0 || wait > 10000 ? 10000 : (int)wait);
        ws_conn_flush(conn);
    }
    CHECK(ws_conn_state(conn) == WS_STATE_CLOSED);
    ws_conn_free(conn);
}

/* Messages in parts both ways (ws_recv_part, ws_send_part with deflate),
   their rules, and bad arguments. */
static void test_parts(void) {
    ws_options *opts = ws_options_new();
    CHECK(ws_options_add_deflate_offer(opts, "") == WS_OK);
    ws_conn *conn = connect_to("/", opts);
    ws_options_free(opts);
    if (!conn)
        return;
    CHECK(ws_conn_compression(conn));
    /* Text of 1-, 2-, 3- and 4-byte characters, in pieces of 5 bytes. */
    char text[4096];
    size_t len = 0;
    while (len + 10 < sizeof text) {
        memcpy(text + len, "a\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e", 10);
        len += 10;
    }
    CHECK(ws_send_text(conn, text, len) == WS_OK);
    CHECK(ws_send_text(conn, "second", 6) == WS_OK);
    char got[4096];
    size_t have = 0, n = 0;
    int32_t type = 0;
    bool last = false;
    uint8_t piece[5];
    int cut_characters = 0, pieces = 0;
    CHECK(ws_recv_part(conn, piece, sizeof piece, &n, &type, &last) == WS_OK);
    /* Inside a message received in parts, a whole-message receive is refused. */
    ws_message *msg = NULL;
    CHECK(ws_recv_message(conn, &msg) == WS_ERR_INVALID_STATE && msg == NULL);
    for (;;) {
        CHECK(n <= sizeof piece && type == WS_MESSAGE_TEXT && have + n <= sizeof got);
        if (n > 0 && (piece[0] & 0xC0) == 0x80)
            cut_characters++; /* a piece may not start inside a character */
        memcpy(got + have, piece, n);
        have += n;
        pieces++;
        if (last)
            break;
        if (ws_recv_part(conn, piece, sizeof piece, &n, &type, &last) != WS_OK)
            break;
    }
    CHECK(last && have == len && memcmp(got, text, len) == 0);
    CHECK(cut_characters == 0 && pieces >= (int)(len / 5));
    CHECK(ws_recv_message(conn, &msg) == WS_OK && ws_message_size(msg) == 6);
    ws_message_free(msg);
    /* Bad arguments: a buffer too small for a character, NULLs. */
    CHECK(ws_recv_part(conn, piece, 3, &n, &type, &last) == WS_ERR_INVALID_ARGUMENT);
    CHECK(ws_recv_part(conn, NULL, 5, &n, &type, &last) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_recv_part(NULL, piece, 5, &n, &type, &last) == WS_ERR_NULL_ARGUMENT);
    /* Non-blocking: nothing there yet. */
    CHECK(ws_conn_set_nonblocking(conn, true) == WS_OK);
    CHECK(ws_recv_part(conn, piece, sizeof piece, NULL, NULL, NULL) == WS_ERR_WOULD_BLOCK);
    CHECK(ws_conn_set_nonblocking(conn, false) == WS_OK);
    /* The transport calls belong to ws_connect_transport's connections. */
    CHECK(ws_conn_transport_eof(conn) == WS_ERR_INVALID_STATE);
    CHECK(!ws_conn_transport_done(conn));

    /* 2 MiB of compressible binary in parts of 100 000 bytes, compressed
       piece by piece; the echo comes back whole. */
    size_t total = 2 << 20, part = 100000;
    uint8_t *data = malloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = (uint8_t)("compressible"[i % 12] + i / 65536);
    for (size_t at = 0; at < total; at += part) {
        size_t taken = 0, size = total - at < part ? total - at : part;
        CHECK(ws_send_part(conn, WS_MESSAGE_BINARY, total, data + at, size, 0, &taken) == WS_OK);
        CHECK(taken == size);
    }
    CHECK(ws_recv_message(conn, &msg) == WS_OK);
    CHECK(ws_message_size(msg) == total && memcmp(ws_message_data(msg), data, total) == 0);
    ws_message_free(msg);
    free(data);
    CHECK(ws_close(conn, 1000, NULL) == WS_OK);
    CHECK(ws_recv_part(conn, piece, sizeof piece, &n, &type, &last) == WS_CLOSED);
    ws_conn_free(conn);
}

/* Message i of test_batch: its type, size and byte j. Message 150 is larger
   than the batch buffer. */
static int32_t batch_type(size_t i) { return i % 3 == 0 ? WS_MESSAGE_BINARY : WS_MESSAGE_TEXT; }
static size_t batch_size(size_t i) { return i == 150 ? 70000 : (i * 37) % 201; }
static uint8_t batch_byte(size_t i, size_t j) { return (uint8_t)('a' + (i + j) % 26); }

/* ws_recv_messages: a burst of small messages comes back in few calls, in
   order and intact; a message larger than the buffer is refused and stays
   for ws_recv_message; it mixes with ws_recv_message; its bad arguments;
   a compressed message too large for the buffer is kept for the next
   receive; the close. */
static void test_batch(void) {
    ws_conn *conn = connect_to("/", NULL);
    if (!conn)
        return;
    enum { N = 300, CAP = 64 * 1024, MAX = 64 };
    static uint8_t out[70000], buf[CAP];
    size_t lens[MAX];
    int32_t types[MAX];
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < batch_size(i); j++)
            out[j] = batch_byte(i, j);
        CHECK(ws_send(conn, batch_type(i), out, batch_size(i), WS_SEND_MORE) == WS_OK);
    }
    CHECK(ws_conn_flush(conn) == WS_OK);
    /* Wait until every echo is in the kernel, so that batches are certain. */
    size_t echoed = 0;
    for (size_t i = 0; i < N; i++)
        echoed += batch_size(i) + (batch_size(i) < 126 ? 2 : batch_size(i) < 65536 ? 4 : 10);
    int pending = 0;
    for (int waits = 0; waits < 1000 && (size_t)pending < echoed; waits++) {
        poll(NULL, 0, 10);
        ioctl(ws_conn_fd(conn), FIONREAD, &pending);
    }
    CHECK((size_t)pending >= echoed);
    size_t next = 0, calls = 0, most = 0, refused = 0;
    while (next < N) {
        size_t count = 99;
        int32_t rc = ws_recv_messages(conn, buf, CAP, lens, types, MAX, &count);
        calls++;
        if (rc == WS_ERR_INVALID_ARGUMENT) {
            /* Too large: refused, and still there for ws_recv_message. */
            CHECK(count == 0 && next == 150 && lens[0] == 70000);
            CHECK(strstr(ws_conn_errmsg(conn), "70000") != NULL);
            ws_message *msg = NULL;
            CHECK(ws_recv_message(conn, &msg) == WS_OK && ws_message_size(msg) == 70000);
            CHECK(ws_message_data(msg)[69999] == batch_byte(150, 69999));
            ws_message_free(msg);
            refused++;
            next++;
            continue;
        }
        CHECK(rc == WS_OK && count >= 1 && count <= MAX);
        if (rc != WS_OK)
            break;
        most = count > most ? count : most;
        const uint8_t *at = buf;
        for (size_t k = 0; k < count; k++, next++) {
            CHECK(types[k] == batch_type(next) && lens[k] == batch_size(next));
            bool same = lens[k] == batch_size(next);
            for (size_t j = 0; same && j < lens[k]; j++)
                same = at[j] == batch_byte(next, j);
            CHECK(same);
            at += lens[k];
        }
    }
    CHECK(next == N && refused == 1);
    CHECK(most > 1 && calls < N / 2); /* batches, not one message a call */

    /* Mixed with ws_recv_message; types may be NULL; one at most. */
    for (int i = 0; i < 3; i++)
        CHECK(ws_send_text(conn, "abc", 3) == WS_OK);
    ws_message *msg = NULL;
    CHECK(ws_recv_message(conn, &msg) == WS_OK && ws_message_size(msg) == 3);
    ws_message_free(msg);
    size_t count = 0;
    CHECK(ws_recv_messages(conn, buf, CAP, lens, NULL, 1, &count) == WS_OK && count == 1 && lens[0] == 3);
    CHECK(ws_recv_messages(conn, buf, CAP, lens, types, MAX, NULL) == WS_OK && lens[0] == 3);

    /* Bad arguments leave the connection as it was. */
    CHECK(ws_recv_messages(NULL, buf, CAP, lens, types, MAX, &count) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_recv_messages(conn, NULL, CAP, lens, types, MAX, &count) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_recv_messages(conn, buf, CAP, NULL, types, MAX, &count) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_recv_messages(conn, buf, CAP, lens, types, 0, &count) == WS_ERR_INVALID_ARGUMENT);
    CHECK(ws_conn_set_nonblocking(conn, true) == WS_OK);
    count = 99;
    CHECK(ws_recv_messages(conn, buf, CAP, lens, types, MAX, &count) == WS_ERR_WOULD_BLOCK && count == 0);
    CHECK(ws_conn_set_nonblocking(conn, false) == WS_OK);
    /* The call does not wait to fill the batch: with a read timeout of 30 s,
       one message that came returns at once. */
    CHECK(ws_conn_set_timeouts(conn, 30000, 0) == WS_OK);
    CHECK(ws_send_text(conn, "still open", 10) == WS_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(ws_recv_messages(conn, buf, CAP, lens, types, MAX, &count) == WS_OK && count == 1 && lens[0] == 10);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 < 3.0);
    CHECK(ws_close(conn, 1000, NULL) == WS_OK);
    CHECK(ws_recv_messages(conn, buf, CAP, lens, types, MAX, &count) == WS_CLOSED && count == 0);
    ws_conn_free(conn);

    /* Compressed messages go the general way: one too large for the buffer
       is kept for the next receive, and a receive in parts meanwhile is
       refused. */
    ws_options *opts = ws_options_new();
    CHECK(ws_options_add_deflate_offer(opts, "") == WS_OK);
    conn = connect_to("/", opts);
    ws_options_free(opts);
    if (!conn)
        return;
    CHECK(ws_conn_compression(conn));
    if (!ws_conn_compression(conn)) {
        ws_conn_free(conn);
        return;
    }
    CHECK(ws_send_text(conn, "a compressed message of some length", 35) == WS_OK);
    CHECK(ws_send_text(conn, "short", 5) == WS_OK);
    CHECK(ws_recv_messages(conn, buf, 10, lens, types, MAX, &count) == WS_ERR_INVALID_ARGUMENT);
    CHECK(count == 0 && lens[0] == 35);
    bool last = false;
    CHECK(ws_recv_part(conn, buf, 16, &count, NULL, &last) == WS_ERR_INVALID_STATE);
    CHECK(ws_recv_messages(conn, buf, CAP, lens, types, MAX, &count) == WS_OK && count >= 1 && lens[0] == 35);
    CHECK(memcmp(buf, "a compressed message of some length", 35) == 0);
    if (count == 1)
        CHECK(ws_recv_messages(conn, buf, CAP, lens, types, MAX, &count) == WS_OK && count == 1);
    CHECK(count >= 1 && lens[count - 1] == 5 && types[count - 1] == WS_MESSAGE_TEXT);
    CHECK(ws_close(conn, 1000, NULL) == WS_OK);
    CHECK(ws_recv_messages(conn, buf, CAP, lens, types, MAX, &count) == WS_CLOSED);
    ws_conn_free(conn);
}

/* Receive `n` messages, whatever the calls give, into `got` (one after the
   other) and their lengths; false on an error. */
static bool recv_n(ws_conn *conn, size_t n, uint8_t *got, size_t cap, size_t *lens, int32_t *types) {
    size_t have = 0, used = 0;
    while (have < n) {
        size_t count = 0;
        int32_t rc = ws_recv_messages(conn, got + used, cap - used, lens + have, types + have, n - have, &count);
        if (rc == WS_ERR_INVALID_ARGUMENT && count == 0) {
            ws_message *msg = NULL;
            if (ws_recv_message(conn, &msg) != WS_OK || ws_message_size(msg) > cap - used)
                return false;
            lens[have] = ws_message_size(msg);
            types[have] = ws_message_type(msg);
            memcpy(got + used, ws_message_data(msg), lens[have]);
            ws_message_free(msg);
            count = 1;
        } else if (rc != WS_OK) {
            return false;
        }
        for (size_t k = 0; k < count; k++)
            used += lens[have + k];
        have += count;
    }
    return true;
}

/* ws_send_messages: a batch of 300 (one of them large enough to be paced)
   arrives in order and intact; text that is not UTF-8 stops the batch
   where it is; a bad type sends nothing; a full queue in non-blocking mode
   takes what fits. */
static void test_send_batch(void) {
    enum { N = 300, BIG = 200000 };
    static uint8_t out[N * 201 + BIG], got[N * 201 + BIG];
    static size_t lens[N], got_lens[N];
    static int32_t types[N], got_types[N];
    size_t total = 0;
    for (size_t i = 0; i < N; i++) {
        lens[i] = i == 150 ? BIG : batch_size(i) % 201;
        types[i] = batch_type(i);
        for (size_t j = 0; j < lens[i]; j++)
            out[total + j] = batch_byte(i, j);
        total += lens[i];
    }
    ws_conn *conn = connect_to("/", NULL);
    if (!conn)
        return;
    size_t sent = 99;
    CHECK(ws_send_messages(conn, out, lens, types, N, 0, &sent) == WS_OK && sent == N);
    CHECK(recv_n(conn, N, got, sizeof got, got_lens, got_types));
    CHECK(memcmp(got_lens, lens, sizeof lens) == 0 && memcmp(got_types, types, sizeof types) == 0);
    CHECK(memcmp(got, out, total) == 0);

    /* Invalid UTF-8 in the third: two taken, the connection still usable. */
    uint8_t bad[] = "onetwo\xff" "four";
    size_t bad_lens[] = {3, 3, 1, 4};
    int32_t texts[] = {WS_MESSAGE_TEXT, WS_MESSAGE_TEXT, WS_MESSAGE_TEXT, WS_MESSAGE_TEXT};
    CHECK(ws_send_messages(conn, bad, bad_lens, texts, 4, 0, &sent) == WS_ERR_INVALID_ARGUMENT && sent == 2);
    CHECK(ws_conn_flush(conn) == WS_OK);
    CHECK(recv_n(conn, 2, got, sizeof got, got_lens, got_types) && memcmp(got, "onetwo", 6) == 0);
    /* A bad type: nothing sent. NULLs; an empty batch. */
    int32_t odd[] = {WS_MESSAGE_TEXT, 7};
    CHECK(ws_send_messages(conn, out, bad_lens, odd, 2, 0, &sent) == WS_ERR_INVALID_ARGUMENT && sent == 0);
    CHECK(ws_send_messages(conn, out, NULL, types, 2, 0, &sent) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_send_messages(conn, out, lens, NULL, 2, 0, &sent) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_send_messages(NULL, out, lens, types, 2, 0, &sent) == WS_ERR_NULL_ARGUMENT);
    CHECK(ws_send_messages(conn, NULL, NULL, NULL, 0, 0, &sent) == WS_OK && sent == 0);
    CHECK(ws_send_text(conn, "after", 5) == WS_OK);
    CHECK(recv_n(conn, 1, got, sizeof got, got_lens, got_types) && got_lens[0] == 5);
    CHECK(ws_close(conn, 1000, NULL) == WS_OK);
    ws_conn_free(conn);

    /* Non-blocking with a queue of 1000 bytes: what fits is taken, then
       WS_ERR_WOULD_BLOCK; a flush and the rest go out. */
    ws_options *opts = ws_options_new();
    CHECK(ws_options_set_send_queue_limit(opts, 1000) == WS_OK);
    conn = connect_to("/", opts);
    ws_options_free(opts);
    if (!conn)
        return;
    CHECK(ws_conn_set_nonblocking(conn, true) == WS_OK);
    size_t small[20];
    int32_t bins[20];
    for (int i = 0; i < 20; i++) {
        small[i] = 100;
        bins[i] = WS_MESSAGE_BINARY;
    }
    CHECK(ws_send_messages(conn, out, small, bins, 20, WS_SEND_MORE, &sent) == WS_ERR_WOULD_BLOCK);
    CHECK(sent > 0 && sent < 20);
    size_t first = sent;
    CHECK(ws_conn_set_nonblocking(conn, false) == WS_OK);
    CHECK(ws_conn_flush(conn) == WS_OK);
    CHECK(ws_send_messages(conn, out + first * 100, small + first, bins, 20 - first, 0, &sent) == WS_OK);
    CHECK(sent == 20 - first);
    CHECK(recv_n(conn, 20, got, sizeof got, got_lens, got_types));
    CHECK(memcmp(got, out, 2000) == 0 && got_types[19] == WS_MESSAGE_BINARY);
    CHECK(ws_close(conn, 1000, NULL) == WS_OK);
    ws_conn_free(conn);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_api ws://HOST:PORT\n");
        return 2;
    }
    snprintf(base, sizeof base, "%s", argv[1]);
    self_path = argv[0];
    test_version_and_strings();
    test_null_arguments();
    test_wrong_handle_type();
    test_bad_inputs();
    test_setters_check_their_input();
    test_error_copy();
    test_maps();
    test_echo();
    test_parts();
    test_batch();
    test_send_batch();
    test_server_close_and_loop();
    test_handler_stops_loop();
    test_handler_codes_and_freeing();
    test_http_response();
    test_retry_classifier();
    test_nonblocking();
    test_event_loop_calls();
    test_poll_loop_ends_after_the_close();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
