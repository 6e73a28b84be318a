# Faultline: MQTT broker conformance and fault-injection harness.
# `make conformance` checks a broker; `make test` checks Faultline itself.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := conformance
# Ginkgo honours only this for colour; it also keeps ANSI codes out of JUnit.
export GINKGO_NO_COLOR := TRUE

GINKGO := go tool ginkgo
PROCS  ?= 4
LABELS ?=
# Where reports go: reports/ for the default target.
OUT    ?= reports

SUITE  := bin/faultline.test
TALLY  := bin/tally
GO_SRC := $(shell find . -name '*.go' -not -path './bin/*') go.mod go.sum

GINKGO_RUN = $(GINKGO) run -p --procs=$(PROCS) --timeout=15m --poll-progress-after=60s \
	--fail-on-pending --fail-on-empty $(if $(LABELS),--label-filter='$(LABELS)')

.PHONY: conformance test bench spec-coverage help clean

help:
	@echo "make conformance   run every suite against MQTT_BROKER (default: the embedded broker); LABELS=... narrows it"
	@echo "make test          Faultline's own tests: unit tests, the suites on the embedded broker, the faulty-broker matrix"
	@echo "make spec-coverage which MQTT 3.1.1 statements the specs cover (covered / checkable / total)"
	@echo "make bench         decoder throughput and the link's latency overhead (QoS 1 round trips, proxied vs direct)"

$(SUITE): $(GO_SRC)
	@mkdir -p bin
	go test -c -o $@ ./suites

$(TALLY): $(GO_SRC)
	@mkdir -p bin
	go build -o $@ ./reports/tally

## conformance: every suite against the target broker; JUnit in $(OUT)/junit.xml
conformance: $(SUITE)
	@mkdir -p $(OUT); rm -f $(OUT)/summary.txt; rc=0; \
	FAULTLINE_REPORT_DIR=$(abspath $(OUT)) $(GINKGO_RUN) --output-dir=$(OUT) --json-report=report.json $(SUITE) || rc=$$?; \
	cat $(OUT)/summary.txt 2>/dev/null || echo "faultline: the run ended before writing its summary (exit $$rc)"; \
	exit $$rc

## test: unit tests (with the race detector), the suites on the embedded
## broker, and the kill matrix (every spec red against its defect).
test: $(SUITE) $(TALLY)
	@rm -rf reports/test; mkdir -p reports/test; rc=0; \
	FAULTLINE_SUITE_BIN=$(abspath $(SUITE)) go test -json -race -count=1 $$(go list ./... | grep -v '/suites$$') 2>&1 \
		| tee reports/test/unit.json | $(TALLY) -echo || rc=1; \
	env -u MQTT_BROKER -u TOXIPROXY_URL FAULTLINE_REPORT_DIR=$(abspath reports/test) \
		$(GINKGO_RUN) --output-dir=reports/test --json-report=suites.json $(SUITE) || rc=1; \
	cat reports/test/summary.txt; \
	$(TALLY) reports/test/*.json || rc=1; \
	exit $$rc

## spec-coverage: statements covered by the specs' labels (a dry run).
spec-coverage: $(SUITE)
	@mkdir -p reports/coverage-run
	@cd reports/coverage-run && ../../$(SUITE) -ginkgo.dry-run -ginkgo.json-report=specs.json >/dev/null
	@go run ./reports/coverage reports/coverage-run/specs.json

## bench: speed figures. The raw client shows the link's own cost; the paho
## client is what the specs use.
bench:
	@echo "== MQTT decoder (proxy/wire): throughput"
	@go test -run '^$$' -bench 'BenchmarkStream|BenchmarkDecode' -benchmem ./proxy/wire | awk '/^Benchmark/ {printf "  %-28s %10s MB/s  %8s ns/op\n", $$1, $$5, $$3}'
	@echo "== the tap (decode + trace) per QoS 1 PUBLISH"
	@go test -run '^$$' -bench 'BenchmarkTapFeed' -benchmem ./proxy | awk '/^Benchmark/ {printf "  %-28s %10s ns/op  %s allocs/op\n", $$1, $$3, $$(NF-1)}'
	@echo "== QoS 1 PUBLISH→PUBACK round trip on the embedded broker: direct vs through a link (median and p99, µs)"
	@go test -run '^$$' -bench 'QoS1RoundTrip' -benchtime 30000x -count 3 ./proxy | awk '/^Benchmark/ { \
		for (i = 5; i < NF; i += 2) m[$$(i+1)] = $$i; \
		printf "  %-30s direct %6.1f / %6.1f   proxied %6.1f / %6.1f   ratio p50 %.2fx  p99 %.2fx\n", $$1, \
			m["direct-p50-µs"], m["direct-p99-µs"], m["proxied-p50-µs"], m["proxied-p99-µs"], m["p50-ratio"], m["p99-ratio"] }'

clean:
	rm -rf bin reports/test reports/junit.xml reports/summary.txt reports/report.json
