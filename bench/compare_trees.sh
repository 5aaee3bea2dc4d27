#!/usr/bin/env bash
# compare_trees.sh - the quick benchmark of two source trees, side by side, as ratios.
#
# Usage: bench/compare_trees.sh OLD_TREE NEW_TREE [RUNS]
#   OLD_TREE, NEW_TREE  checked-out source trees, each built in its own TREE/build
#   RUNS                quick runs of each tree (default 3), alternated old, new, old, new...
#
# Each run is `bench/run.sh --quick` of that tree (its own script, so each tree is measured the
# way it measured itself). The figures of each run's "Figures against targets" table are
# collected; the table printed on stdout gives, per figure, the median over the runs of each
# tree and new/old. Alternating the trees spreads the machine's noise over both: absolute
# figures from a shared machine mean little, their ratio from one session means more.
set -euo pipefail
export LC_ALL=C

[ $# -ge 2 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
old="$(cd "$1" && pwd)"
new="$(cd "$2" && pwd)"
runs="${3:-3}"
work="$(mktemp -d /tmp/rulsrv-compare.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# figures FILE: "figure<TAB>value" per row of the targets table; the value is the median the
# row reports (first number of the "measured" column, thousands separators dropped).
figures() {
	awk -F'|' '
		/^### Figures against targets/ { on = 1; next }
		on && /^### / { on = 0 }
		on && /^\| / && $2 !~ /^ *figure *$/ && $2 !~ /^-+$/ {
			fig = $2; gsub(/^ +| +$/, "", fig)
			val = $4; gsub(/,/, "", val)
			if (match(val, /-?[0-9]+(\.[0-9]+)?/))
				print fig "\t" substr(val, RSTART, RLENGTH)
		}' "$1"
}

for i in $(seq 1 "$runs"); do
	for side in old new; do
		tree="${!side}"
		echo "compare_trees: run $i of $runs, $side ($tree)" >&2
		BENCH_OUT="$work/$side-$i.md" bash "$tree/bench/run.sh" --quick "$tree/build" \
			>"$work/$side-$i.log" 2>&1 ||
			{ echo "compare_trees: $side run $i failed, see its log:" >&2; tail -20 "$work/$side-$i.log" >&2; exit 1; }
		figures "$work/$side-$i.md" | sed "s/^/$side\t/" >>"$work/all.tsv"
	done
done

echo "| figure | old (median of $runs) | new (median of $runs) | new / old |"
echo "|---|---|---|---|"
awk -F'\t' '
	function median(list,   n, a, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ if (!($2 in seen)) { seen[$2] = 1; order[++k] = $2 }; v[$1, $2] = v[$1, $2] " " $3 }
	END {
		for (i = 1; i <= k; i++) {
			f = order[i]
			if (!(("old", f) in v) || !(("new", f) in v)) continue
			o = median(v["old", f]); n = median(v["new", f])
			printf "| %s | %s | %s | %s |\n", f, o, n, o != 0 ? sprintf("%.2f", n / o) : "-"
		}
	}' "$work/all.tsv"
