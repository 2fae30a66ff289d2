#!/bin/sh
# Builds examples-c/echo_client.c and runs it offline, with nothing from
# PyPI: against a WebSocket server written with the Python standard library
# (tests/servers/stdlib_echo_check.py: three messages echoed, then a clean
# close), and against a closed port (it must fail with "TCP connect failed").
# Run from the top of the source tree.
#
#   tests/c/echo_check.sh               the installed library and header,
#                                       found through pkg-config (the Debian
#                                       autopkgtest, debian/tests/c-echo)
#   tests/c/echo_check.sh --build-tree  the library in build/lib (the Debian
#                                       build's tests; test_dist.py)
set -eu

tmp=${AUTOPKGTEST_TMP:-$(mktemp -d)}
[ -n "${AUTOPKGTEST_TMP:-}" ] || trap 'rm -rf "$tmp"' EXIT
server=tests/servers/stdlib_echo_check.py

if [ "${1:-}" = --build-tree ]; then
    flags="-Iinclude -Lbuild/lib -lwsclient -Wl,-rpath,$(pwd)/build/lib"
else
    flags=$(pkg-config --cflags --libs libwsclient)
    echo "pkg-config: libwsclient $(pkg-config --modversion libwsclient): $flags"
fi
# shellcheck disable=SC2086 # flags is a list of words
${CC:-cc} -std=c99 -Wall -Wextra -Werror examples-c/echo_client.c -o "$tmp/echo_client" $flags
[ "${1:-}" = --build-tree ] || ldd "$tmp/echo_client" | grep -F 'libwsclient.so.'

# 1. Echo through a local server.
python3 "$server" "hello from the package" "zwei" "трі" > "$tmp/server.out" &
pid=$!
for _ in $(seq 100); do grep -q '^PORT ' "$tmp/server.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^PORT //p' "$tmp/server.out")
timeout 60 "$tmp/echo_client" "ws://127.0.0.1:$port/" > "$tmp/client.out"
wait "$pid"
cat "$tmp/client.out" "$tmp/server.out"
grep -qx "echo_client: server closed with 1000 done" "$tmp/client.out"
[ "$(grep -c '^got back' "$tmp/server.out")" -eq 3 ]

# 2. A closed port: a clean failure with the right error, no crash.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
status=0
timeout 60 "$tmp/echo_client" "ws://127.0.0.1:$port/" 2> "$tmp/refused.err" || status=$?
cat "$tmp/refused.err"
[ "$status" -eq 1 ]
grep -q "TCP connect failed" "$tmp/refused.err"
echo "echo_check: passed"
