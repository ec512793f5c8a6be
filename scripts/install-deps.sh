#!/bin/sh
# scripts/install-deps.sh -- install the Debian 12 packages the build, the
# tests, the demo and the benchmarks need; does nothing when all are there.
set -eu
PKGS="build-essential pkg-config clang libclang-rt-14-dev
zlib1g-dev libisal-dev libssl-dev libfuse3-dev fuse3 libcurl4-openssl-dev libmsgpack-dev libjansson-dev
libsqlite3-dev libarchive-dev libgrpc-dev libprotobuf-c-dev protobuf-c-compiler containerd runc stargz-snapshotter
python3 flatbuffers-compiler pigz busybox-static skopeo umoci docker-registry apache2-utils
curl openssl iproute2 attr procps gztool python3-indexed-gzip archivemount hyperfine isal python3-jwt strace time"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: need root to install packages (run as root or install:$missing)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
