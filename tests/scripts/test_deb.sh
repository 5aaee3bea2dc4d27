#!/usr/bin/env bash
# test_deb.sh - the Debian package as a user meets it: build it, lintian finds no error,
# install it, `rulsrv -t` accepts the installed configuration, the installed units verify
# clean, an out-of-tree plugin builds against the installed headers with `pkg-config rulsrv`
# and is loaded into a running server by a reload, and the package purges cleanly.
set -euo pipefail
src=${RULSRV_SOURCE_DIR:?}
build=${RULSRV_BUILD_DIR:?}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: installing a package needs root"; exit 77; }
[ -d "$src/models/fd001" ] || { echo "SKIP: models/fd001 is not in the tree"; exit 77; }
# A sanitizer build would make a package that depends on libasan: package the plain build only.
if grep -q '^RULSRV_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
	echo "SKIP: the package is built and tested from the plain build, not the sanitizer tree"
	exit 77
fi

work=$(mktemp -d)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -f /usr/lib/rulsrv/plugins/hello.so
	dpkg --purge rulsrv >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "== build"
deb=$(BUILD="$build" sh "$src/packaging/deb/build-deb.sh" "$work")
echo "$deb"
dpkg-deb --info "$deb" | sed -n 's/^ Depends:/Depends:/p'
for dep in libmicrohttpd libconfig libcjson libxgboost libsqlite3; do
	dpkg-deb --field "$deb" Depends | grep -q "$dep" || { echo "FAIL: Depends lacks $dep"; exit 1; }
done
[ "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)" = "/etc/rulsrv/rulsrv.conf" ] ||
	{ echo "FAIL: /etc/rulsrv/rulsrv.conf is not the conffile"; exit 1; }

if command -v lintian >/dev/null; then
	echo "== lintian"
	out=$(lintian --tag-display-limit 0 "$deb" 2>&1 || true)
	echo "$out"
	if echo "$out" | grep -q '^E:'; then echo "FAIL: lintian reports errors"; exit 1; fi
else
	echo "lintian is not installed: not run"
fi

echo "== install"
dpkg -i "$deb"
for f in /usr/sbin/rulsrv /usr/bin/rulsrv-train /usr/bin/rulsrv-replay \
	/usr/lib/rulsrv/plugins/predict_forest.so /usr/include/rulsrv/plugin.h \
	/usr/share/rulsrv/models/fd001/bundle.json /usr/share/man/man5/rulsrv.conf.5.gz \
	/lib/systemd/system/rulsrv@.service /usr/share/pkgconfig/rulsrv.pc \
	/usr/share/rulsrv/monitoring/prometheus/prometheus.yml /var/lib/rulsrv; do
	[ -e "$f" ] || { echo "FAIL: $f is not installed"; exit 1; }
done
out=$(/usr/sbin/rulsrv -t -c /etc/rulsrv/rulsrv.conf 2>"$work/t.log") ||
	{ cat "$work/t.log"; echo "FAIL: rulsrv -t on the installed configuration"; exit 1; }
echo "$out"
[ "$out" = "configuration OK" ] || { echo "FAIL: rulsrv -t printed '$out'"; exit 1; }

echo "== systemd-analyze verify (installed units)"
for unit in rulsrv.service rulsrv@prediction.service rulsrv@feedback.service; do
	out=$(systemd-analyze verify "$unit" 2>&1 || true)
	[ -z "$out" ] || { echo "FAIL: verify $unit: $out"; exit 1; }
	echo "ok: $unit"
done

echo "== out-of-tree plugin"
cp -r "$src/examples/plugin" "$work/plugin"
make -s -C "$work/plugin"
make -s -C "$work/plugin" install
# The installed configuration on ephemeral ports, its state in the scratch folder.
sed -e 's|127.0.0.1:300[01]|127.0.0.1:0|' -e "s|/var/lib/rulsrv|$work|" \
	/etc/rulsrv/rulsrv.conf > "$work/rulsrv.conf"
/usr/sbin/rulsrv -c "$work/rulsrv.conf" -s prediction 2>"$work/log" &
pid=$!
port=""
for _ in $(seq 100); do
	port=$(sed -n "s/.*service 'prediction' listening on 127.0.0.1:\([0-9]*\).*/\1/p" "$work/log")
	[ -n "$port" ] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
	sleep 0.1
done
[ -n "$port" ] || { cat "$work/log"; echo "FAIL: the installed rulsrv did not start"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/hello")
[ "$code" = 404 ] || { echo "FAIL: /hello answered $code before the plugin was declared"; exit 1; }
# Declare the drop-in plugin and reload: no rebuild, no restart.
sed -i -e 's|^plugins = {|plugins = {\n  hello = { file = "hello.so"; settings = { greeting = "drop-in works"; }; };|' \
	-e 's|plugins = \[ "model", "drift", "feedback", "prometheus"|&, "hello"|' \
	"$work/rulsrv.conf"
kill -HUP "$pid"
body=""
for _ in $(seq 50); do
	body=$(curl -s "http://127.0.0.1:$port/hello" || true)
	case "$body" in *"drop-in works"*) break ;; esac
	sleep 0.1
done
echo "GET /hello: $body"
case "$body" in *"drop-in works"*) ;; *) cat "$work/log"; echo "FAIL: the plugin was not loaded"; exit 1 ;; esac
curl -s "http://127.0.0.1:$port/metrics" | grep -q '^hello_greetings_total [1-9]' ||
	{ echo "FAIL: the plugin's counter is not exported"; exit 1; }
kill "$pid"
wait "$pid" || { echo "FAIL: rulsrv did not exit 0 on SIGTERM"; exit 1; }
pid=""

echo "== purge"
rm -f /usr/lib/rulsrv/plugins/hello.so
dpkg --purge rulsrv
for f in /usr/sbin/rulsrv /etc/rulsrv/rulsrv.conf /usr/lib/rulsrv/plugins/predict_forest.so; do
	[ ! -e "$f" ] || { echo "FAIL: $f is left after purge"; exit 1; }
done
echo "ok: package built, installed, used and purged"
