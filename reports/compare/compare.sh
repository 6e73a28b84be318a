#!/usr/bin/env bash
# Usage: reports/compare/compare.sh OUT BROKER...   (make compare; OUT is out/)
#
# Runs `make conformance BROKER=<name>` for each broker in turn (reports in
# OUT/<name>/, console in OUT/<name>/console.txt). A broker that does not
# start here is listed with the reason and the others carry on. Then
# bin/compare writes OUT/compare/comparison.md and comparison.html.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [[ $# -lt 2 ]]; then
	echo "usage: $0 OUT BROKER..." >&2
	exit 2
fi
out=$1
shift
trap 'echo "compare: interrupted" >&2; exit 130' INT TERM
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
t0=$(now)
args=()
for b in "$@"; do
	dir=$out/$b
	mkdir -p "$dir"
	rm -f "$dir"/{report.json,report.html,junit.xml,summary.txt,manifest.txt,run.env,console.txt}
	printf '== %-10s ' "$b"
	t=$(now)
	# -o: every broker runs the suite binary make compare built, even if
	# sources change meanwhile.
	make --no-print-directory -o bin/faultline.test conformance BROKER="$b" OUT="$out" >"$dir/console.txt" 2>&1
	rc=$?
	wall=$(since "$t")
	version=
	if [[ $b == embedded ]]; then
		version=$(awk '$1 == "github.com/mochi-mqtt/server/v2" { print "(mochi " $2 ")" }' go.mod)
	elif [[ -f $dir/run/started.env ]]; then
		version=$(sed -n 's/^FAULTLINE_BROKER_VERSION=//p' "$dir/run/started.env" | tr -d "'")
	fi
	{
		echo "wall=$wall"
		echo "version=$version"
		if ((rc == 3)); then
			why=$(grep -m1 -E 'start failed|did not start|unknown broker' "$dir/console.txt" | cut -c1-300)
			echo "missing=${why:-the broker did not start (exit 3)}"
		fi
	} >"$dir/run.env"
	if ((rc == 3)); then
		echo "did not start (${wall}s): $(sed -n 's/^missing=//p' "$dir/run.env")"
	elif [[ -f $dir/summary.txt ]]; then
		echo "$(grep -m1 '^Faultline against' "$dir/summary.txt" | sed 's/^Faultline against //') [${wall}s with start and stop]"
	else
		echo "no summary (exit $rc, ${wall}s); see $dir/console.txt"
	fi
	args+=("$b=$dir")
done
bin/compare -out "$out/compare" -total "$(since "$t0")" "${args[@]}"
