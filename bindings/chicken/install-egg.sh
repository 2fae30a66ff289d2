#!/usr/bin/env bash
# Source this file (from run-tests.sh / run-autobahn.sh): it sets up the
# environment for the private egg repository build/chicken-repo and defines
# install_egg, which builds and installs the ws-client egg from this tree
# against the in-tree libwsclient (build/lib, include/). Run it (`make egg`)
# to install the egg once for both: chicken-install rewrites the repository
# in place, so it must not run while another suite uses the egg.

CHICKEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$CHICKEN_DIR/../.." && pwd)
BUILD=$ROOT/build
EGG_BUILD=$BUILD/chicken/egg          # chicken-install builds in place: not in the tree
REPO=$BUILD/chicken-repo

# The system repository (core units), asked before our variables are set.
SYSTEM_REPO=$(env -u CHICKEN_INSTALL_REPOSITORY -u CHICKEN_REPOSITORY_PATH chicken-install -repository)
export CHICKEN_INSTALL_REPOSITORY=$REPO
export CHICKEN_REPOSITORY_PATH="$REPO:$SYSTEM_REPO"
# The in-tree library; without it, build-ws-client asks pkg-config.
export WSCLIENT_TREE=$ROOT

install_egg() {
    if [ ! -e "$BUILD/lib/libwsclient.so" ] || [ ! -e "$ROOT/include/wsclient.h" ]; then
        echo "ws-client: libwsclient not built (run 'make all' in $ROOT)" >&2
        return 1
    fi
    rm -rf "$EGG_BUILD"
    mkdir -p "$EGG_BUILD" "$REPO"
    cp "$CHICKEN_DIR"/ws-client.egg "$CHICKEN_DIR"/ws-client.scm "$CHICKEN_DIR"/ws-client-impl.scm \
       "$CHICKEN_DIR"/ws-client-libs.scm "$CHICKEN_DIR"/build-ws-client "$EGG_BUILD"/
    local log=$BUILD/chicken/install.log
    if ! (cd "$EGG_BUILD" && chicken-install) > "$log" 2>&1; then
        cat "$log" >&2
        echo "ws-client: chicken-install failed" >&2
        return 1
    fi
    if grep -q Warning "$log"; then
        cat "$log" >&2
        echo "ws-client: the egg builds with warnings" >&2
        return 1
    fi
    echo "ws-client: installed into $REPO"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    install_egg
fi
