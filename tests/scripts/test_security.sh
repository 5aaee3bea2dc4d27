#!/usr/bin/env bash
# test_security.sh - the live daemon's security promises, checked from outside with curl:
#  - shipped configurations listen on loopback only;
#  - an admin token file readable by others: refused at start, one error line, non-zero exit;
#  - with a token: admin endpoints (/-/reload, POST /v1/drift/window) want "Bearer TOKEN" (401
#    and WWW-Authenticate otherwise), the rest stays open;
#  - without a token: admin endpoints answer 403 to a client that is not on loopback (a veth
#    pair into a network namespace of its own; skipped where namespaces cannot be made);
#  - at log_level debug, no token, no body, no error message quoting the body reaches the log;
#  - HTTPS with tls_cert_file/tls_key_file, verified by curl --cacert (skipped without openssl);
#    request_timeout_seconds closes a TLS connection trickling its body (counted as a 408).
set -uo pipefail
src=${RULSRV_SOURCE_DIR:?}
build=${RULSRV_BUILD_DIR:?}
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
[ -f "$src/models/fd001/bundle.json" ] || { echo "SKIP: no models/fd001"; exit 77; }

tmp=$(mktemp -d /tmp/rulsrv-security-XXXXXX)
ns=rulsrv-sec-$$
pid=
failed=0
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	ip link del "rsec$$a" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
skipped=0
fail() { echo "FAIL: $*"; failed=1; }
# A part that cannot run here: the others still run, and the test is reported Skipped (77).
skip_part() { echo "SKIP: $*"; skipped=1; }
ok() { echo "ok: $*"; }

# conf FILE LISTEN SERVICE_EXTRA [LOG_LEVEL]
conf() {
	cat >"$1" <<EOF
plugin_dir = "$build/plugins";
log_level = "${4:-info}";
plugins = {
  model = { file = "predict_forest.so"; settings = { bundle = "$src/models/fd001"; }; };
  drift = { file = "drift_psi.so"; settings = { reference = "$src/models/fd001"; }; };
  feedback = { file = "feedback.so"; settings = { database = "$tmp/feedback.db"; }; };
  prometheus = { file = "export_prometheus.so"; };
};
services = {
  prediction = { listen = "$2"; $3
    plugins = [ "model", "drift", "feedback", "prometheus" ]; };
  feedback = { listen = "$2"; $3 plugins = [ "feedback", "prometheus" ]; };
};
EOF
}

# start CONF: runs rulsrv in the background, sets pid, port and fport (empty when it did not start)
start() {
	: >"$tmp/rulsrv.log"
	"$build/bin/rulsrv" -c "$1" 2>"$tmp/rulsrv.log" &
	pid=$!
	port=
	for _ in $(seq 150); do
		port=$(sed -n "s/.*service 'prediction' listening on .*:\([0-9]*\)$/\1/p" "$tmp/rulsrv.log")
		fport=$(sed -n "s/.*service 'feedback' listening on .*:\([0-9]*\)$/\1/p" "$tmp/rulsrv.log")
		[ -n "$port" ] && [ -n "$fport" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
}
stop() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	pid=
}
# code METHOD URL [curl args...]: the HTTP status, 000 when there was no answer
code() {
	local m=$1 u=$2
	shift 2
	curl -s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' -m 5 -X "$m" "$@" "$u"
}
expect() { # expect WANT GOT WHAT
	if [ "$1" = "$2" ]; then ok "$3: $2"; else fail "$3: got $2, expected $1 ($(cat "$tmp/body" 2>/dev/null))"; fi
}

# ---- shipped configurations listen on loopback only ----
for f in "$src/conf/rulsrv.conf" "$src"/packaging/*.conf.in "$src"/examples/*.conf; do
	[ -f "$f" ] || continue
	bad=$(grep -E '^[^#]*listen *= *"' "$f" | grep -vE 'listen *= *"(127\.[0-9.]+|\[::1\]):[0-9]+"' || true)
	if [ -n "$bad" ]; then fail "$f listens beyond loopback: $bad"; else ok "$(basename "$f") listens on loopback only"; fi
done

# ---- a token file others can read: refused at start ----
printf 'not-secret-enough\n' >"$tmp/token"
chmod 644 "$tmp/token"
conf "$tmp/a.conf" "127.0.0.1:0" "admin_token_file = \"$tmp/token\";"
out=$("$build/bin/rulsrv" -c "$tmp/a.conf" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && [ "$(grep -c '\[error\]' <<<"$out")" = 1 ] && grep -q "$tmp/token" <<<"$out" &&
	! grep -q 'not-secret-enough' <<<"$out"; then
	ok "a token file with mode 644 is refused (exit $rc, one error line, the token not shown)"
else
	fail "mode 644 token file: exit $rc: $out"
fi

# ---- with a token: admin endpoints want it; debug log shows neither token nor body ----
token="tok-$RANDOM$RANDOM-SECRET"
marker="BODYMARK$RANDOM$RANDOM"
printf '%s\n' "$token" >"$tmp/token"
chmod 600 "$tmp/token"
conf "$tmp/b.conf" "127.0.0.1:0" "admin_token_file = \"$tmp/token\";" debug
start "$tmp/b.conf"
if [ -z "$port" ]; then
	fail "rulsrv did not start with a private token file: $(cat "$tmp/rulsrv.log")"
else
	u="http://127.0.0.1:$port"
	expect 401 "$(code POST "$u/-/reload")" "reload without a token"
	grep -qi '^WWW-Authenticate: Bearer' "$tmp/headers" && ok "401 says WWW-Authenticate: Bearer" ||
		fail "401 without WWW-Authenticate: Bearer"
	expect 401 "$(code POST "$u/-/reload" -H "Authorization: Bearer ${token}x")" "reload with a longer token"
	expect 401 "$(code POST "$u/-/reload" -H "Authorization: Bearer ${token%?}")" "reload with a prefix of the token"
	expect 401 "$(code POST "$u/-/reload" -H "Authorization: Basic $token")" "reload with another scheme"
	expect 401 "$(code POST "$u/-/reload" -H "Authorization: Bearer ")" "reload with an empty token"
	expect 200 "$(code POST "$u/-/reload" -H "Authorization: Bearer $token")" "reload with the token"
	expect 401 "$(code POST "$u/v1/drift/window" -H 'Content-Type: application/json' -d '{"label":"x"}')" \
		"drift window without a token"
	expect 200 "$(code POST "$u/v1/drift/window" -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' -d '{"label":"q2"}')" "drift window with the token"
	expect 200 "$(code GET "$u/healthz")" "healthz needs no token"
	expect 200 "$(code GET "$u/metrics")" "metrics need no token"
	# bodies with the marker: a good one, a refused one whose error quotes the marker, feedback
	body=$(sed "s/\"unit\": 7/\"unit\": 7, \"$marker\": 1/" <<<'{"unit": 7, "cycles": [{"cycle": 1, "settings": [0, 0, 100], "sensors": [518.67, 642.5, 1590, 1405, 14.62, 21.61, 553.5, 2388.05, 9050, 1.3, 47.5, 521.5, 2388.05, 8140, 8.43, 0.03, 393, 2388, 100, 38.9, 23.3]}]}')
	expect 422 "$(code POST "$u/v1/predict" -H 'Content-Type: application/json' -H "Authorization: Bearer $token" -d "$body")" \
		"a body with an unknown field"
	grep -q "$marker" "$tmp/body" && ok "the error answer names the field (to the client only)"
	expect 200 "$(code POST "$u/v1/predict" -H 'Content-Type: text/plain' -H "Authorization: Bearer $token" \
		--data-binary "7 1 0 0 100 518 642 1590 1405 14 21 553 2388 9050 1.3 47 521 2388 8140 8.4 0.03 393 2388 100 38 23.$RANDOM")" \
		"a text body"
	expect 422 "$(code POST "http://127.0.0.1:$fport/v1/feedback" -H 'Content-Type: application/json' -d "{\"unit\":1,\"$marker\":2}")" \
		"feedback with the marker"
	code POST "$u/-/reload" -H "Authorization: Bearer $token" -H "X-Note: $marker" >/dev/null
	stop
	grep -q 'POST /v1/predict 422' "$tmp/rulsrv.log" && ok "the debug access log is on" ||
		fail "no debug access line in the log"
	if grep -q -- "$token" "$tmp/rulsrv.log"; then fail "the token is in the log"; else ok "the token is not in the log"; fi
	if grep -q -- "$marker" "$tmp/rulsrv.log"; then
		fail "a body or header marker is in the log: $(grep -- "$marker" "$tmp/rulsrv.log" | head -3)"
	else
		ok "no body or header content in the log"
	fi
fi

# ---- without a token: admin endpoints are loopback-only (a client in another namespace) ----
if ip netns add "$ns" 2>/dev/null &&
	ip link add "rsec$$a" type veth peer name "rsec$$b" 2>/dev/null &&
	ip link set "rsec$$b" netns "$ns" &&
	ip addr add 10.231.7.1/30 dev "rsec$$a" && ip link set "rsec$$a" up &&
	ip netns exec "$ns" ip addr add 10.231.7.2/30 dev "rsec$$b" &&
	ip netns exec "$ns" ip link set "rsec$$b" up && ip netns exec "$ns" ip link set lo up; then
	conf "$tmp/c.conf" "10.231.7.1:0" ""
	start "$tmp/c.conf"
	if [ -z "$port" ]; then
		fail "rulsrv did not start on the veth address: $(cat "$tmp/rulsrv.log")"
	else
		r="http://10.231.7.1:$port"
		remote() { ip netns exec "$ns" curl -s -o "$tmp/body" -w '%{http_code}' -m 5 --noproxy '*' "$@"; }
		expect 200 "$(remote "$r/healthz")" "healthz from 10.231.7.2"
		expect 403 "$(remote -X POST "$r/-/reload")" "reload from 10.231.7.2 without a token file"
		grep -q '"code":"forbidden"' "$tmp/body" && ok "403 is the forbidden error JSON" || fail "403 body: $(cat "$tmp/body")"
		expect 403 "$(remote -X POST -H 'Content-Type: application/json' -d '{"label":"x"}' "$r/v1/drift/window")" \
			"drift window from 10.231.7.2"
		expect 200 "$(remote -X POST --data-binary \
			'7 1 0 0 100 518 642 1590 1405 14 21 553 2388 9050 1.3 47 521 2388 8140 8.4 0.03 393 2388 100 38 23' \
			-H 'Content-Type: text/plain' "$r/v1/predict")" "predict from 10.231.7.2"
		stop
	fi
	# with a token, the remote client gets in with it
	conf "$tmp/d.conf" "10.231.7.1:0" "admin_token_file = \"$tmp/token\";"
	start "$tmp/d.conf"
	if [ -n "$port" ]; then
		r="http://10.231.7.1:$port"
		expect 401 "$(ip netns exec "$ns" curl -s -o /dev/null -w '%{http_code}' -m 5 -X POST "$r/-/reload")" \
			"reload from 10.231.7.2 without the token"
		expect 200 "$(ip netns exec "$ns" curl -s -o /dev/null -w '%{http_code}' -m 5 -X POST \
			-H "Authorization: Bearer $token" "$r/-/reload")" "reload from 10.231.7.2 with the token"
		stop
	else
		fail "rulsrv did not start on the veth address with a token"
	fi
else
	skip_part "cannot make a network namespace with a veth pair here (not root, or no CAP_NET_ADMIN)"
fi

# ---- HTTPS ----
if command -v openssl >/dev/null &&
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 1 \
		-subj /CN=localhost -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' >/dev/null 2>&1; then
	chmod 600 "$tmp/key.pem"
	conf "$tmp/e.conf" "127.0.0.1:0" "tls_cert_file = \"$tmp/cert.pem\"; tls_key_file = \"$tmp/key.pem\";
    request_timeout_seconds = 2;"
	start "$tmp/e.conf"
	if [ -z "$port" ]; then
		fail "rulsrv did not start with TLS: $(cat "$tmp/rulsrv.log")"
	else
		expect 200 "$(code GET "https://127.0.0.1:$port/healthz" --cacert "$tmp/cert.pem")" "HTTPS healthz verified with --cacert"
		expect 200 "$(code POST "https://127.0.0.1:$port/v1/predict" --cacert "$tmp/cert.pem" -H 'Content-Type: text/plain' \
			--data-binary '7 1 0 0 100 518 642 1590 1405 14 21 553 2388 9050 1.3 47 521 2388 8140 8.4 0.03 393 2388 100 38 23')" \
			"HTTPS predict"
		expect 000 "$(code GET "https://127.0.0.1:$port/healthz")" "HTTPS without the CA is not trusted"
		expect 000 "$(code GET "http://127.0.0.1:$port/healthz")" "plain HTTP to the HTTPS port"
		expect 200 "$(code GET "https://127.0.0.1:$port/healthz" --cacert "$tmp/cert.pem")" "still serving after the plain-HTTP attempt"
		# a TLS client trickling its body a byte every 400 ms: closed at the 2 s request
		# timeout (no 408 can be written into a TLS stream from outside it), and counted
		took=$(python3 - "$port" "$tmp/cert.pem" <<'PY'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                    server_hostname="127.0.0.1")
t0 = time.time()
s.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: 900\r\n\r\n{")
s.settimeout(0.4)
for _ in range(30):
    try:
        s.sendall(b" ")
        if s.recv(100) == b"":
            break
    except socket.timeout:
        continue
    except OSError:
        break
print(int((time.time() - t0) * 1000))
PY
)
		if [ -n "$took" ] && [ "$took" -gt 1500 ] && [ "$took" -lt 4000 ]; then
			ok "a trickling TLS client is closed at the request timeout (${took} ms)"
		else
			fail "a trickling TLS client was closed after '${took}' ms, not ~2000"
		fi
		expect 1 "$(curl -s --cacert "$tmp/cert.pem" "https://127.0.0.1:$port/metrics" |
			sed -n 's/^http_requests_total{handler="\/v1\/predict",code="408"} //p')" \
			"the TLS timeout counted as a 408 of /v1/predict"
		stop
	fi
else
	skip_part "openssl cannot make a test certificate"
fi

[ "$failed" -eq 0 ] || { echo "FAILED"; exit 1; }
[ "$skipped" -eq 0 ] || { echo "the rest passed; skipped as a whole (77)"; exit 77; }
echo "PASS"
