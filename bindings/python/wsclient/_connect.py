"""connect(), the egg's ``ws-connect``: its arguments checked and turned
into a ws_options handle for an :class:`~wsclient._opening.Opening`
(:func:`start`), which connect() waits for. The websockets-style clients
start the same Opening (see ``_wsopts``); the asyncio one waits for it on
its event loop."""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _ffi
from ._connection import _UNSET, Connection, _Unset
from ._ffi import lib
from ._observe import LoggerLike, get_logger, trace_for
from ._opening import Opening
from ._response import HTTPResponse
from ._util import SIZE_MAX, U32_MAX, U64_MAX, cpath, cstr, flag, integer, millis, type_name

DeflateParams = Union[
    Mapping[str, Union[bool, int, str, None]],
    Sequence[Tuple[str, Union[bool, int, str, None]]],
    str,
]
DeflateArg = Union[bool, None, DeflateParams, Sequence[DeflateParams]]
HeadersArg = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]


def _deflate_offer(params: Any) -> str:
    """One offer as the library's `;`-separated parameter string."""
    if isinstance(params, str):
        if "\0" in params:
            raise ValueError("deflate parameters must not contain NUL characters")
        return params
    if isinstance(params, Mapping):
        items = list(params.items())
    elif isinstance(params, (list, tuple)):
        items = []
        for pair in params:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise TypeError(
                    "deflate parameters must be a dict, a list of (name, value) pairs, or a str"
                )
            items.append((pair[0], pair[1]))
    else:
        raise TypeError(
            f"deflate parameters must be a dict, a list of (name, value) pairs, or a str, "
            f"not {type_name(params)}"
        )
    parts = []
    for name, value in items:
        if not isinstance(name, str):
            raise TypeError(f"deflate parameter names must be str, not {type_name(name)}")
        if value is True:
            parts.append(name)
        elif value is False or value is None:
            continue
        elif isinstance(value, (int, str)):
            parts.append(f"{name}={value}")
        else:
            raise TypeError(
                f"deflate parameter {name!r} must be True, an int or a str, not {type_name(value)}"
            )
    return "; ".join(parts)


def _deflate_offers(deflate: Any) -> List[str]:
    """connect()'s `deflate` as a list of offers."""
    if deflate is None or deflate is False:
        return []
    if deflate is True:
        return [""]
    if isinstance(deflate, (str, Mapping)):
        return [_deflate_offer(deflate)]
    if isinstance(deflate, (list, tuple)):
        if not deflate:
            return []
        # A list of offers, or (the egg's alist) one offer as (name, value) pairs.
        if all(isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], str) for p in deflate):
            return [_deflate_offer(deflate)]
        return [_deflate_offer(p) for p in deflate]
    raise TypeError(
        f"deflate must be True, a dict of parameters, or a list of them, not {type_name(deflate)}"
    )


#: Headers the handshake writes itself (lower case) -> the option to use.
#: libwsclient would send a second copy of these (see the README).
_RESERVED_HEADERS = {
    "host": None,
    "upgrade": None,
    "connection": None,
    "sec-websocket-key": None,
    "sec-websocket-version": None,
    "sec-websocket-extensions": "deflate=",
    "sec-websocket-protocol": "subprotocols=",
    "origin": "origin=",
}


def _headers(headers: Any) -> List[Tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        items = list(headers.items())
    elif isinstance(headers, (str, bytes)):
        raise TypeError("headers must be a dict or a list of (name, value) pairs")
    else:
        try:
            items = [tuple(p) for p in headers]
        except TypeError:
            raise TypeError(
                f"headers must be a dict or a list of (name, value) pairs, not {type_name(headers)}"
            ) from None
        if any(len(p) != 2 for p in items):
            raise TypeError("headers must be a dict or a list of (name, value) pairs")
    for name, _ in items:
        if isinstance(name, str) and name.lower() in _RESERVED_HEADERS:
            option = _RESERVED_HEADERS[name.lower()]
            hint = f"; use {option}" if option else ""
            raise ValueError(f"the handshake sets the {name} header itself{hint}")
    return [(n, v) for n, v in items]


def connect(
    url: str,
    *,
    deflate: DeflateArg = None,
    headers: HeadersArg = None,
    sensitive_headers: HeadersArg = None,
    redirect_credentials: bool = False,
    origin: Optional[str] = None,
    subprotocols: Optional[Sequence[str]] = None,
    timeout: Union[float, None, _Unset] = _UNSET,
    connect_timeout: Union[float, None, _Unset] = _UNSET,
    handshake_timeout: Union[float, None, _Unset] = _UNSET,
    read_timeout: Union[float, None, _Unset] = _UNSET,
    write_timeout: Union[float, None, _Unset] = _UNSET,
    close_timeout: Optional[float] = 5.0,
    ca_file: Any = None,
    ca_dir: Any = None,
    client_cert: Any = None,
    client_key: Any = None,
    danger_accept_invalid_certs: bool = False,
    strip_host: bool = False,
    absolute_form: bool = False,
    max_redirects: int = 0,
    max_message_size: Optional[int] = None,
    max_frame_size: Optional[int] = None,
    fragment_size: Optional[int] = None,
    compression_level: Optional[int] = None,
    auto_pong: bool = True,
    ping_interval: Optional[float] = None,
    ping_timeout: Optional[float] = None,
    proxy: Optional[str] = None,
    use_env_proxy: bool = False,
    logger: LoggerLike = None,
) -> Union[Connection, HTTPResponse]:
    """Open a WebSocket connection to `url` (ws:// or wss://), the egg's
    ``ws-connect``.

    Returns a :class:`Connection`, or an :class:`HTTPResponse` when the
    server answers the handshake with another HTTP status (e.g. 403, or a
    redirect when `max_redirects` is 0): check with
    :func:`is_ws_connection` or ``isinstance``. In a ``with`` statement an
    HTTPResponse raises :class:`~wsclient.HandshakeRejected`. The wait can be
    interrupted (Ctrl-C): that cancels the connect.

    Options (all keyword-only):

    - `deflate`: offer permessage-deflate. True for a bare offer; a dict of
      parameters (``{"server_max_window_bits": 10,
      "client_no_context_takeover": True}``); or a list of such dicts, sent
      in order as fallbacks (the egg's ``'((("server_max_window_bits" .
      "10")) ())`` is ``[{"server_max_window_bits": 10}, {}]``). A parameter
      whose value is True is sent without a value.
    - `headers`: extra request headers, a dict or a list of (name, value);
      not the ones the handshake writes itself (Host, Upgrade, Connection,
      Sec-WebSocket-*, Origin: ValueError).
    - `sensitive_headers`: headers that carry credentials (an API token):
      like Authorization and Cookie they go only to the origin of `url`,
      not to another origin a redirect leads to, unless
      `redirect_credentials=True`.
    - `origin`: an Origin header. `subprotocols`: offered in order.
    - Timeouts in seconds (None: wait forever): `timeout` sets the four
      below unless they are given; `connect_timeout` (default 30),
      `handshake_timeout` (default 30), `read_timeout` (default None: a
      ``recv`` blocks until a message arrives; otherwise it raises
      :class:`~wsclient.WebSocketTimeout` and the connection stays usable),
      `write_timeout` (default None). `close_timeout` (default 5) bounds the
      wait for the server's close in :meth:`Connection.close` and for TCP
      to close after the close handshake.
    - TLS: `ca_file` / `ca_dir` (trust these CAs instead of the system
      store), `client_cert` and `client_key` (PEM; the key may be in the
      cert file). `danger_accept_invalid_certs=True` accepts any
      certificate for any host: it removes all protection TLS gives against
      an active attacker, for tests only.
    - `strip_host`: the egg's flag; the request-target is already the
      origin-form (path and query), so this only undoes `absolute_form`
      (``GET ws://host:port/path``, as the egg 1.0 sent).
    - `max_redirects`: follow up to this many redirects (default 0: return
      them as an HTTPResponse). wss is never downgraded to ws.
    - Limits in bytes: `max_message_size` (after decompression),
      `max_frame_size` (default 64 MiB each); beyond them the connection is
      failed with 1009. `fragment_size`: split outgoing messages into
      frames of at most this size. `compression_level`: zlib level 0-9 (or
      -1). `auto_pong`: answer pings automatically (default True).
    - Keepalive (off by default): `ping_interval` seconds between pings,
      `ping_timeout` seconds to wait for the pong before the connection is
      failed (needs a library with ``ws_options_set_keepalive``).
    - `proxy`: connect through this HTTP proxy
      (``"http://user:password@host:port"``, Basic authentication; a CONNECT
      tunnel, so wss:// stays end to end). `use_env_proxy=True` takes the
      proxy from ``http_proxy``/``https_proxy``/``all_proxy`` and honours
      ``no_proxy`` (off by default, as in the C library). A refusal (e.g.
      407) raises :class:`~wsclient.ProxyError` with the proxy's
      ``.response``.
    - `logger`: where the connection's trace goes at DEBUG (the handshake,
      each frame's header, pings, pongs, the close, a failure): a
      ``logging.Logger``, a ``LoggerAdapter`` or a logger name; by default
      the logger ``wsclient``. Only when it is enabled for DEBUG at the
      connect is anything traced (see :attr:`Connection.stats` for the
      counters, kept in any case).
    """
    return start(
        url,
        deflate=deflate,
        headers=headers,
        sensitive_headers=sensitive_headers,
        redirect_credentials=redirect_credentials,
        origin=origin,
        subprotocols=subprotocols,
        timeout=timeout,
        connect_timeout=connect_timeout,
        handshake_timeout=handshake_timeout,
        read_timeout=read_timeout,
        write_timeout=write_timeout,
        close_timeout=close_timeout,
        ca_file=ca_file,
        ca_dir=ca_dir,
        client_cert=client_cert,
        client_key=client_key,
        danger_accept_invalid_certs=danger_accept_invalid_certs,
        strip_host=strip_host,
        absolute_form=absolute_form,
        max_redirects=max_redirects,
        max_message_size=max_message_size,
        max_frame_size=max_frame_size,
        fragment_size=fragment_size,
        compression_level=compression_level,
        auto_pong=auto_pong,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        proxy=proxy,
        use_env_proxy=use_env_proxy,
        logger=logger,
    ).wait()


def start(
    url: str,
    *,
    deflate: DeflateArg = None,
    headers: HeadersArg = None,
    sensitive_headers: HeadersArg = None,
    redirect_credentials: bool = False,
    origin: Optional[str] = None,
    subprotocols: Optional[Sequence[str]] = None,
    timeout: Union[float, None, _Unset] = _UNSET,
    connect_timeout: Union[float, None, _Unset] = _UNSET,
    handshake_timeout: Union[float, None, _Unset] = _UNSET,
    read_timeout: Union[float, None, _Unset] = _UNSET,
    write_timeout: Union[float, None, _Unset] = _UNSET,
    close_timeout: Optional[float] = 5.0,
    ca_file: Any = None,
    ca_dir: Any = None,
    client_cert: Any = None,
    client_key: Any = None,
    danger_accept_invalid_certs: bool = False,
    strip_host: bool = False,
    absolute_form: bool = False,
    max_redirects: int = 0,
    max_message_size: Optional[int] = None,
    max_frame_size: Optional[int] = None,
    fragment_size: Optional[int] = None,
    compression_level: Optional[int] = None,
    auto_pong: bool = True,
    ping_interval: Optional[float] = None,
    ping_timeout: Optional[float] = None,
    proxy: Optional[str] = None,
    use_env_proxy: bool = False,
    logger: LoggerLike = None,
    stream: Any = None,
) -> Opening:
    """:func:`connect` up to the wait: its arguments checked, the connect
    started (a bad URI or option raises here). With `stream` (a
    ``_transport.Stream``, open and its TLS done) the connection runs over
    it, the caller's transport."""
    raw_url = cstr(url, "url")
    offers = [cstr(o, "deflate parameters") for o in _deflate_offers(deflate)]
    header_list = [(cstr(n, "header name"), cstr(v, "header value")) for n, v in _headers(headers)]
    secret_list = [(cstr(n, "header name"), cstr(v, "header value")) for n, v in _headers(sensitive_headers)]
    flag(redirect_credentials, "redirect_credentials")
    raw_origin = None if origin is None else cstr(origin, "origin")
    if subprotocols is None:
        protocols: List[bytes] = []
    elif isinstance(subprotocols, (str, bytes)) or not isinstance(subprotocols, (list, tuple)):
        raise TypeError(f"subprotocols must be a list of str, not {type_name(subprotocols)}")
    else:
        protocols = [cstr(p, "subprotocol") for p in subprotocols]

    def pick(value: Any, default: Optional[float]) -> Any:
        if not isinstance(value, _Unset):
            return value
        if not isinstance(timeout, _Unset):
            return timeout
        return default

    timeouts_ms = (
        millis(pick(connect_timeout, 30.0), "connect_timeout"),
        millis(pick(handshake_timeout, 30.0), "handshake_timeout"),
        millis(pick(read_timeout, None), "read_timeout"),
        millis(pick(write_timeout, None), "write_timeout"),
    )
    close_ms = millis(close_timeout, "close_timeout")
    keepalive = (millis(ping_interval, "ping_interval"), millis(ping_timeout, "ping_timeout"))
    tls_ca_file = None if ca_file is None else cpath(ca_file, "ca_file")
    tls_ca_dir = None if ca_dir is None else cpath(ca_dir, "ca_dir")
    cert = None if client_cert is None else cpath(client_cert, "client_cert")
    key = None if client_key is None else cpath(client_key, "client_key")
    if key is not None and cert is None:
        raise ValueError("client_key needs client_cert")
    insecure = flag(danger_accept_invalid_certs, "danger_accept_invalid_certs")
    flag(strip_host, "strip_host")
    flag(absolute_form, "absolute_form")
    flag(auto_pong, "auto_pong")
    flag(use_env_proxy, "use_env_proxy")
    raw_proxy = None if proxy is None else cstr(proxy, "proxy")
    log = get_logger(logger)
    integer(max_redirects, "max_redirects", 0, U32_MAX)
    if max_message_size is not None:
        integer(max_message_size, "max_message_size", 1, SIZE_MAX)
    if max_frame_size is not None:
        integer(max_frame_size, "max_frame_size", 1, U64_MAX)
    if fragment_size is not None:
        integer(fragment_size, "fragment_size", 1, SIZE_MAX)
    if compression_level is not None:
        integer(compression_level, "compression_level", -1, 9)

    opts = lib.ws_options_new()
    try:
        for offer in offers:
            lib.ws_options_add_deflate_offer(opts, offer)
        for name, value in header_list:
            lib.ws_options_add_header(opts, name, value)
        for name, value in secret_list:
            lib.ws_options_add_sensitive_header(opts, name, value)
        if redirect_credentials:
            lib.ws_options_set_redirect_credentials(opts, True)
        if raw_origin is not None:
            lib.ws_options_set_origin(opts, raw_origin)
        for p in protocols:
            lib.ws_options_add_subprotocol(opts, p)
        lib.ws_options_set_timeouts(opts, *timeouts_ms)
        lib.ws_options_set_close_timeout(opts, close_ms)
        if tls_ca_file is not None:
            lib.ws_options_set_tls_ca_file(opts, tls_ca_file)
        if tls_ca_dir is not None:
            lib.ws_options_set_tls_ca_dir(opts, tls_ca_dir)
        if cert is not None:
            lib.ws_options_set_tls_client_cert(opts, cert, key)
        if insecure:
            lib.ws_options_set_tls_danger_accept_invalid_certs(opts, True)
        if absolute_form:
            lib.ws_options_set_absolute_form(opts, True)
        if strip_host:
            lib.ws_options_set_strip_host(opts, True)
        lib.ws_options_set_max_redirects(opts, max_redirects)
        if max_message_size is not None:
            lib.ws_options_set_max_message_size(opts, max_message_size)
        if max_frame_size is not None:
            lib.ws_options_set_max_frame_size(opts, max_frame_size)
        if fragment_size is not None:
            lib.ws_options_set_fragment_size(opts, fragment_size)
        if compression_level is not None:
            lib.ws_options_set_compression_level(opts, compression_level)
        lib.ws_options_set_auto_pong(opts, auto_pong)
        if keepalive[0] and _ffi.available("ws_options_set_keepalive"):
            lib.ws_options_set_keepalive(opts, *keepalive)
        if raw_proxy is not None:
            lib.ws_options_set_proxy(opts, raw_proxy)
        lib.ws_options_use_env_proxy(opts, use_env_proxy)
        trace = trace_for(log)  # None unless `log` takes DEBUG records: then nothing is traced
        if trace is not None:
            trace.install(opts)

        timeouts = (pick(read_timeout, None), close_timeout, pick(write_timeout, None))
        if stream is not None:
            from ._transport import TransportOpening

            return TransportOpening(raw_url, opts, url, *timeouts, log, trace, stream=stream)
        return Opening(raw_url, opts, url, *timeouts, log, trace)
    finally:
        lib.ws_options_free(opts)
