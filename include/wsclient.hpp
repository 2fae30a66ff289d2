/*
 * wsclient.hpp: a header-only C++17 API over libwsclient's C ABI.
 *
 *   ws::options opts;
 *   opts.deflate().subprotocol("chat").ca_file("ca.pem");
 *   ws::connection conn("wss://example.com/feed", opts);
 *   conn.send_text("hello");
 *   while (auto msg = conn.recv())          // std::nullopt once the server closed
 *       std::cout << msg->text() << '\n';
 *   std::cout << conn.peer_close_code() << '\n';
 *
 * From an event loop, connection::connect_start() returns at once and
 *   connect_continue() finishes the connect step by step (see there).
 *
 * Handles. ws::options, ws::connection and ws::message own one C handle each
 *   and free it in their destructor; they are move-only (a moved-from object
 *   holds nothing, and using it throws ws::exn with WS_ERR_INVALID_STATE).
 *
 * Errors are exceptions, not result types: every failure of this library is
 *   either the end of the connection or a mistake in the call, so the normal
 *   path stays free of checks, constructors (ws::connection) can fail, and
 *   the C library's two kinds map onto two classes, as in the ws-client egg:
 *   ws::fail (the server broke the protocol; a close frame with close_code()
 *   was sent) and ws::exn (anything else; close_code() is 0). Both derive from
 *   ws::error (a std::runtime_error) with code(), the WS_* result code. An
 *   HTTP answer other than 101 throws ws::handshake_rejected, a refusing
 *   proxy ws::proxy_error; both carry the answer as a ws::http_response.
 *   The expected outcomes are not exceptions: recv() returns std::nullopt
 *   when the server closes, and try_recv() (non-blocking mode) returns
 *   ws::recv_status::would_block. An exception's what() is a copy of the
 *   failing call's message taken on the thread that made it
 *   (ws_last_error_copy), so it is right even when other threads use the
 *   same connection meanwhile.
 *
 * Views. text(), bytes(), subprotocol(), header() and the like return
 *   views (std::string_view, ws::byte_view) into memory owned by the
 *   handle: valid while the handle lives.
 *
 * Destruction. Destroying an open ws::connection closes it politely: a
 *   close frame with 1001 "going away" is sent and the server's answer
 *   awaited for at most close_on_destroy_timeout() (250 ms by default; 0
 *   sends nothing), then the socket is closed. For a close with another
 *   code, or to wait for the server as long as the close timeout allows,
 *   call close() and recv() until std::nullopt first.
 *
 * Threads: as in the C API (include/wsclient.h).
 *
 * C++17 is needed (std::optional, std::string_view, if constexpr); from
 *   C++11/14 use the C API, wsclient.h.
 */
#ifndef WSCLIENT_HPP
#define WSCLIENT_HPP

#if defined(_MSVC_LANG) && _MSVC_LANG > __cplusplus
#define WSCLIENT_HPP_CPLUSPLUS _MSVC_LANG
#else
#define WSCLIENT_HPP_CPLUSPLUS __cplusplus
#endif
#if WSCLIENT_HPP_CPLUSPLUS < 201703L
#error "wsclient.hpp needs C++17; use wsclient.h from C++11/14"
#else

#include <wsclient.h>

#include <poll.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace ws {

/* ------------------------------------------------------------------ errors */

/** A failed call: the WS_* result code, the detail, and for a *fail* the
 *  close code sent to the server. */
class error : public std::runtime_error {
  public:
    error(int32_t code, const std::string &message, uint16_t close_code)
        : std::runtime_error(message), code_(code), close_code_(close_code) {}
    /** The WS_* result code (negative; WS_HTTP_RESPONSE for a rejected handshake). */
    int32_t code() const noexcept { return code_; }
    /** The close code sent to the server for a *fail*; 0 for an *exn*. */
    uint16_t close_code() const noexcept { return close_code_; }
    bool is_fail() const noexcept { return ws_result_is_fail(code_); }
    /** ws_result_string(code()): a static description of the code. */
    const char *code_name() const noexcept { return ws_result_string(code_); }
    /** Whether connecting again may succeed (ws_result_is_retryable): after a
     *  network or TLS error or a timeout, an answer 500, 502, 503 or 504
     *  (handshake_rejected, proxy_error), or when the server had closed with
     *  `peer_close_code` 1001, 1011, 1012, 1013 or 1014
     *  (connection::peer_close_code()). */
    bool is_retryable(uint16_t peer_close_code = 0) const noexcept {
        return ws_result_is_retryable(code_, http_status_, peer_close_code);
    }

  protected:
    /** The HTTP status of the answer behind the error, if any. */
    uint16_t http_status_ = 0;

  private:
    int32_t code_;
    uint16_t close_code_;
};

/** The server broke the protocol; the connection was failed with close_code(). */
class fail : public error {
  public:
    using error::error;
};

/** Any other error: bad arguments, timeouts, a lost connection, TLS. */
class exn : public error {
  public:
    using error::error;
};

/** An HTTP answer: the server's non-101 response or a proxy's refusal. */
struct http_response {
    uint16_t status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    /** The first value of header `name` (case-insensitive), if any. */
    std::optional<std::string_view> header(std::string_view name) const {
        for (const auto &h : headers) {
            if (h.first.size() != name.size())
                continue;
            bool same = true;
            for (std::size_t i = 0; i < name.size() && same; i++)
                same = lower(h.first[i]) == lower(name[i]);
            if (same)
                return std::string_view(h.second);
        }
        return std::nullopt;
    }

  private:
    static char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }
};

/** The server answered the handshake with another HTTP status (403, 3xx...). */
class handshake_rejected : public exn {
  public:
    explicit handshake_rejected(http_response r)
        : exn(WS_HTTP_RESPONSE, "the server answered HTTP " + std::to_string(r.status) + " " + r.reason, 0),
          response_(std::move(r)) {
        http_status_ = response_.status;
    }
    const http_response &response() const noexcept { return response_; }

  private:
    http_response response_;
};

/** The HTTP proxy refused the tunnel (e.g. 407: credentials missing or wrong). */
class proxy_error : public exn {
  public:
    proxy_error(const std::string &message, http_response r)
        : exn(WS_ERR_PROXY, message, 0), response_(std::move(r)) {
        http_status_ = response_.status;
    }
    const http_response &response() const noexcept { return response_; }

  private:
    http_response response_;
};

namespace detail {

inline std::string str(const char *s) { return s ? std::string(s) : std::string(); }

/** A copy of the message of the last failing call on this thread
 *  (ws_last_error_copy: never a pointer that a later call can change). */
inline std::string last_error_text() {
    char small[256];
    std::size_t len = ws_last_error_copy(small, sizeof small);
    if (len < sizeof small)
        return std::string(small, len);
    std::string text(len + 1, '\0');
    len = ws_last_error_copy(&text[0], text.size());
    text.resize(len < text.size() ? len : text.size() - 1);
    return text;
}

/** Throw the exception for `code` with `message` and `close_code`. */
[[noreturn]] inline void raise(int32_t code, std::string message, uint16_t close_code) {
    if (message.empty())
        message = ws_result_string(code);
    if (ws_result_is_fail(code))
        throw fail(code, message, close_code);
    throw exn(code, message, close_code);
}

/** Throw this thread's last error if `code` is negative. */
inline int32_t check(int32_t code) {
    if (code < 0)
        raise(code, last_error_text(), ws_last_error_close_code());
    return code;
}

inline http_response copy_response(const ws_response *r) {
    http_response out;
    out.status = ws_response_status(r);
    out.reason = str(ws_response_reason(r));
    for (std::size_t i = 0; i < ws_response_header_count(r); i++)
        out.headers.emplace_back(str(ws_response_header_name(r, i)), str(ws_response_header_value(r, i)));
    const uint8_t *body = ws_response_body(r);
    if (body)
        out.body.assign(reinterpret_cast<const char *>(body), ws_response_body_length(r));
    return out;
}

/** Owns a C handle; frees it with `Free`. Move-only. */
template <typename T, void (*Free)(T *)> class handle {
  public:
    handle() noexcept = default;
    explicit handle(T *p) noexcept : p_(p) {}
    handle(const handle &) = delete;
    handle &operator=(const handle &) = delete;
    handle(handle &&other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
    handle &operator=(handle &&other) noexcept {
        if (this != &other)
            reset(std::exchange(other.p_, nullptr));
        return *this;
    }
    ~handle() { reset(nullptr); }
    void reset(T *p) noexcept {
        if (p_)
            Free(p_);
        p_ = p;
    }
    /** The handle, or ws::exn(WS_ERR_INVALID_STATE) if moved from. */
    T *get() const {
        if (!p_)
            throw exn(WS_ERR_INVALID_STATE, "use of a moved-from wsclient object", 0);
        return p_;
    }
    T *raw() const noexcept { return p_; }
    /** Give up ownership without freeing. */
    T *release() noexcept { return std::exchange(p_, nullptr); }

  private:
    T *p_ = nullptr;
};

inline uint32_t millis(std::chrono::milliseconds ms) {
    if (ms.count() < 0 || ms.count() > 0xffffffffLL)
        throw exn(WS_ERR_INVALID_ARGUMENT, "timeout out of range", 0);
    return static_cast<uint32_t>(ms.count());
}

} // namespace detail

/* ------------------------------------------------------------------ views */

/** A read-only view of bytes (std::span<const std::uint8_t> before C++20). */
class byte_view {
  public:
    constexpr byte_view() noexcept = default;
    constexpr byte_view(const std::uint8_t *data, std::size_t size) noexcept : data_(data), size_(size) {}
    constexpr const std::uint8_t *data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr const std::uint8_t *begin() const noexcept { return data_; }
    constexpr const std::uint8_t *end() const noexcept { return data_ + size_; }
    constexpr std::uint8_t operator[](std::size_t i) const noexcept { return data_[i]; }

  private:
    const std::uint8_t *data_ = nullptr;
    std::size_t size_ = 0;
};

/* ------------------------------------------------------------------ trace */

/** A trace event (ws_options_set_trace), lent to the trace function for
 *  the call: copy what you keep. */
class trace_event {
  public:
    explicit trace_event(const ws_trace_event *e) noexcept : e_(e) {}
    /** WS_TRACE_* */
    int32_t kind() const noexcept { return ws_trace_event_kind(e_); }
    /** "frame-sent", "tls-done", ... */
    std::string_view kind_name() const noexcept {
        const char *n = ws_trace_kind_name(kind());
        return n ? std::string_view(n) : std::string_view();
    }
    uint64_t conn_id() const noexcept { return ws_trace_event_conn_id(e_); }
    /** One line for a log. */
    std::string_view text() const noexcept { return ws_trace_event_text(e_); }
    /** A number field (WS_TRACE_FIELD_*), if the event has it. */
    std::optional<int64_t> number(int32_t field) const noexcept {
        int64_t v = 0;
        if (!ws_trace_event_number(e_, field, &v))
            return std::nullopt;
        return v;
    }
    /** A string field (WS_TRACE_FIELD_*), if the event has it. */
    std::optional<std::string_view> string(int32_t field) const noexcept {
        const char *s = ws_trace_event_string(e_, field);
        if (!s)
            return std::nullopt;
        return std::string_view(s);
    }

  private:
    const ws_trace_event *e_;
};

/** Called for each trace event, on the thread that drives the connection,
 *  while it is locked: it must not use that connection. An exception it
 *  throws is dropped (it cannot cross the C library). */
using trace_function = std::function<void(const trace_event &)>;

/* ------------------------------------------------------------------ options */

/** What ws::connection is told: extension offers, headers, TLS, timeouts... */
class options {
  public:
    options() : h_(ws_options_new()) {
        if (!h_.raw())
            throw exn(WS_ERR_PANIC, "ws_options_new failed", 0);
    }

    /** Offer permessage-deflate with `params` (e.g. "server_max_window_bits=10";
     *  "" for the plain offer); call again for fallback offers. */
    options &deflate(const std::string &params = "") {
        detail::check(ws_options_add_deflate_offer(h_.get(), params.c_str()));
        return *this;
    }
    /** Add a request header: the name an HTTP token, the value without
     *  CR or LF, not one the handshake writes itself (else ws::exn with
     *  WS_ERR_INVALID_ARGUMENT, at once). */
    options &header(const std::string &name, const std::string &value) {
        detail::check(ws_options_add_header(h_.get(), name.c_str(), value.c_str()));
        return *this;
    }
    /** A header carrying a credential: sent only to the origin of the URL
     *  given to ws::connection, unless redirect_credentials(true). */
    options &sensitive_header(const std::string &name, const std::string &value) {
        detail::check(ws_options_add_sensitive_header(h_.get(), name.c_str(), value.c_str()));
        return *this;
    }
    /** Send credentials to every origin a redirect leads to (default off). */
    options &redirect_credentials(bool on = true) {
        detail::check(ws_options_set_redirect_credentials(h_.get(), on));
        return *this;
    }
    /** Send the absolute URI as request-target (GET ws://host/path). */
    options &absolute_form(bool on = true) {
        detail::check(ws_options_set_absolute_form(h_.get(), on));
        return *this;
    }
    /** The ws-client egg's strip-host flag: undoes absolute_form(). */
    options &strip_host(bool on = true) {
        detail::check(ws_options_set_strip_host(h_.get(), on));
        return *this;
    }
    /** "scheme://host[:port]" or "null". */
    options &origin(const std::string &origin) {
        detail::check(ws_options_set_origin(h_.get(), origin.c_str()));
        return *this;
    }
    options &subprotocol(const std::string &protocol) {
        detail::check(ws_options_add_subprotocol(h_.get(), protocol.c_str()));
        return *this;
    }
    /** 0 ms: no timeout. */
    options &timeouts(std::chrono::milliseconds connect, std::chrono::milliseconds handshake,
                      std::chrono::milliseconds read = {}, std::chrono::milliseconds write = {}) {
        detail::check(ws_options_set_timeouts(h_.get(), detail::millis(connect), detail::millis(handshake),
                                              detail::millis(read), detail::millis(write)));
        return *this;
    }
    options &close_timeout(std::chrono::milliseconds ms) {
        detail::check(ws_options_set_close_timeout(h_.get(), detail::millis(ms)));
        return *this;
    }
    options &max_message_size(std::size_t bytes) {
        detail::check(ws_options_set_max_message_size(h_.get(), bytes));
        return *this;
    }
    /** Largest frame payload accepted (default 64 MiB; 1009 beyond). */
    options &max_frame_size(std::uint64_t bytes) {
        detail::check(ws_options_set_max_frame_size(h_.get(), bytes));
        return *this;
    }
    /** Largest handshake response header block (default 64 KiB) and
     *  largest body kept from a non-101 answer (default 1 MiB). */
    options &handshake_limits(std::size_t max_header_bytes, std::size_t max_body_bytes) {
        detail::check(ws_options_set_handshake_limits(h_.get(), max_header_bytes, max_body_bytes));
        return *this;
    }
    options &max_redirects(uint32_t max) {
        detail::check(ws_options_set_max_redirects(h_.get(), max));
        return *this;
    }
    options &ca_file(const std::string &path) {
        detail::check(ws_options_set_tls_ca_file(h_.get(), path.c_str()));
        return *this;
    }
    options &ca_dir(const std::string &path) {
        detail::check(ws_options_set_tls_ca_dir(h_.get(), path.c_str()));
        return *this;
    }
    options &client_cert(const std::string &cert_file, const std::string &key_file = "") {
        detail::check(ws_options_set_tls_client_cert(h_.get(), cert_file.c_str(),
                                                     key_file.empty() ? nullptr : key_file.c_str()));
        return *this;
    }
    /** Refuse TLS versions below WS_TLS_1_2 or WS_TLS_1_3 (WS_TLS_DEFAULT:
     *  OpenSSL's floor). */
    options &tls_min_version(int32_t version) {
        detail::check(ws_options_set_tls_min_version(h_.get(), version));
        return *this;
    }
    /** TLS 1.2 ciphers in OpenSSL's syntax ("": the default); a list
     *  OpenSSL refuses throws WS_ERR_INVALID_ARGUMENT. */
    options &tls_ciphers(const std::string &list) {
        detail::check(ws_options_set_tls_ciphers(h_.get(), list.empty() ? nullptr : list.c_str()));
        return *this;
    }
    /** TLS 1.3 cipher suites, ':'-separated ("": no TLS 1.3). */
    options &tls13_ciphersuites(const std::string &list) {
        detail::check(ws_options_set_tls13_ciphersuites(h_.get(), list.c_str()));
        return *this;
    }
    /** Public-key pins: "sha256//<base64>[;...]" or a PEM/DER public key
     *  file, as curl's CURLOPT_PINNEDPUBLICKEY ("": no pinning). */
    options &tls_pinned_public_key(const std::string &pins) {
        detail::check(ws_options_set_tls_pinned_public_key(h_.get(), pins.c_str()));
        return *this;
    }
    /** SNI and the name verified, instead of the URI's host ("": the URI's host). */
    options &tls_server_name(const std::string &name) {
        detail::check(ws_options_set_tls_server_name(h_.get(), name.c_str()));
        return *this;
    }
    /** DANGER: accept any certificate for any host. For tests only. */
    options &danger_accept_invalid_certs(bool on = true) {
        detail::check(ws_options_set_tls_danger_accept_invalid_certs(h_.get(), on));
        return *this;
    }
    /** Connect through a proxy: "http://", "socks5://" or "socks5h://" [user:password@]host:port. */
    options &proxy(const std::string &url) {
        detail::check(ws_options_set_proxy(h_.get(), url.c_str()));
        return *this;
    }
    /** Pin a host's addresses as curl's --resolve: "host:port:addr[,addr...]", IPv6 in brackets. */
    options &resolve(const std::string &entry) {
        detail::check(ws_options_add_resolve(h_.get(), entry.c_str()));
        return *this;
    }
    /** Take the proxy from http_proxy/https_proxy/all_proxy, honouring no_proxy. */
    options &env_proxy(bool on = true) {
        detail::check(ws_options_use_env_proxy(h_.get(), on));
        return *this;
    }
    options &fragment_size(std::size_t bytes) {
        detail::check(ws_options_set_fragment_size(h_.get(), bytes));
        return *this;
    }
    options &compression_level(int level) {
        detail::check(ws_options_set_compression_level(h_.get(), level));
        return *this;
    }
    options &auto_pong(bool on) {
        detail::check(ws_options_set_auto_pong(h_.get(), on));
        return *this;
    }
    /** Ping every `interval`; fail the connection (ws::exn, WS_ERR_TIMEOUT)
     *  when a pong is later than `timeout`. */
    options &keepalive(std::chrono::milliseconds interval, std::chrono::milliseconds timeout) {
        detail::check(ws_options_set_keepalive(h_.get(), detail::millis(interval), detail::millis(timeout)));
        return *this;
    }
    /** Bound of the send queue (default 4 MiB), in both modes: a message
     *  that would pass it waits for room (blocking) or is refused whole
     *  (non-blocking: try_send() returns false). */
    options &send_queue_limit(std::size_t bytes) {
        detail::check(ws_options_set_send_queue_limit(h_.get(), bytes));
        return *this;
    }

    /** Trace every step of the connections made with these options
     *  (ws_options_set_trace); an empty function turns it off. The
     *  connections keep the function alive. */
    options &trace(trace_function fn) {
        if (!fn) {
            detail::check(ws_options_set_trace(h_.get(), nullptr, nullptr));
            trace_.reset();
            return *this;
        }
        auto kept = std::make_shared<trace_function>(std::move(fn));
        auto call = [](const ws_trace_event *e, void *userdata) {
            try {
                (*static_cast<trace_function *>(userdata))(trace_event(e));
            } catch (...) {
            }
        };
        detail::check(ws_options_set_trace(h_.get(), call, kept.get()));
        trace_ = std::move(kept);
        return *this;
    }
    /** Append the TLS secrets to `path` for Wireshark (a debugging aid). */
    options &tls_keylog_file(const std::string &path) {
        detail::check(ws_options_set_tls_keylog_file(h_.get(), path.c_str()));
        return *this;
    }
    /** Take the key log file from SSLKEYLOGFILE (off by default). */
    options &tls_keylog_env(bool on = true) {
        detail::check(ws_options_set_tls_keylog_env(h_.get(), on));
        return *this;
    }

    /** The C handle, for ws_options_* calls this class does not wrap. */
    ws_options *c_handle() { return h_.get(); }
    const ws_options *c_handle() const { return h_.get(); }
    /** The trace function these options call, if any. */
    std::shared_ptr<trace_function> trace_function_kept() const { return trace_; }

  private:
    detail::handle<ws_options, ws_options_free> h_;
    std::shared_ptr<trace_function> trace_;
};

/* ------------------------------------------------------------------ messages */

enum class message_type { text = WS_MESSAGE_TEXT, binary = WS_MESSAGE_BINARY };

/** A received (or built) message; views into it live as long as it does. */
class message {
  public:
    /** A message to send; text must be valid UTF-8 (else ws::exn). */
    message(message_type type, byte_view data)
        : h_(ws_message_new(static_cast<int32_t>(type), data.data(), data.size())) {
        if (!h_.raw())
            detail::raise(ws_last_error_code(), detail::last_error_text(), 0);
    }
    static message text(std::string_view s) {
        return message(message_type::text, byte_view(reinterpret_cast<const std::uint8_t *>(s.data()), s.size()));
    }
    /** Adopt a C message (used by ws::connection). */
    explicit message(ws_message *adopted) noexcept : h_(adopted) {}

    message_type type() const { return static_cast<message_type>(ws_message_type(h_.get())); }
    bool is_text() const { return type() == message_type::text; }
    byte_view bytes() const { return byte_view(ws_message_data(h_.get()), ws_message_size(h_.get())); }
    /** The payload as characters (UTF-8 for a text message). */
    std::string_view text() const {
        byte_view b = bytes();
        return std::string_view(reinterpret_cast<const char *>(b.data()), b.size());
    }
    std::size_t size() const { return ws_message_size(h_.get()); }
    bool compressed() const { return ws_message_compressed(h_.get()); }
    std::size_t frame_count() const { return ws_message_frame_count(h_.get()); }

    const ws_message *c_handle() const { return h_.get(); }

  private:
    friend class connection;
    detail::handle<ws_message, ws_message_free> h_;
};

/* ------------------------------------------------------------------ connections */

enum class recv_status { message, would_block, closed };

/** A piece of a message received with connection::recv_part(). */
struct part {
    std::size_t size;
    message_type type;
    bool last;
};

/** Messages received together with connection::recv_messages(): views
 *  into the batch's own buffer, valid until the batch is filled again. The
 *  buffer grows to fit a message larger than it. */
class batch {
  public:
    explicit batch(std::size_t capacity = 256 * 1024, std::size_t max_messages = 1024)
        : buf_(capacity ? capacity : 1), lens_(max_messages ? max_messages : 1), types_(lens_.size()),
          starts_(lens_.size()) {}
    std::size_t size() const noexcept { return count_; }
    bool empty() const noexcept { return count_ == 0; }
    message_type type(std::size_t i) const { return static_cast<message_type>(types_.at(i)); }
    byte_view data(std::size_t i) const { return byte_view(buf_.data() + starts_.at(i), lens_.at(i)); }
    std::string_view text(std::size_t i) const {
        return std::string_view(reinterpret_cast<const char *>(buf_.data() + starts_.at(i)), lens_.at(i));
    }

  private:
    friend class connection;
    std::vector<std::uint8_t> buf_;
    std::vector<std::size_t> lens_;
    std::vector<std::int32_t> types_;
    std::vector<std::size_t> starts_;
    std::size_t count_ = 0;
};

/** Messages to send together with connection::send_messages(): each one
 *  copied in as it is added, one after the other in the outbox's buffer. */
class outbox {
  public:
    void add(message_type type, byte_view data) {
        buf_.insert(buf_.end(), data.data(), data.data() + data.size());
        lens_.push_back(data.size());
        types_.push_back(static_cast<std::int32_t>(type));
    }
    void add_text(std::string_view text) {
        add(message_type::text, byte_view(reinterpret_cast<const std::uint8_t *>(text.data()), text.size()));
    }
    void add_binary(byte_view data) { add(message_type::binary, data); }
    std::size_t size() const noexcept { return lens_.size(); }
    bool empty() const noexcept { return lens_.empty(); }
    void clear() noexcept {
        buf_.clear();
        lens_.clear();
        types_.clear();
    }

  private:
    friend class connection;
    std::vector<std::uint8_t> buf_;
    std::vector<std::size_t> lens_;
    std::vector<std::int32_t> types_;
};

/** A WebSocket connection: open, or connecting after connect_start()
 *  (destroying it then cancels the connect). Destroying it while open sends a close
 *  frame with 1001 "going away" and waits at most
 *  close_on_destroy_timeout() for the server's answer (see the top of this
 *  file). */
class connection {
  public:
    /** Connect to `url` (ws:// or wss://) and do the opening handshake.
     *  Throws ws::handshake_rejected for a non-101 answer, ws::proxy_error
     *  when a proxy refuses, ws::exn or ws::fail otherwise. */
    explicit connection(const std::string &url, const options &opts = options()) {
        ws_conn *conn = nullptr;
        ws_response *response = nullptr;
        int32_t rc = ws_connect(url.c_str(), opts.c_handle(), &conn, &response);
        if (response)
            refused(rc, response);
        detail::check(rc);
        h_.reset(conn);
        trace_ = opts.trace_function_kept();
    }

    /** Start connecting to `url` without blocking (ws_connect_start): a
     *  connection that is_connecting(). Drive it from an event loop: wait on
     *  fd() for wants_read()/wants_write(), at most next_timeout(), then
     *  connect_continue(), until that returns true. Throws only for a bad
     *  URL or option; a failed connect is thrown by connect_continue(). */
    static connection connect_start(const std::string &url, const options &opts = options()) {
        ws_conn *conn = nullptr;
        detail::check(ws_connect_start(url.c_str(), opts.c_handle(), &conn));
        connection started;
        started.h_.reset(conn);
        started.trace_ = opts.trace_function_kept();
        return started;
    }
    /** One step of a connect begun by connect_start(), without waiting:
     *  true once open (in non-blocking mode; try_recv() before waiting),
     *  false while it goes on. While connecting, fd() is one descriptor
     *  to wait on for reading; once this returns true it is the socket's
     *  (another one): read it again then. Throws as the
     *  constructor does (ws::handshake_rejected, ws::proxy_error, ws::exn
     *  with e.g. WS_ERR_TIMEOUT, ws::fail). */
    bool connect_continue() {
        ws_response *response = nullptr;
        int32_t rc = ws_connect_continue(h(), &response);
        if (rc == WS_ERR_WOULD_BLOCK)
            return false;
        if (response)
            refused(rc, response);
        check(rc);
        return true;
    }

    connection(connection &&other) noexcept
        : h_(std::move(other.h_)), goodbye_ms_(other.goodbye_ms_), trace_(std::move(other.trace_)) {}
    /** Closes this connection as the destructor does, then takes `other`'s. */
    connection &operator=(connection &&other) noexcept {
        if (this != &other) {
            go_away();
            h_ = std::move(other.h_);
            goodbye_ms_ = other.goodbye_ms_;
            trace_ = std::move(other.trace_);
        }
        return *this;
    }
    ~connection() { go_away(); }

    /** How long the destructor waits for the server's answer to its
     *  1001 "going away" close (default 250 ms); 0: no close frame, the
     *  socket is just closed. */
    void close_on_destroy_timeout(std::chrono::milliseconds ms) { goodbye_ms_ = detail::millis(ms); }
    std::chrono::milliseconds close_on_destroy_timeout() const noexcept {
        return std::chrono::milliseconds(goodbye_ms_);
    }

    // --- sending (in non-blocking mode: queued; a full queue throws
    // ws::exn with WS_ERR_WOULD_BLOCK, or returns false from try_send)
    void send_text(std::string_view text) { check(ws_send_text(h(), text.data(), text.size())); }
    /** Non-blocking friendly: false when the send queue is full (nothing
     *  was queued; flush() and try again). */
    bool try_send(message_type type, byte_view data) {
        int32_t rc = ws_send(h(), static_cast<int32_t>(type), data.data(), data.size(), 0);
        if (rc == WS_ERR_WOULD_BLOCK)
            return false;
        check(rc);
        return true;
    }
    void send_binary(byte_view data) { check(ws_send_binary(h(), data.data(), data.size())); }
    /** Send every message of `box` in one call (ws_send_messages; `more`:
     *  leave them queued, as WS_SEND_MORE). Returns how many were taken:
     *  all of them, or, in non-blocking mode, those that fit the send queue
     *  (flush() and send the rest). Throws on any other error. */
    std::size_t send_messages(const outbox &box, bool more = false) {
        std::size_t sent = 0;
        int32_t rc = ws_send_messages(h(), box.buf_.data(), box.lens_.data(), box.types_.data(), box.size(),
                                      more ? WS_SEND_MORE : 0, &sent);
        if (rc != WS_ERR_WOULD_BLOCK)
            check(rc);
        return sent;
    }
    void send(const message &msg) { check(ws_send_message(h(), msg.c_handle())); }
    void ping(byte_view payload = {}) { check(ws_ping(h(), payload.data(), payload.size())); }
    /** Start the close handshake (code 0: no code); then recv() until std::nullopt. */
    void close(uint16_t code = 1000, const std::string &reason = "") {
        check(ws_close(h(), code, reason.empty() ? nullptr : reason.c_str()));
    }

    // --- receiving
    /** The next message; std::nullopt once the server has closed (see
     *  peer_close_code()). In non-blocking mode use try_recv(). */
    std::optional<message> recv() {
        std::optional<message> out;
        if (try_recv(out) == recv_status::would_block)
            throw exn(WS_ERR_WOULD_BLOCK, "recv() in non-blocking mode: use try_recv()", 0);
        return out;
    }
    /** Non-blocking friendly: a message (in `out`), would_block, or closed. */
    recv_status try_recv(std::optional<message> &out) {
        ws_message *msg = nullptr;
        int32_t rc = ws_recv_message(h(), &msg);
        if (rc == WS_OK) {
            out.emplace(msg);
            return recv_status::message;
        }
        out.reset();
        if (rc == WS_CLOSED)
            return recv_status::closed;
        if (rc == WS_ERR_WOULD_BLOCK)
            return recv_status::would_block;
        check(rc);
        return recv_status::closed; // not reached: check() threw
    }
    /** Call `handler(const message&)` for each message until the server
     *  closes or the handler returns false (a void handler runs to the close).
     *  The message is lent for the call: copy what you keep. An exception from the handler
     *  stops the loop and is rethrown here (never through the C library). */
    template <typename Handler> void recv_loop(Handler &&handler) {
        struct state {
            Handler *handler;
            std::exception_ptr thrown;
        } st{&handler, nullptr};
        auto trampoline = [](ws_conn *, const ws_message *msg, void *userdata) -> int32_t {
            auto *s = static_cast<state *>(userdata);
            // The loop owns `msg`: lend it for the call, never free it.
            struct borrowed {
                message m;
                ~borrowed() { m.h_.release(); }
            } lent{message(const_cast<ws_message *>(msg))};
            try {
                const message &m = lent.m;
                if constexpr (std::is_void_v<std::invoke_result_t<Handler &, const message &>>) {
                    (*s->handler)(m);
                    return 0;
                } else {
                    return (*s->handler)(m) ? 0 : 1;
                }
            } catch (...) {
                s->thrown = std::current_exception();
                return 1;
            }
        };
        int32_t rc = ws_recv_message_loop(h(), trampoline, &st);
        if (st.thrown)
            std::rethrow_exception(st.thrown);
        if (rc < 0)
            check(rc);
    }

    /** The next piece of a message, as it arrives, into `buf` (at least 4
     *  bytes; ws_recv_part): messages of any size in bounded memory. A text
     *  piece ends between characters. std::nullopt once the server has
     *  closed; in non-blocking mode, throws ws::exn with WS_ERR_WOULD_BLOCK
     *  when nothing is there. */
    std::optional<part> recv_part(uint8_t *buf, std::size_t cap) {
        std::size_t n = 0;
        int32_t type = 0;
        bool last = false;
        int32_t rc = ws_recv_part(h(), buf, cap, &n, &type, &last);
        if (rc == WS_CLOSED)
            return std::nullopt;
        check(rc);
        return part{n, static_cast<message_type>(type), last};
    }

    /** Every message received by now into `into` (at least one; blocking
     *  mode waits for it; ws_recv_messages): one call a batch for streams of
     *  small messages. false once the server has closed; in non-blocking
     *  mode, throws ws::exn with WS_ERR_WOULD_BLOCK when none is there. */
    bool recv_messages(batch &into) {
        into.count_ = 0;
        for (;;) {
            std::size_t n = 0;
            int32_t rc = ws_recv_messages(h(), into.buf_.data(), into.buf_.size(), into.lens_.data(),
                                          into.types_.data(), into.lens_.size(), &n);
            if (rc == WS_ERR_INVALID_ARGUMENT && n == 0 && into.lens_[0] > into.buf_.size()) {
                into.buf_.resize(into.lens_[0]); // a message larger than the buffer
                continue;
            }
            if (rc == WS_CLOSED)
                return false;
            check(rc);
            std::size_t at = 0;
            for (std::size_t i = 0; i < n; i++) {
                into.starts_[i] = at;
                at += into.lens_[i];
            }
            into.count_ = n;
            return true;
        }
    }

    /** A counter or connect timing (WS_STAT_*, ws_conn_stat). */
    uint64_t stat(int32_t which) const { return ws_conn_stat(h(), which); }
    /** The id the connection's trace events carry. */
    uint64_t id() const { return ws_conn_id(h()); }

    // --- driving it from an event loop (see ws_conn_set_nonblocking)
    void set_nonblocking(bool on) { check(ws_conn_set_nonblocking(h(), on)); }
    /** The descriptor to wait on; while connecting it changes from one
     *  connect_continue() to the next, and -1 means call it now. */
    int fd() const { return ws_conn_fd(h()); }
    /** Write what is queued and run due deadlines (keepalive, close
     *  timeout); true when the queue is empty. */
    bool flush() {
        int32_t rc = ws_conn_flush(h());
        if (rc == WS_ERR_WOULD_BLOCK)
            return false;
        check(rc);
        return true;
    }
    /** Wait for reading (then try_recv) when set. */
    bool wants_read() const { return ws_conn_wants(h()) & WS_WANT_READ; }
    /** Wait for writing (then flush) when set. */
    bool wants_write() const { return ws_conn_wants(h()) & WS_WANT_WRITE; }
    /** Time to the next deadline (then flush()), or none. */
    std::optional<std::chrono::milliseconds> next_timeout() const {
        int64_t ms = ws_conn_next_timeout_ms(h());
        if (ms < 0)
            return std::nullopt;
        return std::chrono::milliseconds(ms);
    }
    std::size_t queued_bytes() const { return ws_conn_queued_bytes(h()); }

    // --- state
    bool is_open() const { return ws_conn_state(h()) == WS_STATE_OPEN; }
    /** Started by connect_start() and not open yet. */
    bool is_connecting() const { return ws_conn_state(h()) == WS_STATE_CONNECTING; }
    std::optional<std::string_view> subprotocol() const { return view(ws_conn_subprotocol(h())); }
    bool compression() const { return ws_conn_compression(h()); }
    /** Whether the TLS handshake resumed an earlier connection's session. */
    bool tls_resumed() const { return ws_conn_tls_resumed(h()); }
    /** A response header of the handshake; valid until the connection is freed. */
    std::optional<std::string_view> header(const std::string &name) {
        return view(ws_conn_header(h(), name.c_str()));
    }
    /** The server's close code: 0 before its close frame arrives, 1005 if
     *  its close frame had no code. */
    uint16_t peer_close_code() const { return ws_conn_peer_close_code(h()); }
    std::string_view peer_close_reason() const {
        auto r = view(ws_conn_peer_close_reason(h()));
        return r ? *r : std::string_view();
    }

    ws_conn *c_handle() const { return h(); }

  private:
    connection() noexcept = default;
    ws_conn *h() const { return h_.get(); }
    /** Throw the HTTP answer `response` to a connect (freeing it): copy,
     *  free, then throw, so nothing leaks if the copy throws. */
    [[noreturn]] static void refused(int32_t rc, ws_response *response) {
        std::string why = detail::last_error_text();
        http_response copy;
        try {
            copy = detail::copy_response(response);
        } catch (...) {
            ws_response_free(response);
            throw;
        }
        ws_response_free(response);
        if (rc == WS_ERR_PROXY)
            throw proxy_error(why, std::move(copy));
        throw handshake_rejected(std::move(copy));
    }
    /** The failing call's message and close code, from this thread's last
     *  error: another thread's later failure on the same connection cannot
     *  replace them, as it could ws_conn_errmsg's. */
    void check(int32_t rc) const {
        if (rc < 0)
            detail::raise(rc, detail::last_error_text(), ws_last_error_close_code());
    }
    /** The destructor's close: 1001 "going away" without blocking, then
     *  flush and read the server's answer for at most goodbye_ms_. */
    void go_away() noexcept {
        ws_conn *c = h_.raw();
        int32_t state = c ? ws_conn_state(c) : WS_STATE_CLOSED;
        if (goodbye_ms_ == 0 || state == WS_STATE_CLOSED || state == WS_STATE_CONNECTING) {
            h_.reset(nullptr);
            return;
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(goodbye_ms_);
        if (ws_conn_set_nonblocking(c, true) == WS_OK &&
            (ws_conn_state(c) != WS_STATE_OPEN || ws_close(c, 1001, "going away") == WS_OK)) {
            for (;;) {
                int32_t rc = WS_OK;
                ws_message *msg = nullptr;
                while ((rc = ws_recv_message(c, &msg)) == WS_OK)
                    ws_message_free(msg); // messages that came before the close
                if (rc != WS_ERR_WOULD_BLOCK)
                    break; // WS_CLOSED: the server answered; or the connection is over
                rc = ws_conn_flush(c);
                if (rc != WS_OK && rc != WS_ERR_WOULD_BLOCK)
                    break;
                auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now());
                if (left.count() <= 0)
                    break;
                pollfd p{ws_conn_fd(c), static_cast<short>(POLLIN | (rc == WS_OK ? 0 : POLLOUT)), 0};
                ::poll(&p, 1, static_cast<int>(left.count()) + 1);
            }
        }
        h_.reset(nullptr);
    }
    static std::optional<std::string_view> view(const char *s) {
        if (!s)
            return std::nullopt;
        return std::string_view(s);
    }

    detail::handle<ws_conn, ws_conn_free> h_;
    uint32_t goodbye_ms_ = 250;
    /** The trace function, alive as long as the connection may call it. */
    std::shared_ptr<trace_function> trace_;
};

} // namespace ws

#endif /* C++17 */
#endif /* WSCLIENT_HPP */
