#!/usr/bin/env bash
# run-autobahn.sh URL AGENT: the CHICKEN Autobahn testee, for
#   .venv/bin/python tests/autobahn/gate.py --name chicken -- \
#       bash bindings/chicken/run-autobahn.sh {url} {agent}
# Uses the egg installed in build/chicken-repo (installs it if missing) and
# a compiled examples/autobahn-client.scm (rebuilt when out of date).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/install-egg.sh"

if [ ! -e "$REPO/ws-client.so" ] || [ ! -e "$REPO/ws-client.import.so" ]; then
    install_egg
fi

CLIENT=$BUILD/chicken/autobahn-client
SOURCE=$CHICKEN_DIR/examples/autobahn-client.scm
if [ ! -x "$CLIENT" ] || [ "$SOURCE" -nt "$CLIENT" ] || [ "$REPO/ws-client.so" -nt "$CLIENT" ]; then
    mkdir -p "$BUILD/chicken"
    csc -O2 "$SOURCE" -o "$CLIENT"
fi
exec "$CLIENT" "$@"
