#!/bin/sh
# The package's autopkgtest (debian/tests) with autopkgtest's `null` virt
# server, which installs the packages on the machine it runs on, but inside
# a private mount namespace where /usr, /etc and /var are overlays on a
# tmpfs: what apt and dpkg install and write there is gone when it ends, and
# nothing else on the machine sees it. Needs root (unshare, mount) and
# overlayfs; `make package` runs it when autopkgtest is installed.
#
#   scripts/autopkgtest-isolated.sh OUTPUT_DIR SOURCE.dsc PACKAGE.deb...
set -eu

if [ -z "${WSCLIENT_AUTOPKGTEST_NS:-}" ]; then
    exec unshare --mount --propagation private env WSCLIENT_AUTOPKGTEST_NS=1 sh "$0" "$@"
fi
out=$1
shift
scratch=$(mktemp -d)
mount -t tmpfs tmpfs "$scratch"
for dir in usr etc var; do
    mkdir "$scratch/$dir" "$scratch/$dir.work"
    mount -t overlay overlay -o "lowerdir=/$dir,upperdir=$scratch/$dir,workdir=$scratch/$dir.work" "/$dir"
done
rm -rf "$out"
status=0
autopkgtest --output-dir="$out" "$@" -- null || status=$?
# 0: all passed; 2: some were skipped; anything else failed.
echo "autopkgtest: exit status $status; log: $out/log"
[ "$status" -eq 0 ] || [ "$status" -eq 2 ]
