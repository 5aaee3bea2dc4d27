#!/usr/bin/env bash
# test_manpages.sh - every manual page passes `mandoc -Tlint` with nothing to report.
# mandoc looks cross references up in the system's manpath only, so a reference to one of
# our own pages is accepted when that page exists in man/ (whether the system lacks it, or
# has it from an installed package, test_deb's maybe, that mandoc.db does not list yet);
# every other message fails.
set -euo pipefail
src=${RULSRV_SOURCE_DIR:?}
command -v mandoc >/dev/null || { echo "SKIP: mandoc is not installed"; exit 77; }

for page in rulsrv.8 rulsrv.conf.5 rulsrv-plugins.7 rulsrv-train.1 rulsrv-replay.1; do
	[ -f "$src/man/$page" ] || { echo "FAIL: man/$page is missing"; exit 1; }
done

failed=0
for page in "$src"/man/*.[1-8]; do
	bad=""
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		ref=$(printf '%s\n' "$line" |
			sed -n -e 's/.*referenced manual not found: Xr \(rulsrv[^ ]*\) \([1-8]\).*/\1.\2/p' \
				-e 's/.*outdated mandoc.db lacks \(rulsrv[^ (]*\)(\([1-8]\)) entry.*/\1.\2/p')
		if [ -n "$ref" ] && [ -f "$src/man/$ref" ]; then
			continue
		fi
		bad="$bad$line"$'\n'
	done < <(mandoc -Tlint "$page" 2>&1 || true)
	if [ -n "$bad" ]; then
		echo "FAIL: mandoc -Tlint $(basename "$page"):"
		printf '%s' "$bad"
		failed=1
	else
		echo "ok: $(basename "$page")"
	fi
done
exit $failed
