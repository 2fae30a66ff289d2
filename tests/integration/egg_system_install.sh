#!/bin/sh
# Run by test_egg_install.py inside a private mount namespace (unshare -m),
# so the real /usr/local and CHICKEN repository are never touched:
# `make install PREFIX=/usr/local`, then plain `chicken-install` in a copy of
# bindings/chicken with no variable set, then `csi -e '(import ws-client)'`.
#   usage: egg_system_install.sh ROOT SCRATCH
set -eu
root=$1 scratch=$2
repo=$(env -u CHICKEN_INSTALL_REPOSITORY -u CHICKEN_REPOSITORY_PATH chicken-install -repository)

mount --make-rprivate /
mkdir -p "$scratch/local" "$scratch/repo" "$scratch/egg"
mount --bind "$scratch/local" /usr/local          # an empty /usr/local
cp -a "$repo/." "$scratch/repo/"
mount --bind "$scratch/repo" "$repo"               # a throwaway system repository

make -s -C "$root" install PREFIX=/usr/local > /dev/null
cp "$root"/bindings/chicken/ws-client.egg "$root"/bindings/chicken/ws-client.scm \
   "$root"/bindings/chicken/ws-client-impl.scm "$root"/bindings/chicken/ws-client-libs.scm \
   "$root"/bindings/chicken/build-ws-client \
   "$scratch/egg/"
cd "$scratch/egg"
clean="env -u WSCLIENT_TREE -u PKG_CONFIG_PATH -u LD_LIBRARY_PATH -u CHICKEN_INSTALL_REPOSITORY -u CHICKEN_REPOSITORY_PATH"
$clean chicken-install > "$scratch/chicken-install.log" 2>&1 || { cat "$scratch/chicken-install.log" >&2; exit 1; }
# The library is found through the egg's rpath: /usr/local/lib is not in
# the dynamic linker's cache here (no ldconfig ran).
readelf -d ws-client.so | grep -E 'R(UN)?PATH.*/usr/local/lib' > /dev/null \
    || { echo "ws-client.so has no rpath to /usr/local/lib" >&2; exit 1; }
# csc -static: ws-client.link brings /usr/local/lib/libwsclient.a and the
# libraries pkg-config lists; the program runs without libwsclient.so.
mkdir "$scratch/static" && cd "$scratch/static"
echo '(import scheme (chicken base) ws-client) (print "static " (wsclient-version))' > prog.scm
$clean csc -static prog.scm -o prog > "$scratch/static.log" 2>&1 || { cat "$scratch/static.log" >&2; exit 1; }
if readelf -d prog | grep -q 'NEEDED.*libwsclient'; then
    echo "the csc -static program needs libwsclient.so" >&2
    exit 1
fi
./prog
cd /
$clean csi -e '(import ws-client) (print "ws-client " (wsclient-version))'
