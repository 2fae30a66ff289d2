#!/bin/sh
# Make the distributable libraries from cargo's static library:
#   OUT/libwsclient.so.VERSION  linked from the .a with wsclient.map, so every
#                               exported symbol is ws_* at version WSCLIENT_0.1
#   OUT/libwsclient.a           one relocatable object in which only ws_* stay
#                               global (Rust std, compiler-builtins such as
#                               __absvdi2 and the crates become local)
#
# Why not the cdylib cargo builds: rustc passes its own anonymous version
# script, which wins over a second one with lld (every symbol stays "Base")
# and cannot be combined with a named one by GNU ld (a link error).
#
# usage: link-lib.sh STATICLIB OUT VERSION SONAME
set -eu
staticlib=$1 out=$2 version=$3 soname=$4
root=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-cc}
LD=${LD:-ld}
OBJCOPY=${OBJCOPY:-objcopy}
# What the static library needs (cargo rustc -- --print native-static-libs);
# -z defs makes a missing one a link error, not a load-time one.
NATIVE_LIBS="-lssl -lcrypto -lz -lgcc_s -lpthread -lm -ldl -lc"

mkdir -p "$out"
tmp=$(mktemp -d "$out/.link.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# readelf, not nm: binutils' nm may hand rustc's objects (they embed LLVM
# bitcode) to an LTO plugin and list nothing.
readelf -Ws "$staticlib" | awk '$5 == "GLOBAL" && $7 != "UND" && $8 ~ /^ws_/ {print $8}' \
    | sort -u > "$tmp/exports"
[ -s "$tmp/exports" ] || { echo "link-lib: no ws_* symbols in $staticlib" >&2; exit 1; }

# The shared library. Replace, never overwrite in place: running programs
# map the old file.
# shellcheck disable=SC2086
"$CC" -shared -o "$tmp/libwsclient.so" \
    -Wl,--whole-archive "$staticlib" -Wl,--no-whole-archive \
    -Wl,--version-script="$root/wsclient.map" -Wl,-soname,"$soname" \
    -Wl,-z,defs -Wl,--gc-sections -Wl,--as-needed -Wl,-z,relro,-z,now -Wl,-z,noexecstack \
    ${LDFLAGS:-} $NATIVE_LIBS
mv -f "$tmp/libwsclient.so" "$out/libwsclient.so.$version"

# The static library: one object, only the ws_* entry points (and what they
# reach, found from them) kept, everything else local.
undef=$(sed 's/^/-u /' "$tmp/exports")
# shellcheck disable=SC2086
"$LD" -r --gc-sections $undef -o "$tmp/wsclient.o" --whole-archive "$staticlib"
# Drop rustc's embedded LLVM bitcode too: nothing links it, and binutils'
# LTO plugins (LLVMgold) abort on a newer LLVM's bitcode when ar indexes it.
"$OBJCOPY" --keep-global-symbols="$tmp/exports" \
    --remove-section=.llvmbc --remove-section=.llvmcmd "$tmp/wsclient.o"
rm -f "$tmp/libwsclient.a"
ar rcs "$tmp/libwsclient.a" "$tmp/wsclient.o"
mv -f "$tmp/libwsclient.a" "$out/libwsclient.a"
