#!/bin/bash
# test_api_doc.sh - run every curl example of docs/API.md against live services and check
# each answer's status, content type and field names against the answer documented below it.
# Examples whose plugin is not built (or whose model bundle cannot be made) are skipped with
# the reason printed; exit 77 (Skipped) when any was, after running all the others.
set -u

SRC=${RULSRV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${RULSRV_BUILD_DIR:-$SRC/build}
DOC=$SRC/docs/API.md
PLUGINS=$BUILD/plugins

skip() { echo "SKIPPED: $*"; exit 77; }
command -v curl >/dev/null || skip "curl is not installed"
[ -x "$BUILD/bin/rulsrv" ] || skip "$BUILD/bin/rulsrv is not built"
[ -r "$DOC" ] || { echo "FAIL: $DOC is missing"; exit 1; }

TMP=$(mktemp -d /tmp/rulsrv-apidoc-XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$TMP/work"

# ---- a model bundle and a test file -------------------------------------------------------
DATA=
for d in "${CMAPSS_DIR:-}" "$SRC/data/cmapss" "$SRC/../shared/data/cmapss"; do
	if [ -n "$d" ] && { [ -r "$d/train_FD001.txt" ] || [ -r "$d/train_FD001.txt.gz" ]; }; then
		DATA=$d
		break
	fi
done
if [ -z "$DATA" ] && [ -x "$BUILD/bin/cmapss-synth" ]; then
	"$BUILD/bin/cmapss-synth" --out "$TMP/synth" --units 30 --test-units 5 >/dev/null && DATA=$TMP/synth
fi
have_bundle=no
if [ -n "$DATA" ] && [ -x "$BUILD/bin/rulsrv-train" ] &&
	"$BUILD/bin/rulsrv-train" --data "$DATA" --subset FD001 --no-tune --rounds 10 --threads 1 \
		--quiet --out "$TMP/bundle" >"$TMP/train.log" 2>&1; then
	have_bundle=yes
else
	echo "note: no model bundle (no data or rulsrv-train failed): model and drift examples are skipped"
fi
if [ -n "$DATA" ]; then
	if [ -r "$DATA/test_FD001.txt" ]; then cp "$DATA/test_FD001.txt" "$TMP/work/"
	else zcat "$DATA/test_FD001.txt.gz" >"$TMP/work/test_FD001.txt"; fi
fi

# ---- the configuration: every plugin that is built ------------------------------------------
have() { [ -r "$PLUGINS/$1" ]; }
instances_p=()
instances_f=()
{
	echo "plugin_dir = \"$PLUGINS\";"
	echo "plugins = {"
	if have predict_forest.so && [ $have_bundle = yes ]; then
		echo "  model = { file = \"predict_forest.so\"; settings = { bundle = \"$TMP/bundle\";"
		echo "            fleet = true; database = \"$TMP/feedback.db\"; }; };"
		instances_p+=(model)
	fi
	if have drift_psi.so && [ $have_bundle = yes ]; then
		echo "  drift = { file = \"drift_psi.so\"; settings = { reference = \"$TMP/bundle\"; }; };"
		instances_p+=(drift)
	fi
	if have feedback.so; then
		echo "  feedback = { file = \"feedback.so\"; settings = { database = \"$TMP/feedback.db\"; }; };"
		instances_p+=(feedback)
		instances_f+=(feedback)
	fi
	if have export_prometheus.so; then
		echo "  prometheus = { file = \"export_prometheus.so\"; };"
		instances_p+=(prometheus)
		instances_f+=(prometheus)
	fi
	echo "};"
	list() { local s="" i; for i in "$@"; do s="$s${s:+, }\"$i\""; done; echo "[ $s ]"; }
	echo "services = {"
	echo "  prediction = { listen = \"127.0.0.1:0\"; plugins = $(list "${instances_p[@]}"); };"
	echo "  feedback = { listen = \"127.0.0.1:0\"; plugins = $(list "${instances_f[@]}"); };"
	echo "};"
} >"$TMP/rulsrv.conf"

# Which instance serves a path (the core's own paths need none).
needs() {
	case $1 in
	/v1/predict* | /v1/models* | /v1/cycles* | /v1/engines*) echo model ;;
	/v1/drift*) echo drift ;;
	/v1/feedback*) echo feedback ;;
	/metrics*) echo prometheus ;;
	*) echo core ;;
	esac
}
present() {
	local i
	[ "$1" = core ] && return 0
	for i in "${instances_p[@]}" "${instances_f[@]}"; do [ "$i" = "$1" ] && return 0; done
	return 1
}

"$BUILD/bin/rulsrv" -c "$TMP/rulsrv.conf" 2>"$TMP/rulsrv.log" &
PID=$!
for _ in $(seq 1 300); do
	grep -q "rulsrv .* ready" "$TMP/rulsrv.log" && break
	kill -0 "$PID" 2>/dev/null || { cat "$TMP/rulsrv.log"; echo "FAIL: rulsrv did not start"; exit 1; }
	sleep 0.05
done
port_of() { sed -n "s/.*service '$1' listening on 127.0.0.1:\([0-9]*\).*/\1/p" "$TMP/rulsrv.log"; }
P=$(port_of prediction)
F=$(port_of feedback)
[ -n "$P" ] && [ -n "$F" ] || { cat "$TMP/rulsrv.log"; echo "FAIL: no listener lines"; exit 1; }

# ---- the examples: a ```sh block, then the documented answer in the next fenced block -------
# "<!-- needs: INSTANCE -->" before an example: it also depends on that instance (for example
# feedback without predicted_rul needs the predictions the model logged).
cmds=()
answers=()
extra=()
state=text
cmd=
ans=
need=
while IFS= read -r line; do
	case $state in
	text)
		case $line in
		'<!-- needs: '*' -->') need=${line#<!-- needs: }; need=${need% -->} ;;
		'```sh') state=cmd; cmd= ;;
		esac
		;;
	cmd)
		if [ "$line" = '```' ]; then state=between; else cmd+="$line"$'\n'; fi
		;;
	between)
		case $line in
		'```'*) state=answer; ans= ;;
		'') ;;
		*) echo "FAIL: example without a documented answer: $cmd"; exit 1 ;;
		esac
		;;
	answer)
		if [ "$line" = '```' ]; then
			cmds+=("$cmd")
			answers+=("$ans")
			extra+=("$need")
			need=
			state=text
		else
			ans+="$line"$'\n'
		fi
		;;
	esac
done <"$DOC"
[ ${#cmds[@]} -gt 0 ] || { echo "FAIL: no examples found in $DOC"; exit 1; }

ran=0
skipped=0
failed=0
for i in "${!cmds[@]}"; do
	cmd=${cmds[$i]}
	want=${answers[$i]}
	path=$(grep -o 'http://127.0.0.1:300[01][^ '"'"']*' <<<"$cmd" | head -1 | sed 's|http://127.0.0.1:300[01]||')
	what=$(head -1 <<<"$cmd" | cut -c1-100)
	inst=$(needs "$path")
	if [ -n "${extra[$i]}" ] && ! present "${extra[$i]}"; then
		inst=${extra[$i]}
	fi
	if ! present "$inst"; then
		echo "skipped: $path: plugin instance '$inst' is not available (plugin not built or no model bundle)"
		skipped=$((skipped + 1))
		continue
	fi
	cmd=${cmd//127.0.0.1:3000/127.0.0.1:$P}
	cmd=${cmd//127.0.0.1:3001/127.0.0.1:$F}
	got=$(cd "$TMP/work" && eval "$cmd" | tr -d '\r' | sed '/^HTTP\/1.1 1[0-9][0-9] /,/^$/d')
	ran=$((ran + 1))
	want_status=$(head -1 <<<"$want" | awk '{print $2}')
	got_status=$(head -1 <<<"$got" | awk '{print $2}')
	problems=()
	[ "$want_status" = "$got_status" ] || problems+=("status $got_status, documented $want_status")
	want_ct=$(grep -i '^Content-Type:' <<<"$want" | head -1)
	got_ct=$(grep -i '^Content-Type:' <<<"$got" | head -1)
	[ -z "$want_ct" ] || [ "${want_ct,,}" = "${got_ct,,}" ] || problems+=("'$got_ct', documented '$want_ct'")
	want_allow=$(grep -i '^Allow:' <<<"$want" | head -1)
	[ -z "$want_allow" ] || grep -qix "$want_allow" <<<"$got" || problems+=("no '$want_allow' header")
	got_body=$(sed '1,/^$/d' <<<"$got")
	want_body=$(sed '1,/^$/d' <<<"$want")
	for key in $(grep -o '"[A-Za-z_][A-Za-z_0-9]*":' <<<"$want_body" | sort -u); do
		grep -qF "$key" <<<"$got_body" || problems+=("field $key is missing")
	done
	while IFS= read -r l; do
		case $l in '# '*) grep -qxF "$l" <<<"$got_body" || problems+=("line '$l' is missing") ;; esac
	done <<<"$want_body"
	if [ ${#problems[@]} -gt 0 ]; then
		echo "FAIL: $what"
		printf '  %s\n' "${problems[@]}"
		echo "  answer: $(head -c 600 <<<"$got")"
		failed=$((failed + 1))
	else
		echo "ok: $what"
	fi
done

echo "$ran examples run, $failed failed, $skipped skipped"
[ $failed -eq 0 ] || exit 1
[ $ran -gt 0 ] || skip "no example could run"
[ $skipped -eq 0 ] || skip "$skipped of $((ran + skipped)) examples could not run (see 'skipped:' above)"
exit 0
