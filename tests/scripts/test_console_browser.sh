#!/usr/bin/env bash
# test_console_browser.sh - the console (GET /) and rulsrv-replay's HTML report in a real
# browser: Debian's headless Chromium, driven by playwright-core from npm (pinned in
# tests/browser/package-lock.json, installed here when node_modules is absent; it never
# downloads a browser). A live daemon with an admin token gets traffic (tests/browser/
# traffic.py); tests/browser/*.test.mjs compare the page with the JSON APIs. Screenshots are
# kept in build/test-artifacts/browser/.
set -euo pipefail
# shellcheck source=tests/scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
artifacts=$build/test-artifacts/browser

chromium=${RULSRV_CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || skip "$chromium missing (Debian package chromium; make test-deps)"
command -v node >/dev/null || skip "node missing (make test-deps)"
command -v npm >/dev/null || skip "npm missing (make test-deps)"
command -v curl >/dev/null || skip "curl missing (make test-deps)"
[ -x "$build/bin/rulsrv" ] || skip "$build/bin/rulsrv not built yet"
for p in predict_forest drift_psi feedback export_prometheus console; do
	[ -f "$build/plugins/$p.so" ] || skip "plugin $build/plugins/$p.so not built yet"
done
[ -f "$src/models/fd001/bundle.json" ] || skip "models/fd001 not in the source tree"

cd "$src/tests/browser"
if [ ! -d node_modules/playwright-core ]; then
	# the lock file's exact versions; no browser download (playwright-core has none anyway)
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error ||
		skip "npm ci failed (no npm registry?)"
fi

cmapss_data
[ -n "$data" ] || echo "note: C-MAPSS data not found; synthetic engines are used"

tmp=$(mktemp -d /tmp/rulsrv-browser.XXXXXX)
pid=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pport=$(free_port)
fport=$(free_port)
# The shipped rulsrv.conf, with absolute paths, these ports, its own store, and an admin
# token on the prediction service: the console must work with one.
mkdir -p "$tmp/var"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/admin.token"
chmod 600 "$tmp/admin.token"
sed -e "s|\"\.\./build/plugins\"|\"$build/plugins\"|" \
    -e "s|\"\.\./models/|\"$src/models/|g" \
    -e "s|\"\.\./var/|\"$tmp/var/|g" \
    -e "s|127\.0\.0\.1:3000|127.0.0.1:$pport|" \
    -e "s|127\.0\.0\.1:3001|127.0.0.1:$fport|g" \
    -e "s|^\(    listen = \"127.0.0.1:$pport\";\)|\1\n    admin_token_file = \"$tmp/admin.token\";|" \
    "$src/conf/rulsrv.conf" >"$tmp/rulsrv.conf"
grep -q "feedback_url = \"http://127.0.0.1:$fport\"" "$tmp/rulsrv.conf" ||
	{ echo "FAIL: the console's feedback_url was not substituted"; exit 1; }
grep -q "admin_token_file" "$tmp/rulsrv.conf" || { echo "FAIL: no admin token set"; exit 1; }
# The shipped configuration turns fleet mode on: the console's fleet view is checked.
grep -q "fleet = true" "$tmp/rulsrv.conf" || { echo "FAIL: fleet mode is not on in rulsrv.conf"; exit 1; }
fleet=(--fleet)

"$build/bin/rulsrv" -c "$tmp/rulsrv.conf" 2>"$tmp/rulsrv.log" &
pid=$!
for i in $(seq 100); do
	curl --noproxy "*" -fsS "http://127.0.0.1:$pport/readyz" >/dev/null 2>&1 &&
		curl --noproxy "*" -fsS "http://127.0.0.1:$fport/readyz" >/dev/null 2>&1 && break
	if ! kill -0 "$pid" 2>/dev/null || [ "$i" = 100 ]; then
		echo "FAIL: rulsrv did not start"; cat "$tmp/rulsrv.log"; exit 1
	fi
	sleep 0.2
done

python3 "$src/tests/browser/traffic.py" --predict "http://127.0.0.1:$pport" \
	--feedback "http://127.0.0.1:$fport" --token "$tmp/admin.token" --data "$data" "${fleet[@]}"

rc=0
PREDICT_URL="http://127.0.0.1:$pport" FEEDBACK_URL="http://127.0.0.1:$fport" \
	ARTIFACTS="$artifacts" RULSRV_CHROMIUM="$chromium" \
	node "$src/tests/browser/console.test.mjs" || rc=$?

# The replay report: a short replay of four quarters against the same daemon.
replay_data=()
[ -n "$data" ] && replay_data=(--data "$data")
if [ -z "$data" ]; then
	# the bundle's held-out units must be in the training files: a full-size fleet
	"$build/bin/cmapss-synth" --out "$tmp/synth" --units 100 --test-units 10 >/dev/null 2>&1 &&
		replay_data=(--data "$tmp/synth")
fi
if [ "${#replay_data[@]}" = 0 ]; then
	echo "FAIL: no C-MAPSS data and no synthetic data for rulsrv-replay"; rc=1
elif "$build/bin/rulsrv-replay" "${replay_data[@]}" --predict "http://127.0.0.1:$pport" \
	--feedback "http://127.0.0.1:$fport" --token "$tmp/admin.token" --units 8 \
	--failure-delay 0.05 --quiet --bundle "$src/models/fd001" \
	--report "$artifacts/report.html" >"$tmp/replay.txt" 2>"$tmp/replay.err"; then
	cat "$tmp/replay.txt"
	REPORT="$artifacts/report.html" TABLE="$tmp/replay.txt" ARTIFACTS="$artifacts" \
		RULSRV_CHROMIUM="$chromium" node "$src/tests/browser/report.test.mjs" || rc=$?
else
	echo "FAIL: rulsrv-replay --report failed"; cat "$tmp/replay.txt" "$tmp/replay.err"; rc=1
fi
# A clean stop after all that (under the sanitizers: no error or leak reported at exit).
kill -TERM "$pid"
stopped=0
wait "$pid" || stopped=$?
pid=""
if [ "$stopped" != 0 ]; then
	echo "FAIL: rulsrv exited with $stopped on SIGTERM"
	rc=1
fi
[ "$rc" = 0 ] || { echo "---- rulsrv log (last 30 lines)"; tail -n 30 "$tmp/rulsrv.log"; }
echo "screenshots: $artifacts"
exit "$rc"
