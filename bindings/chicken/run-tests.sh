#!/usr/bin/env bash
# Build and install the ws-client egg into build/chicken-repo, start the
# local echo server (tests/servers/echo_server.py), run the Scheme tests and
# ws-client 1.0's documented echo example against it. Exits non-zero on failure.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/install-egg.sh"
PY=${WSCLIENT_PYTHON:-$ROOT/.venv/bin/python}

# `make test-chicken` installed it already (see install-egg.sh).
[ -n "${WSCLIENT_EGG_INSTALLED:-}" ] || install_egg

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

# start_server LOG ARGS...: start echo_server.py (or $SERVER_SCRIPT); sets
# SERVER_PORT. (Not in a $(...) subshell: PIDS must reach the cleanup.)
start_server() {
    local log=$1
    shift
    : > "$log"          # before awk reads it: the server's redirection may come later
    "$PY" "${SERVER_SCRIPT:-$ROOT/tests/servers/echo_server.py}" "$@" > "$log" 2>&1 &
    local pid=$! port=
    PIDS+=("$pid")
    for _ in $(seq 1 300); do
        port=$(awk '/^PORT /{print $2; exit}' "$log")
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        cat "$log" >&2
        echo "ws-client: the echo server did not start" >&2
        return 1
    fi
    SERVER_PORT=$port
}

# --deflate: permessage-deflate when the client offers it; --greet: what
# /greet sends (ws-client 1.0's echo example sends it back).
SERVER_LOG=$TMP/server.log
start_server "$SERVER_LOG" --deflate \
    --greet "Hello from the server" --greet "héllo wörld ✓"
URL="ws://127.0.0.1:$SERVER_PORT"

# A wss server with a throwaway self-signed certificate.
TLS_ARGS=()
if openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$TMP/key.pem" -out "$TMP/cert.pem" > "$TMP/openssl.log" 2>&1; then
    start_server "$TMP/tls-server.log" --deflate --cert "$TMP/cert.pem" --key "$TMP/key.pem"
    TLS_ARGS=("wss://localhost:$SERVER_PORT" "$TMP/cert.pem")
else
    echo "ws-client: openssl could not make a certificate; TLS tests skipped" >&2
fi

# A server that reads slowly, never answers a close, or never reads: for
# the tests that other green threads run while a call waits.
SERVER_SCRIPT=$CHICKEN_DIR/tests/slow_server.py start_server "$TMP/slow-server.log"
export WS_SLOW_URL="ws://127.0.0.1:$SERVER_PORT"

# Proxies: an HTTP CONNECT one (it logs "CONNECT host:port" per tunnel), one
# that wants credentials, and microsocks, a SOCKS5 server ("connected to
# host:port"), on a free port (it cannot report one it picked).
SERVER_SCRIPT=$ROOT/tests/servers/proxy_server.py start_server "$TMP/http-proxy.log"
export WS_HTTP_PROXY="http://127.0.0.1:$SERVER_PORT" WS_HTTP_PROXY_LOG=$TMP/http-proxy.log
SERVER_SCRIPT=$ROOT/tests/servers/proxy_server.py start_server "$TMP/auth-proxy.log" \
    --basic-auth egg:secret
export WS_AUTH_PROXY="127.0.0.1:$SERVER_PORT"
if command -v microsocks > /dev/null; then
    for _ in 1 2 3 4 5; do
        port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        microsocks -i 127.0.0.1 -p "$port" > "$TMP/socks.log" 2>&1 &
        PIDS+=("$!")
        for _ in $(seq 1 100); do
            (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
            sleep 0.05
        done
        if kill -0 "$!" 2>/dev/null; then
            export WS_SOCKS_PROXY="socks5h://127.0.0.1:$port" WS_SOCKS_LOG=$TMP/socks.log
            break
        fi
    done
else
    echo "ws-client: no microsocks; the SOCKS5 test is skipped" >&2
fi

status=0
echo "== tests/run.scm against $URL"
# A watchdog: a hang fails instead of stalling.
timeout 300 csi -s "$CHICKEN_DIR/tests/run.scm" "$URL" "${TLS_ARGS[@]}" 2>&1 \
    | tee "$TMP/run.log" || status=1

# Messages twice the default size limit, in pieces: a process of its own,
# whose peak resident size says what receiving them took.
echo "== tests/stream-memory.scm against $URL"
timeout 120 csi -s "$CHICKEN_DIR/tests/stream-memory.scm" "$URL" 2>&1 \
    | tee "$TMP/stream-memory.log" || status=1

echo "== tests/reconnect.scm against $URL"
timeout 120 csi -s "$CHICKEN_DIR/tests/reconnect.scm" "$URL" "${TLS_ARGS[@]}" 2>&1 \
    | tee "$TMP/reconnect.log" || status=1

# ws-client 1.0's documented example, unchanged apart from its URI: it connects
# to ws://localhost:9001, which we replace with the server's /greet path
# (a fixed port may be taken; "/" would wait for the client to speak first).
echo "== examples/echo-client.scm (ws-client 1.0's example) against $URL/greet"
mkdir -p "$BUILD/chicken"
sed "s|ws://localhost:9001|$URL/greet|" "$CHICKEN_DIR/examples/echo-client.scm" \
    > "$BUILD/chicken/echo-client.scm"
if timeout 60 csi -s "$BUILD/chicken/echo-client.scm"; then
    for greeting in "Hello from the server" "héllo wörld ✓"; do
        if grep -qF "server: got back $greeting" "$SERVER_LOG"; then
            echo "echoed: $greeting"
        else
            echo "FAIL: the example did not echo \"$greeting\"" >&2
            status=1
        fi
    done
else
    echo "FAIL: ws-client 1.0's echo example exited with an error" >&2
    status=1
fi

# `csc -static' with no extra options: ws-client.link names libwsclient.a and
# its libraries. The program must not need libwsclient.so.
echo "== tests/static-echo.scm built with csc -static, against $URL"
if (cd "$TMP" && csc -static "$CHICKEN_DIR/tests/static-echo.scm" -o static-echo) \
        > "$TMP/static.log" 2>&1; then
    if readelf -d "$TMP/static-echo" | grep -q 'NEEDED.*libwsclient'; then
        echo "FAIL: the csc -static program needs libwsclient.so" >&2
        status=1
    elif out=$(timeout 60 env -u LD_LIBRARY_PATH "$TMP/static-echo" "$URL/") \
            && [ "$out" = "$(printf 'static echo\n#f')" ]; then
        echo "static echo: ok"
    else
        echo "FAIL: the csc -static program did not echo (output: $out)" >&2
        status=1
    fi
else
    cat "$TMP/static.log" >&2
    echo "FAIL: csc -static could not build a program that imports ws-client" >&2
    status=1
fi

if [ "$status" -ne 0 ]; then
    # Again at the end, where a log's tail shows them.
    grep -E '^(FAIL|Error|[0-9]+ passed)' "$TMP/run.log" "$TMP/stream-memory.log" \
        "$TMP/reconnect.log" >&2 || true
    echo "ws-client: FAILED" >&2
else
    echo "ws-client: all CHICKEN tests passed"
fi
exit "$status"
