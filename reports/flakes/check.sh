#!/usr/bin/env bash
# Usage: reports/flakes/check.sh OUT_DIR SUITE_BIN FLAKES_BIN
#
# make flake-check: runs the suites RUNS times on the embedded broker and
# (when installed) on mosquitto, and the kill matrix MATRIX_RUNS times at
# the same time, and the harness's own unit tests (with -race) UNIT_RUNS
# times, so every run happens on a loaded machine; then names every spec
# and test whose verdict was not the same in all runs (FLAKES_BIN).
# Bounded: each suite run by SUITE_LIMIT, each go test run by -timeout.
# LABELS narrows the suite runs (a Ginkgo label filter).
set -uo pipefail
export GINKGO_NO_COLOR=TRUE
runs=${RUNS:-20} matrix_runs=${MATRIX_RUNS:-5} unit_runs=${UNIT_RUNS:-10} procs=${PROCS:-8} suite_limit=${SUITE_LIMIT:-10m}

# --suites SET OUT_DIR SUITE_BIN: RUNS runs against whatever MQTT_BROKER names.
if [[ ${1:-} == --suites ]]; then
	set=$2 out=$(realpath -m "$3") suite=$4
	# Ginkgo's own bound goes first, so a run that hangs still writes its report.
	outer=$(( $(sed -E 's/m$/*60/; s/s$//' <<<"$suite_limit") + 120 ))s
	for ((i = 1; i <= runs; i++)); do
		mkdir -p "$out/$set-$i"
		FAULTLINE_REPORT_DIR="$out/$set-$i" timeout -k 30s "$outer" go tool ginkgo run -p --procs="$procs" --timeout="$suite_limit" \
			${LABELS:+--label-filter="$LABELS"} --output-dir="$out/$set-$i" --json-report=report.json "$suite" >"$out/$set-$i/log" 2>&1
		echo "flake-check: $set run $i of $runs ended (exit $?)"
	done
	exit 0
fi

out=$(realpath -m "$1") suite=$2 flakes=$3 # absolute: go test and Ginkgo run in other folders
self=$(realpath "${BASH_SOURCE[0]}")
rm -rf "$out"; mkdir -p "$out"

(
	for ((i = 1; i <= matrix_runs; i++)); do
		FAULTLINE_SUITE_BIN=$suite FAULTLINE_MATRIX_OUT="$out/matrix-$i.json" \
			go test -count=1 -timeout 30m -run TestEveryDefectTurnsItsSpecsRed ./fixtures/faulty/ >"$out/matrix-$i.log" 2>&1
		echo "flake-check: kill matrix run $i of $matrix_runs ended (exit $?)"
	done
) &
matrix=$!
(
	# The unit tests, less the two kill matrices (run above, or too long).
	pkgs=$(go list ./... | grep -v -e '/suites$' -e '/fixtures/faulty$' -e '/fixtures/faultyclient$')
	for ((i = 1; i <= unit_runs; i++)); do
		FAULTLINE_SUITE_BIN=$suite go test -json -race -count=1 -timeout 15m $pkgs >"$out/unit-$i.json" 2>&1
		echo "flake-check: unit test run $i of $unit_runs ended (exit $?)"
	done
) &
unit=$!
trap 'kill $matrix $unit 2>/dev/null' EXIT

env -u MQTT_BROKER -u TOXIPROXY_URL "$self" --suites embedded "$out" "$suite"
if PATH=$PATH:/usr/sbin command -v mosquitto >/dev/null; then
	env -u TOXIPROXY_URL fixtures/brokers/run mosquitto "$out/mosquitto-run" "$self" --suites mosquitto "$out" "$suite"
else
	echo "flake-check: mosquitto is not installed: the suites ran on the embedded broker only (apt-get install -y mosquitto)"
fi
wait $matrix $unit
trap - EXIT

args=()
for set in embedded mosquitto; do
	for ((i = 1; i <= runs; i++)); do
		# A run that wrote no report is named by flakes as unreadable.
		[[ -d $out/$set-$i ]] && args+=("$set=$out/$set-$i/report.json")
	done
done
for ((i = 1; i <= matrix_runs; i++)); do args+=("matrix=$out/matrix-$i.json"); done
for ((i = 1; i <= unit_runs; i++)); do args+=("unit=$out/unit-$i.json"); done
"$flakes" "${args[@]}"
