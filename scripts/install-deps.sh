#!/bin/sh
# install-deps.sh [build|test] - install the Debian packages rulsrv needs, when missing.
# As root it runs apt-get; otherwise it prints the exact apt-get line and fails.
set -eu

build_pkgs="cmake make gcc pkg-config libmicrohttpd-dev libconfig-dev libcjson-dev
libxgboost-dev check libsqlite3-dev libcurl4-openssl-dev zlib1g-dev libsystemd-dev libpq-dev"
test_pkgs="curl prometheus wrk nginx-light mandoc clang libclang-rt-14-dev systemd lintian chromium
dpkg-dev fakeroot python3-yaml postgresql haproxy"

want=$build_pkgs
[ "${1:-build}" = test ] && want="$build_pkgs $test_pkgs"

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
# Node.js (for the statsd test daemon) may come from outside Debian with its own npm, which
# Debian's npm package would conflict with: only ask for Debian's when there is no npm at all.
if [ "${1:-build}" = test ] && ! command -v npm >/dev/null; then
	missing="$missing nodejs npm"
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "rulsrv needs these Debian packages; run as root:" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# A stale package list is the usual reason an install fails on a fresh machine.
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
