// C++ API tests (include/wsclient.hpp) against a real websockets echo server
// started by tests/integration/test_cpp.py:
//
//   test_wsclient ws://127.0.0.1:PORT ws://127.0.0.1:PORT2 ws://127.0.0.1:PORT3
//
// (the first offers permessage-deflate, the second requires subprotocol
// "chat", the third echoes and records the close code and reason each
// connection's path got: test_cpp.py checks them after this program). Built with -std=c++17 -Wall -Wextra -Werror under ASan and UBSan;
// the last line is "N passed, N failed".
#include <algorithm>
#include <poll.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>

#include "wsclient.hpp"
#include "../c/check.h"

static int passed, failed;


// Run `body`, expecting it to throw `E`; then check `cond(e)`.
#define CHECK_THROWS(E, body, cond)                                                                \
    do {                                                                                           \
        try {                                                                                      \
            body;                                                                                  \
            failed++;                                                                              \
            std::fprintf(stderr, "%s:%d: no " #E " thrown\n", __FILE__, __LINE__);                 \
        } catch (const E &e) {                                                                     \
            CHECK(cond);                                                                           \
        } catch (const std::exception &other) {                                                    \
            failed++;                                                                              \
            std::fprintf(stderr, "%s:%d: wrong exception: %s\n", __FILE__, __LINE__, other.what()); \
        }                                                                                          \
    } while (0)

static std::string base, chat_base, recording_base, self_path;

// Handles own their C objects: move-only.
static_assert(!std::is_copy_constructible_v<ws::connection>);
static_assert(!std::is_copy_assignable_v<ws::connection>);
static_assert(std::is_nothrow_move_constructible_v<ws::connection>);
static_assert(!std::is_copy_constructible_v<ws::message>);
static_assert(std::is_nothrow_move_constructible_v<ws::message>);
static_assert(!std::is_copy_constructible_v<ws::options>);
static_assert(std::is_base_of_v<ws::error, ws::fail> && std::is_base_of_v<ws::error, ws::exn>);
static_assert(std::is_base_of_v<std::runtime_error, ws::error>);
static_assert(std::is_nothrow_move_assignable_v<ws::connection>);
static_assert(std::is_nothrow_destructible_v<ws::connection>);
// The C handle of options is reachable for writing, for C calls.
static_assert(std::is_same_v<decltype(std::declval<ws::options &>().c_handle()), ws_options *>);
static_assert(std::is_same_v<decltype(std::declval<const ws::options &>().c_handle()), const ws_options *>);

static void test_echo_text_binary_and_views() {
    ws::options opts;
    opts.deflate("server_max_window_bits=10").deflate();
    ws::connection conn(base + "/", opts);
    CHECK(conn.is_open());
    CHECK(conn.compression());
    CHECK(!conn.tls_resumed()); // ws://
    CHECK(!conn.subprotocol());
    CHECK(conn.header("Upgrade").value_or("") == "websocket");

    conn.send_text("héllo");
    auto msg = conn.recv();
    CHECK(msg && msg->is_text() && msg->text() == "héllo");
    CHECK(msg && msg->compressed());

    const std::uint8_t blob[] = {0, 1, 2, 250, 255};
    conn.send_binary(ws::byte_view(blob, sizeof blob));
    msg = conn.recv();
    CHECK(msg && msg->type() == ws::message_type::binary && msg->size() == sizeof blob);
    CHECK(msg && std::memcmp(msg->bytes().data(), blob, sizeof blob) == 0);
    std::size_t sum = 0;
    for (std::uint8_t b : msg->bytes())
        sum += b;
    CHECK(sum == 0 + 1 + 2 + 250 + 255);

    // A built message, moved around, then sent.
    ws::message built = ws::message::text("built");
    ws::message moved = std::move(built);
    CHECK_THROWS(ws::exn, (void)built.size(), e.code() == WS_ERR_INVALID_STATE);
    conn.send(moved);
    CHECK(conn.recv()->text() == "built");

    conn.close(1000, "bye");
    CHECK(!conn.recv());
    CHECK(conn.peer_close_code() == 1000);
    CHECK(!conn.is_open());
}

static void test_subprotocol_and_moves() {
    ws::options opts;
    opts.subprotocol("other").subprotocol("chat");
    ws::connection first(chat_base + "/", opts);
    ws::connection conn = std::move(first);
    CHECK(conn.subprotocol().value_or("") == "chat");
    CHECK_THROWS(ws::exn, first.send_text("x"), e.code() == WS_ERR_INVALID_STATE);
    ws::options moved_opts = std::move(opts);
    CHECK_THROWS(ws::exn, opts.origin("x"), e.code() == WS_ERR_INVALID_STATE);
    conn.close();
    CHECK(!conn.recv());
}

static void test_server_close_code() {
    ws::connection conn(base + "/close/4001");
    CHECK(!conn.recv());
    CHECK(conn.peer_close_code() == 4001);
    CHECK(conn.peer_close_reason() == "bye");
}

static void test_handshake_rejected_carries_the_response() {
    CHECK_THROWS(ws::handshake_rejected, ws::connection(base + "/status/403"),
                 e.response().status == 403 && e.response().body == "status 403\n" &&
                     e.response().header("content-type").value_or("") == "text/plain" &&
                     e.code() == WS_HTTP_RESPONSE && !e.is_fail());
    // It is an exn, so one catch clause can take every non-protocol error.
    CHECK_THROWS(ws::exn, ws::connection(base + "/status/500"), e.close_code() == 0);
    // A 5xx may pass, a 4xx not.
    CHECK_THROWS(ws::handshake_rejected, ws::connection(base + "/status/403"), !e.is_retryable());
    CHECK_THROWS(ws::exn, ws::connection(base + "/status/503"), e.is_retryable());
}

static void test_exn_and_fail() {
    CHECK_THROWS(ws::exn, ws::connection("ws://127.0.0.1:1/"),
                 e.code() == WS_ERR_CONNECT && !e.is_fail() && e.close_code() == 0 &&
                     std::string(e.what()).find("127.0.0.1:1") != std::string::npos &&
                     e.is_retryable() && !e.is_retryable(1008) && e.is_retryable(1012));
    CHECK_THROWS(ws::exn, ws::connection("http://example.com/"),
                 e.code() == WS_ERR_URI && !e.is_retryable());
    ws::options opts;
    CHECK_THROWS(ws::exn, opts.deflate("bogus"), e.code() == WS_ERR_INVALID_ARGUMENT);
    CHECK_THROWS(ws::exn, opts.proxy("ftp://h:1"), e.code() == WS_ERR_INVALID_ARGUMENT);
    CHECK_THROWS(ws::exn, opts.timeouts(std::chrono::milliseconds(-1), {}),
                 e.code() == WS_ERR_INVALID_ARGUMENT);
    CHECK_THROWS(ws::exn, ws::message::text("\xff"), e.code() == WS_ERR_INVALID_ARGUMENT);
    // A *fail*: the echo of a message over our limit is failed with 1009.
    opts.max_message_size(16);
    ws::connection conn(base + "/", opts);
    conn.send_text(std::string(100, 'x'));
    CHECK_THROWS(ws::fail, conn.recv(),
                 e.close_code() == 1009 && e.is_fail() && e.code() == WS_ERR_MESSAGE_TOO_BIG);
}

static void test_recv_loop_and_handler_exceptions() {
    ws::connection conn(base + "/");
    for (const char *t : {"a", "b", "c"})
        conn.send_text(t);
    std::string seen;
    conn.recv_loop([&](const ws::message &m) {
        seen += m.text();
        return seen.size() < 2; // stop after the second
    });
    CHECK(seen == "ab");
    // An exception in the handler stops the loop and reaches the caller.
    try {
        conn.recv_loop([](const ws::message &m) -> bool { throw std::runtime_error(std::string(m.text())); });
        CHECK(false);
    } catch (const std::runtime_error &e) {
        CHECK(std::string(e.what()) == "c");
    }
    // A void handler runs until the server closes.
    conn.close(1000, "done");
    int count = 0;
    conn.recv_loop([&](const ws::message &) { count++; });
    CHECK(count == 0 && conn.peer_close_code() == 1000);
}

// Poll for what the connection wants (or its next deadline), up to 100 ms.
static void wait_for(ws::connection &conn) {
    short events = POLLIN;
    if (conn.wants_write())
        events |= POLLOUT;
    pollfd p{conn.fd(), events, 0};
    int timeout = 100;
    if (auto t = conn.next_timeout())
        timeout = t->count() < timeout ? static_cast<int>(t->count()) : timeout;
    poll(&p, 1, timeout);
}

static void test_nonblocking() {
    ws::options opts;
    opts.send_queue_limit(256 << 10);
    ws::connection conn(base + "/", opts);
    conn.set_nonblocking(true);
    std::optional<ws::message> out;
    CHECK(conn.try_recv(out) == ws::recv_status::would_block && !out);
    CHECK(conn.wants_read());
    CHECK(!conn.next_timeout());
    CHECK_THROWS(ws::exn, conn.recv(), e.code() == WS_ERR_WOULD_BLOCK);
    conn.send_text("later");
    ws::recv_status st = ws::recv_status::would_block;
    for (int i = 0; i < 100 && st == ws::recv_status::would_block; i++) {
        conn.flush();
        wait_for(conn);
        st = conn.try_recv(out);
    }
    CHECK(st == ws::recv_status::message && out && out->text() == "later");

    // Fill the queue without reading: try_send says when it is full; then
    // flush and receive until every message came back, in order.
    std::string big(256 << 10, 'q');
    int queued = 0, echoed = 0;
    while (queued < 400 && conn.try_send(ws::message_type::binary,
                                        ws::byte_view(reinterpret_cast<const std::uint8_t *>(big.data()), big.size())))
        queued++;
    CHECK(queued < 400); // the queue filled up once the socket buffers did
    CHECK(conn.queued_bytes() > 0);
    for (int i = 0; i < 2000 && echoed < queued; i++) {
        conn.flush();
        wait_for(conn);
        while (conn.try_recv(out) == ws::recv_status::message)
            echoed += out->size() == big.size();
    }
    CHECK(echoed == queued);

    conn.close();
    for (int i = 0; i < 100 && st != ws::recv_status::closed; i++) {
        conn.flush();
        wait_for(conn);
        st = conn.try_recv(out);
    }
    CHECK(st == ws::recv_status::closed);
    while (conn.wants_read() || conn.wants_write()) { // the server's TCP close
        if (conn.flush() && !conn.wants_read() && !conn.wants_write())
            break;
        wait_for(conn);
    }
}

// One connect_continue() after another until open, waiting as wait_for does.
static bool drive(ws::connection &conn) {
    for (int i = 0; i < 1000; i++) {
        if (conn.connect_continue())
            return true;
        wait_for(conn); // fd() read again: it changes while connecting
    }
    return false;
}

static void test_connect_without_blocking() {
    ws::connection conn = ws::connection::connect_start(base + "/");
    CHECK(conn.is_connecting() && !conn.is_open());
    CHECK_THROWS(ws::exn, conn.send_text("early"), e.code() == WS_ERR_INVALID_STATE);
    CHECK(drive(conn));
    CHECK(conn.is_open() && !conn.is_connecting());
    CHECK(conn.connect_continue()); // open stays open
    // Open in non-blocking mode: the send is queued, the echo awaited.
    conn.send_text("started");
    std::optional<ws::message> out;
    ws::recv_status st = ws::recv_status::would_block;
    for (int i = 0; i < 100 && st == ws::recv_status::would_block; i++) {
        conn.flush();
        wait_for(conn);
        st = conn.try_recv(out);
    }
    CHECK(st == ws::recv_status::message && out && out->text() == "started");

    // A bad URL is thrown at once; a failed connect by connect_continue().
    CHECK_THROWS(ws::exn, ws::connection::connect_start("http://example.com/"), e.code() == WS_ERR_URI);
    ws::connection refused = ws::connection::connect_start("ws://127.0.0.1:1/");
    CHECK_THROWS(ws::exn, drive(refused), e.code() == WS_ERR_CONNECT && !refused.is_connecting());
    ws::connection rejected = ws::connection::connect_start(base + "/status/403");
    CHECK_THROWS(ws::handshake_rejected, drive(rejected),
                 e.response().status == 403 && e.response().body == "status 403\n");
    // Destroying (or assigning over) a connection still connecting cancels it.
    ws::connection pending = ws::connection::connect_start(base + "/");
    CHECK(pending.is_connecting());
    pending = ws::connection::connect_start(base + "/");
    CHECK(drive(pending) && pending.is_open());
}

static void test_keepalive_option() {
    ws::options opts;
    CHECK_THROWS(ws::exn, opts.keepalive(std::chrono::milliseconds(100), std::chrono::milliseconds(0)),
                 e.code() == WS_ERR_INVALID_ARGUMENT);
    opts.keepalive(std::chrono::milliseconds(50), std::chrono::milliseconds(2000));
    ws::connection conn(base + "/", opts);
    conn.set_nonblocking(true);
    auto t = conn.next_timeout(); // the first ping is due
    CHECK(t && t->count() <= 50);
    conn.close();
}

// Every ws_options_* function has a setter (test_cpp.py checks the header
// for the list); each is called here, and the options still connect.
static void test_every_option_setter() {
    using std::chrono::milliseconds;
    ws::options opts;
    opts.deflate("client_max_window_bits")
        .strip_host(true)
        .absolute_form(false)
        .header("X-Plain", "p")
        .sensitive_header("X-Token", "secret")
        .redirect_credentials(false)
        .origin("https://app.example")
        .max_message_size(1 << 20)
        .max_frame_size(1 << 20)
        .handshake_limits(32 << 10, 4 << 10)
        .timeouts(milliseconds(5000), milliseconds(5000))
        .close_timeout(milliseconds(2000))
        .keepalive(milliseconds(0), milliseconds(0))
        .send_queue_limit(1 << 20)
        .max_redirects(2)
        .ca_file(self_path) // read only for wss://
        .ca_dir("/")
        .client_cert(self_path, self_path)
        .danger_accept_invalid_certs(false)
        .tls_min_version(WS_TLS_1_2)
        .tls_ciphers("HIGH:!aNULL")
        .tls13_ciphersuites("TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256")
        .tls_pinned_public_key("")
        .tls_server_name("localhost")
        .fragment_size(0)
        .compression_level(3)
        .auto_pong(true)
        .proxy("")
        .env_proxy(false);
    // The handle is writable for C calls.
    CHECK(ws_options_set_auto_pong(opts.c_handle(), true) == WS_OK);
    ws::connection conn(base + "/", opts);
    conn.send_text("all set");
    CHECK(conn.recv()->text() == "all set");
    conn.close();
    CHECK(!conn.recv());
}

// Bad values are refused by the setter, with the reason in plain words.
static void test_setters_refuse_bad_values_at_once() {
    ws::options opts;
    CHECK_THROWS(ws::exn, opts.header("Bad Name", "v"),
                 e.code() == WS_ERR_INVALID_ARGUMENT &&
                     std::string(e.what()).find("not an HTTP token") != std::string::npos);
    CHECK_THROWS(ws::exn, opts.ca_file("/nonexistent/ca.pem"),
                 e.code() == WS_ERR_INVALID_ARGUMENT &&
                     std::string(e.what()).find("/nonexistent/ca.pem: no such file") != std::string::npos);
    CHECK_THROWS(ws::exn, opts.sensitive_header("X Token", "s"), e.code() == WS_ERR_INVALID_ARGUMENT);
    CHECK_THROWS(ws::exn, opts.tls_min_version(12), e.code() == WS_ERR_INVALID_ARGUMENT);
    CHECK_THROWS(ws::exn, opts.tls_ciphers("NO-SUCH-CIPHER"), e.code() == WS_ERR_INVALID_ARGUMENT);
    CHECK_THROWS(ws::exn, opts.tls13_ciphersuites("TLS_BOGUS"), e.code() == WS_ERR_INVALID_ARGUMENT);
    CHECK_THROWS(ws::exn, opts.tls_pinned_public_key("sha256//AAAA"),
                 e.code() == WS_ERR_INVALID_ARGUMENT &&
                     std::string(e.what()).find("bad public key pin") != std::string::npos);
    CHECK_THROWS(ws::exn, opts.tls_server_name("two words"), e.code() == WS_ERR_INVALID_ARGUMENT);
    CHECK_THROWS(ws::exn, opts.handshake_limits(0, 0).origin("nowhere"), e.code() == WS_ERR_INVALID_ARGUMENT);
}

// The destructor of an open connection sends 1001 "going away" (the
// server's record is checked by test_cpp.py); so does assigning over one.
static void test_destructor_says_going_away() {
    {
        ws::connection conn(recording_base + "/destroyed-open");
        conn.send_text("hi");
        CHECK(conn.recv()->text() == "hi");
    }
    {
        ws::connection conn(recording_base + "/assigned-over");
        conn = ws::connection(recording_base + "/assigned-then-destroyed");
        CHECK(conn.is_open());
    }
    {
        // Non-blocking mode, with a message of the server's unread.
        ws::connection conn(recording_base + "/destroyed-nonblocking");
        conn.set_nonblocking(true);
        conn.send_text("unread echo");
        conn.flush();
    }
    {
        // Closed by the caller: that code stands.
        ws::connection conn(recording_base + "/closed-first");
        conn.close(4000, "mine");
        CHECK(!conn.recv());
    }
    {
        // A timeout of 0: no close frame (the server sees 1006).
        ws::connection conn(recording_base + "/no-goodbye");
        conn.close_on_destroy_timeout(std::chrono::milliseconds(0));
        CHECK(conn.close_on_destroy_timeout().count() == 0);
    }
}

/* The trace (the function outlives the options), counters, and a message
   received in parts. */
static void test_trace_stats_and_parts() {
    std::vector<std::string> kinds;
    uint64_t traced_id = 0;
    std::optional<ws::connection> conn;
    {
        ws::options opts;
        opts.deflate().trace([&](const ws::trace_event &e) {
            kinds.emplace_back(e.kind_name());
            traced_id = e.conn_id();
            if (e.kind() == WS_TRACE_FRAME_SENT)
                CHECK(e.number(WS_TRACE_FIELD_OPCODE).has_value());
            CHECK(!e.string(WS_TRACE_FIELD_ELAPSED_US));
            throw std::runtime_error("dropped, never through C");
        });
        conn.emplace(base + "/", opts);
    } // the options are gone; the connection keeps the function
    std::string text(10000, 'x');
    conn->send_text(text);
    uint8_t buf[100];
    std::string got;
    for (;;) {
        auto p = conn->recv_part(buf, sizeof buf);
        CHECK(p && p->type == ws::message_type::text && p->size <= sizeof buf);
        if (!p)
            break;
        got.append(reinterpret_cast<const char *>(buf), p->size);
        if (p->last)
            break;
    }
    CHECK(got == text);
    CHECK(conn->stat(WS_STAT_MESSAGES_OUT) == 1 && conn->stat(WS_STAT_MESSAGES_IN) == 1);
    CHECK(conn->stat(WS_STAT_PAYLOAD_IN) == text.size());
    CHECK(conn->id() == traced_id && traced_id != 0);
    CHECK(std::find(kinds.begin(), kinds.end(), "open") != kinds.end());
    CHECK(std::find(kinds.begin(), kinds.end(), "frame-received") != kinds.end());
    // A batch: small messages and one larger than the batch's buffer, sent
    // in one call.
    ws::batch b(64, 16);
    ws::outbox box;
    for (int i = 0; i < 5; i++)
        box.add_text(std::string(i == 3 ? 1000 : 10, char('a' + i)));
    CHECK(box.size() == 5 && conn->send_messages(box) == 5);
    std::string seen;
    while (seen.size() < 5 && conn->recv_messages(b)) {
        CHECK(!b.empty() && b.size() <= 5 - seen.size());
        for (std::size_t i = 0; i < b.size(); i++) {
            std::size_t k = seen.size();
            CHECK(b.type(i) == ws::message_type::text && b.text(i) == std::string(k == 3 ? 1000 : 10, char('a' + k)));
            CHECK(b.data(i).size() == b.text(i).size());
            seen.push_back(b.text(i)[0]);
        }
    }
    CHECK(seen == "abcde");
    conn->close();
    CHECK(!conn->recv_messages(b)); // the server's close
}

int main(int argc, char **argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: test_wsclient ws://HOST:PORT ws://HOST:CHAT_PORT ws://HOST:RECORDING_PORT\n");
        return 2;
    }
    base = argv[1];
    chat_base = argv[2];
    recording_base = argv[3];
    self_path = argv[0];
    try {
        test_echo_text_binary_and_views();
        test_subprotocol_and_moves();
        test_server_close_code();
        test_handshake_rejected_carries_the_response();
        test_exn_and_fail();
        test_recv_loop_and_handler_exceptions();
        test_nonblocking();
        test_connect_without_blocking();
        test_keepalive_option();
        test_every_option_setter();
        test_setters_refuse_bad_values_at_once();
        test_destructor_says_going_away();
        test_trace_stats_and_parts();
    } catch (const ws::error &e) {
        failed++;
        std::fprintf(stderr, "unexpected ws::error %d (%s): %s\n", e.code(), e.code_name(), e.what());
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
