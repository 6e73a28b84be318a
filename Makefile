# Faultline: MQTT broker conformance and fault-injection harness.
# `make conformance` checks a broker; `make test` checks Faultline itself.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := conformance
# Ginkgo honours only this for colour; it also keeps ANSI codes out of JUnit.
export GINKGO_NO_COLOR := TRUE

GINKGO := go tool ginkgo
LABELS ?=
# Where every generated file goes: out/ (git-ignored; holds no source, so
# `make clean` can remove it whole). Binaries go to bin/.
OUT    ?= out
# BROKER=<name>: conformance starts that broker, runs against it, stops it
# (fixtures/brokers/run); reports in $(OUT)/<name>/.
BROKER ?=
BROKERS := embedded $(sort $(patsubst fixtures/brokers/%/start,%,$(wildcard fixtures/brokers/*/start)))
ifneq ($(BROKER),)
ifeq ($(filter $(BROKER),$(BROKERS)),)
$(error unknown BROKER '$(BROKER)'; choose one of: $(BROKERS))
endif
endif

# Public mode, for shared public brokers: FAULTLINE_PUBLIC=1, or implied by
# a public host in MQTT_BROKER. Gentle: fewer processes, payloads of at most
# 256 KiB, no soak, no protocol violations, no restarts (PUBLIC_LABELS).
PUBLIC_HOSTS  := test.mosquitto.org broker.emqx.io broker.hivemq.com mqtt.eclipseprojects.io public.mqtthq.com
PUBLIC        := $(if $(filter 0 false no,$(FAULTLINE_PUBLIC)),,$(strip \
	$(filter 1 true yes,$(FAULTLINE_PUBLIC))$(foreach h,$(PUBLIC_HOSTS),$(findstring $(h),$(MQTT_BROKER)))))
PUBLIC_LABELS := !large && !chaos && !violations && !restart
# Specs mostly wait on the network and the clock (keepalives, expiries):
# eight at once keep a 2-core machine busy without starving them.
PROCS ?= $(if $(PUBLIC),2,8)
LABEL_FILTER   = $(if $(PUBLIC),$(if $(LABELS),($(LABELS)) && $(PUBLIC_LABELS),$(PUBLIC_LABELS)),$(LABELS))
PUBLIC_ENV     = $(if $(PUBLIC),FAULTLINE_PUBLIC=1 FAULTLINE_MAX_PAYLOAD=256KiB)

# make test's own results (unit.json, suites.json, ...; .ci/run tallies them).
TEST_OUT = $(OUT)/test

SUITE   := bin/faultline.test
TALLY   := bin/tally
COMPARE := bin/compare
PROGRESS := bin/progress
# The binaries embed the broker profiles and the statement catalogs too.
GO_SRC  := $(shell find . -name '*.go' -not -path './bin/*' -not -path './out/*') go.mod go.sum \
	$(wildcard fixtures/brokers/*/profile.json fixtures/spec/*.tsv)

GINKGO_RUN = $(GINKGO) run -p --procs=$(PROCS) --timeout=15m --poll-progress-after=60s \
	--fail-on-pending --fail-on-empty $(if $(LABEL_FILTER),--label-filter='$(LABEL_FILTER)')

.PHONY: conformance suite scenario client chaos compare public-check test lint flake-check bench bench-stalls spec-coverage help clean

help:
	@echo "make conformance   run every suite against MQTT_BROKER (default: the embedded broker); LABELS=... narrows it;"
	@echo "                   $(OUT)/junit.xml, summary.txt and report.html (packet diagrams of failures; FAULTLINE_TRACE=1: of every spec)"
	@echo "                   progress: a live line in a terminal; one line per finished area without one (or CI=true)"
	@echo "make conformance BROKER=<name>   start that broker, run every suite against it, stop it; reports in $(OUT)/<name>/"
	@echo "                   brokers: $(BROKERS)"
	@echo "make scenario NAME=<name>   one of the course's connectivity scenarios, told step by step with its wire trace"
	@echo "                   (no NAME: all of them): lost-before-publish lost-before-forward latest-value command-after-offline"
	@echo "                   CLIENT='python3 my_client.py': your program instead of Faultline's own client, in lost-before-publish"
	@echo "                   lost-before-puback lost-mid-publish lost-before-forward latest-value, told about your code"
	@echo "make client CLIENT='python3 my_client.py'   judge your own MQTT client program through a link ({host} {port} in the command, or MQTT_HOST/MQTT_PORT)"
	@echo "make chaos         the chaos soak: seeded faults on every link for CHAOS_DURATION ($(CHAOS_DURATION)), CHAOS_MESSAGES ($(CHAOS_MESSAGES)) per publisher,"
	@echo "                   3.1.1 and 5.0 clients mixed on one broker; CHAOS_SEED=<n> replays a run (the seed is printed)"
	@echo "make compare       conformance on every broker that starts here; side-by-side table in $(OUT)/compare/comparison.{md,html}"
	@echo "make public-check  public mode leaves nothing behind: the suites in public mode on a local mosquitto, then a check"
	@echo "make test          Faultline's own tests: unit tests, the suites on the embedded broker, the faulty-broker matrix"
	@echo "make lint          gofmt, go vet, staticcheck, go.mod tidy; then duplicates --change (advisory)"
	@echo "make spec-coverage which MQTT 3.1.1 and 5.0 statements the specs cover (covered / checkable / total per version)"
	@echo "make flake-check   the suites RUNS ($(RUNS)) times on the embedded broker and mosquitto, the kill matrix MATRIX_RUNS ($(MATRIX_RUNS)) and the unit tests UNIT_RUNS ($(UNIT_RUNS)) times beside them; per spec and test, how many runs disagreed"
	@echo "make clean         removes out/ (every generated report) and bin/ (every binary)"
	@echo "make bench         decoder throughput, the link's latency overhead (QoS 1 round trips, proxied vs direct), whole runs healthy vs stalled (STALL_DEFECTS)"
	@echo "make bench-stalls  whole runs healthy vs stalled for every stalling defect of the faulty broker (seven; about 8 minutes here)"

$(SUITE): $(GO_SRC)
	@mkdir -p bin
	go test -c -o $@ ./suites

$(TALLY): $(GO_SRC)
	@mkdir -p bin
	go build -o $@ ./reports/tally

$(COMPARE): $(GO_SRC)
	@mkdir -p bin
	go build -o $@ ./reports/compare

$(PROGRESS): $(GO_SRC)
	@mkdir -p bin
	go build -o $@ ./reports/progress

## conformance: every suite against the target broker; JUnit in $(OUT)/junit.xml.
## With BROKER=<name>, fixtures/brokers/run starts the broker into
## $(OUT)/<name>/run, runs `make suite` against it and stops it.
conformance: $(SUITE)
ifneq ($(BROKER),)
	@fixtures/brokers/run $(BROKER) $(OUT)/$(BROKER)/run $(MAKE) --no-print-directory suite OUT=$(OUT)/$(BROKER) BROKER=
else
	@$(MAKE) --no-print-directory suite
endif

## suite: the run itself, against whatever the environment names (conformance
## builds $(SUITE) first).
## Ginkgo's output (stdout and stderr) goes through $(PROGRESS): in a
## terminal it keeps a live line under it (spec running, done/left, broker);
## without one, or with CI=true, one line per finished area.
suite: $(PROGRESS)
	@mkdir -p $(OUT); rm -f $(OUT)/summary.txt $(OUT)/manifest.txt $(OUT)/progress.*; rc=0; \
	$(PUBLIC_ENV) FAULTLINE_REPORT_DIR=$(abspath $(OUT)) $(GINKGO_RUN) --output-dir=$(OUT) --json-report=report.json $(SUITE) 2>&1 \
		| $(PROGRESS) $(OUT) || rc=$$?; \
	cat $(OUT)/summary.txt 2>/dev/null || echo "faultline: the run ended before writing its summary (exit $$rc)"; \
	[[ -f $(OUT)/report.html ]] && echo "HTML report (one file, opens offline): $(OUT)/report.html"; \
	exit $$rc

## scenario: one connectivity scenario (NAME=...), or all of them, against
## the target; each tells what happened and shows the wire.
## With CLIENT='python3 my_client.py' the scenarios that make sense for a
## client run that program through the link instead of Faultline's own
## client (suites/clientspecs/scenarios.go) and tell what it did.
NAME ?=
CLIENT ?=
CLIENT_SUITE := bin/faultline-client.test
ifneq ($(strip $(CLIENT)),)
scenario: export FAULTLINE_CLIENT = $(CLIENT)
scenario: $(CLIENT_SUITE)
	@mkdir -p $(OUT)/scenario; \
	FAULTLINE_REPORT_DIR=$(abspath $(OUT)/scenario) $(GINKGO) run -v --no-color --timeout=10m --fail-on-empty \
		--label-filter='$(if $(NAME),scenario:$(NAME),scenario)' --output-dir=$(OUT)/scenario --json-report=report.json $(CLIENT_SUITE)
else
scenario: $(SUITE)
	@mkdir -p $(OUT)/scenario; \
	FAULTLINE_REPORT_DIR=$(abspath $(OUT)/scenario) $(GINKGO) run -v --no-color --timeout=10m --fail-on-empty \
		--label-filter='$(if $(NAME),scenario:$(NAME),scenario)' --output-dir=$(OUT)/scenario --json-report=report.json $(SUITE)
endif

## client: judge a client program (CLIENT='python3 my_client.py') through a
## link: {host} {port} {url} {id} {topic} in it are substituted and
## MQTT_HOST MQTT_PORT MQTT_URL MQTT_CLIENT_ID MQTT_TOPIC are in its
## environment (suites/clientspecs). One spec at a time: a client may use
## a fixed client id or topic. CLIENT_ROLE=publisher|subscriber|both.
$(CLIENT_SUITE): $(GO_SRC)
	@mkdir -p bin
	go test -c -o $@ ./suites/clients

client: export FAULTLINE_CLIENT = $(CLIENT)
client: $(CLIENT_SUITE)
	@if [[ -z "$$FAULTLINE_CLIENT" ]]; then echo "make client CLIENT='python3 my_client.py'  (a command line; {host} {port} {url} {id} {topic} are substituted)"; exit 2; fi; \
	mkdir -p $(OUT)/client; rm -f $(OUT)/client/summary.txt; rc=0; \
	FAULTLINE_REPORT_DIR=$(abspath $(OUT)/client) $(GINKGO) run -v --no-color --timeout=20m --fail-on-empty \
		--label-filter='$(if $(LABELS),$(LABELS),!scenario)' --output-dir=$(OUT)/client --json-report=report.json $(CLIENT_SUITE) || rc=$$?; \
	cat $(OUT)/client/summary.txt 2>/dev/null || echo "faultline: the run ended before writing its summary (exit $${rc:-0})"; \
	exit $${rc:-0}

## chaos: the chaos spec alone, soaking longer than in a conformance run.
CHAOS_DURATION ?= 60s
CHAOS_MESSAGES ?= 6000
CHAOS_SEED ?=
chaos: $(SUITE)
	@mkdir -p $(OUT)/chaos; \
	FAULTLINE_CHAOS_DURATION=$(CHAOS_DURATION) FAULTLINE_CHAOS_MESSAGES=$(CHAOS_MESSAGES) $(if $(CHAOS_SEED),FAULTLINE_CHAOS_SEED=$(CHAOS_SEED)) \
	FAULTLINE_REPORT_DIR=$(abspath $(OUT)/chaos) $(GINKGO) run -v --timeout=15m --fail-on-empty \
		--label-filter=chaos --output-dir=$(OUT)/chaos --json-report=report.json $(SUITE)

## compare: conformance against every broker that starts here (a broker that
## does not start is listed with the reason), then one side-by-side table.
compare: $(SUITE) $(COMPARE)
	@reports/compare/compare.sh $(OUT) $(BROKERS)

## public-check: public mode cleans up after itself (suites/framework/public_test.go).
public-check: $(SUITE)
	@FAULTLINE_PUBLIC_CHECK=1 FAULTLINE_SUITE_BIN=$(abspath $(SUITE)) go test -count=1 -run TestPublicModeLeavesNothing -v ./suites/framework/

## test: unit tests (with the race detector), the kill matrix (every spec
## red against its defect), the suites on the embedded broker, and the
## suites on mosquitto when it is installed (.ci/run installs it).
test: $(SUITE) $(TALLY)
	@rm -rf $(TEST_OUT); mkdir -p $(TEST_OUT); rc=0; \
	FAULTLINE_SUITE_BIN=$(abspath $(SUITE)) go test -json -race -count=1 $$(go list ./... | grep -v '/suites$$') 2>&1 \
		| tee $(TEST_OUT)/unit.json | $(TALLY) -echo || rc=1; \
	echo "== the suites on the embedded broker"; \
	env -u MQTT_BROKER -u TOXIPROXY_URL FAULTLINE_REPORT_DIR=$(abspath $(TEST_OUT)) \
		$(GINKGO_RUN) --output-dir=$(TEST_OUT) --json-report=suites.json $(SUITE) || rc=1; \
	cat $(TEST_OUT)/summary.txt; \
	if PATH=$$PATH:/usr/sbin command -v mosquitto >/dev/null; then \
		echo "== the suites on mosquitto"; mkdir -p $(TEST_OUT)/mosquitto; \
		env -u TOXIPROXY_URL fixtures/brokers/run mosquitto $(TEST_OUT)/mosquitto/run \
			env FAULTLINE_REPORT_DIR=$(abspath $(TEST_OUT)/mosquitto) \
			$(GINKGO_RUN) --output-dir=$(TEST_OUT) --json-report=mosquitto.json $(SUITE) || rc=1; \
		cat $(TEST_OUT)/mosquitto/summary.txt 2>/dev/null || true; \
	else \
		echo "== mosquitto is not installed: the suites ran on the embedded broker only (apt-get install -y mosquitto)"; \
	fi; \
	$(TALLY) $(TEST_OUT)/*.json || rc=1; \
	exit $$rc

## lint: fails on any file gofmt would change, any go vet or staticcheck
## finding (staticcheck pinned by go.mod's tool directive; staticcheck.conf)
## and an untidy go.mod/go.sum. Then `duplicates --change` lists code the
## uncommitted change repeats: advice only, it never fails the target.
lint:
	@rc=0; \
	echo "== gofmt -l"; bad=$$(find . \( -path ./out -o -path ./bin -o -name '.*' -a ! -name . \) -prune -o -name '*.go' -print0 | xargs -0 gofmt -l); \
	if [[ -n $$bad ]]; then echo "$$bad"; echo "lint: gofmt would change the files above (gofmt -w)"; rc=1; fi; \
	echo "== go vet ./..."; go vet ./... || rc=1; \
	echo "== staticcheck ./..."; go tool staticcheck ./... || rc=1; \
	echo "== go mod tidy -diff"; go mod tidy -diff || { echo "lint: go.mod/go.sum are not tidy (go mod tidy)"; rc=1; }; \
	echo "== duplicates --change (advisory)"; \
	if command -v duplicates >/dev/null; then duplicates --change || true; \
	else echo "duplicates is not installed here: skipped"; fi; \
	if ((rc)); then echo "lint: FAILED"; else echo "lint: ok"; fi; \
	exit $$rc

## spec-coverage: statements covered by the specs' labels (a dry run).
spec-coverage: $(SUITE)
	@mkdir -p $(OUT)/coverage-run
	@cd $(OUT)/coverage-run && $(abspath $(SUITE)) -ginkgo.dry-run -ginkgo.json-report=specs.json >/dev/null
	@go run ./reports/coverage $(OUT)/coverage-run/specs.json

## flake-check: the suites RUNS times on the embedded broker and on
## mosquitto, with the kill matrix MATRIX_RUNS times and the unit tests
## UNIT_RUNS times beside them (a loaded machine); names every spec and
## test whose verdict changed between runs.
RUNS ?= 20
MATRIX_RUNS ?= 5
UNIT_RUNS ?= 10
FLAKES := bin/flakes
$(FLAKES): $(GO_SRC)
	@mkdir -p bin
	go build -o $@ ./reports/flakes

flake-check: $(SUITE) $(FLAKES)
	@RUNS=$(RUNS) MATRIX_RUNS=$(MATRIX_RUNS) UNIT_RUNS=$(UNIT_RUNS) PROCS=$(PROCS) LABELS='$(LABELS)' reports/flakes/check.sh $(abspath $(OUT)/flakes) $(abspath $(SUITE)) $(abspath $(FLAKES))

## bench: speed figures. The raw client shows the link's own cost; the paho
## client is what the specs use.
# bench: the stalling defects timed against a healthy run (three whole runs;
# STALL_DEFECTS=all, or make bench-stalls: every stalling defect, the healthy
# run timed again after every third).
STALL_DEFECTS ?= no-pubrec,connack-after-15s
STALL_BENCH = FAULTLINE_SUITE_BIN=$(abspath $(SUITE)) FAULTLINE_STALL_BENCH=$(1) go test -count=1 -timeout 80m -run '^TestStalledRunTime$$' -v ./fixtures/faulty/ \
		| grep -E '^  (healthy|stalled) run|^--- FAIL|^\s+stalls_test' || { echo "  the stalled-run figures failed"; exit 1; }
bench: $(SUITE)
	@echo "== MQTT decoder (proxy/wire): throughput"
	@go test -run '^$$' -bench 'BenchmarkStream|BenchmarkDecode' -benchmem ./proxy/wire | awk '/^Benchmark/ {printf "  %-28s %10s MB/s  %8s ns/op\n", $$1, $$5, $$3}'
	@echo "== the tap (decode + trace) per QoS 1 PUBLISH"
	@go test -run '^$$' -bench 'BenchmarkTapFeed' -benchmem ./proxy | awk '/^Benchmark/ {printf "  %-28s %10s ns/op  %s allocs/op\n", $$1, $$3, $$(NF-1)}'
	@echo "== QoS 1 PUBLISH→PUBACK round trip on the embedded broker: direct vs through a link (median and p99, µs)"
	@go test -run '^$$' -bench 'QoS1RoundTrip' -benchtime 30000x -count 3 ./proxy | awk '/^Benchmark/ { \
		for (i = 5; i < NF; i += 2) m[$$(i+1)] = $$i; \
		printf "  %-30s direct %6.1f / %6.1f   proxied %6.1f / %6.1f   ratio p50 %.2fx  p99 %.2fx\n", $$1, \
			m["direct-p50-µs"], m["direct-p99-µs"], m["proxied-p50-µs"], m["proxied-p99-µs"], m["p50-ratio"], m["p99-ratio"]; \
		if ("stock-toxiproxy-p50-ratio" in m) printf "  %-30s a stock Toxiproxy proxy, no toxic: ratio p50 %.2fx (the floor of any Toxiproxy link)\n", "", m["stock-toxiproxy-p50-ratio"]; \
		delete m }'
	@echo "== a broker that withholds one kind of answer: whole runs, healthy vs stalled (at most 2x; STALL_DEFECTS=$(STALL_DEFECTS))"
	@$(call STALL_BENCH,$(STALL_DEFECTS))

## bench-stalls: every stalling defect's whole run against healthy ones.
bench-stalls: $(SUITE)
	@echo "== a broker that withholds one kind of answer: whole runs, healthy vs stalled (at most 2x; every stalling defect)"
	@$(call STALL_BENCH,all)

clean:
	rm -rf out $(OUT) bin
