#!/usr/bin/env bash
# test_systemd_units.sh - the shipped units pass `systemd-analyze verify` and are rated 2.0 or
# lower by `systemd-analyze security`. The strict verify of the installed units (binary and
# man pages in place) is part of test_deb.sh; here the binary path points into the build tree.
set -euo pipefail
src=${RULSRV_SOURCE_DIR:?}
build=${RULSRV_BUILD_DIR:?}
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze is not installed"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
for unit in rulsrv.service rulsrv@.service; do
	score=$(systemd-analyze security --offline=true "$src/packaging/systemd/$unit" 2>&1 |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
	if [ -z "$score" ]; then
		echo "FAIL: systemd-analyze security gave no score for $unit"
		failed=1
	elif awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
		echo "ok: $unit exposure $score <= 2.0"
	else
		echo "FAIL: $unit exposure $score > 2.0"
		failed=1
	fi

	instance=$unit
	[ "$unit" = rulsrv@.service ] && instance=rulsrv@prediction.service
	sed "s|/usr/sbin/rulsrv|$build/bin/rulsrv|g" "$src/packaging/systemd/$unit" > "$tmp/$unit"
	out=$(cd "$tmp" && systemd-analyze verify --man=no "./$instance" 2>&1 || true)
	if [ -n "$out" ]; then
		echo "FAIL: systemd-analyze verify $instance:"
		echo "$out"
		failed=1
	else
		echo "ok: systemd-analyze verify $instance"
	fi
done
exit $failed
