#!/bin/sh
# report_skips.sh JUNIT_XML - after ctest --output-junit: how many tests were skipped, and for
# each the reason it printed (its lines starting with SKIP or skip, e.g. "SKIP: unit.train.cmapss:
# C-MAPSS data absent (...)"). Run by `make test` and `make test-asan`; its own status is 0.
junit=${1:?usage: report_skips.sh JUNIT_XML}
[ -f "$junit" ] || exit 0
awk '
function unescape(s) {
	gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s); gsub(/&quot;/, "\"", s)
	gsub(/&apos;/, "\047", s); gsub(/&amp;/, "\\&", s)
	return s
}
# a line of the test output that gives a reason: "SKIP: ...", "SKIPPED: ...", "skip: ..."
function reason(line, name,   prefix) {
	if (line !~ /^[ \t]*(SKIP|SKIPPED|skip|skipped)[: ]/)
		return
	prefix = "SKIP: " name ": "
	if (index(line, prefix) == 1)
		line = substr(line, length(prefix) + 1)
	reasons = reasons "  " name ": " line "\n"
	said = 1
}
/^[ \t]*<testcase / {
	match($0, /name="[^"]*"/)
	name = unescape(substr($0, RSTART + 6, RLENGTH - 7))
	skipped = 0; said = 0; out = 0; total++
	next
}
/^[ \t]*<skipped/ { skipped = 1; next }
/<system-out>/ { out = 1; sub(/.*<system-out>/, "") }
/<\/system-out>/ { if (skipped) reason(unescape(substr($0, 1, index($0, "</system-out>") - 1)), name); out = 0; next }
/^[ \t]*<\/testcase>/ {
	if (skipped) {
		count++
		if (!said)
			reasons = reasons "  " name ": (it printed no reason)\n"
	}
	next
}
out && skipped { reason(unescape($0), name) }
END {
	if (count == 0)
		exit
	printf "\n%d of %d tests skipped (ctest reports them Skipped, not Passed):\n%s", count, total, reasons
}
' "$junit"
exit 0
