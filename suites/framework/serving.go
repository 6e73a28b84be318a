package framework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/reports"
)

// A broker that stops serving altogether (it crashed, shut itself down,
// or refuses every client) would otherwise turn every later spec into a
// protocol violation of its own ("could not connect: EOF"), and could even
// hide behind a profile's excuses. The run watches for that:
//
//   - after every spec that did not pass (failed, or ended as not
//     supported or known deviation), Faultline connects to the broker
//     directly, as before the run: CONNECT, then an accepting CONNACK. A
//     broker that refuses or drops the connection for servingGrace is
//     down. One that takes the connection and the CONNECT but answers
//     nothing within the acknowledgement bound serves, withholding
//     CONNACK: that counts as a missing CONNACK (stall.go), not as down;
//     and a spec that failed for a withheld CONNACK, or for an answer the
//     run already knows withheld, needs no probe. A passing spec costs
//     nothing.
//   - the first process to find it down records it, for every process, in
//     a file of the run (the spec after which it was found, when, why, and
//     what the other processes were running then, for bisecting). That
//     spec FAILs with the evidence, also when its own failure had been
//     excused by the profile.
//   - every later spec, on every process, FAILs at once, before it
//     connects anything, with "not run: the broker stopped accepting
//     connections after spec …", never with a verdict on the protocol.
//
// Neither failure goes through the profile: a broker that stops serving
// is never a known deviation.

// servingGrace is how long a broker that does not answer a CONNECT gets to
// answer again before it counts as down: long enough for a busy JVM broker,
// short against a spec timeout.
const servingGrace = 10 * time.Second

// NotRunPrefix starts the failure of a spec that did not run because the
// broker had stopped serving.
const NotRunPrefix = reports.NotRunPrefix

// brokerDown is what the run records when the broker stopped serving.
type brokerDown struct {
	After   string    `json:"after"`   // the spec after which it was found down
	Process int       `json:"process"` // on which process
	At      time.Time `json:"at"`      // when the last probe failed
	Cause   string    `json:"cause"`   // the last probe's error
	Running []string  `json:"running"` // the specs the other processes were running then
}

func (d brokerDown) line() string {
	return fmt.Sprintf("after spec %q (process %d, %s: %s)", d.After, d.Process, d.At.Format("15:04:05.000"), d.Cause)
}

// servingDir is the run's directory for what processes tell each other
// about the broker: one file per process naming the spec it runs, and
// "down" once the broker stopped serving.
func servingDir() string {
	return filepath.Join(os.TempDir(), "faultline-run-"+current.ID)
}

// downNote, once set, is the evidence to fail the current spec with in
// ReportAfterEach, when the spec was excused before the broker was found
// down.
var downNote string

// watchServing registers the checks; Suite calls it. A broker that serves
// but withholds one kind of answer is watched for too (stall.go).
func watchServing() {
	watchStalls()
	ginkgo.BeforeEach(func() {
		if current == nil {
			return
		}
		if d, ok := readDown(); ok {
			ginkgo.Fail(reports.NotRun(d.line()))
		}
		mine := filepath.Join(servingDir(), fmt.Sprintf("p%d", ginkgo.GinkgoParallelProcess()))
		_ = os.MkdirAll(servingDir(), 0o755)
		_ = os.WriteFile(mine, []byte(ginkgo.CurrentSpecReport().FullText()), 0o644)
		ginkgo.DeferCleanup(os.Remove, mine) // runs last: after the spec's own clean-up and the check below
	})
	ginkgo.AfterEach(func(ctx ginkgo.SpecContext) {
		spec := ginkgo.CurrentSpecReport()
		if current == nil || !(spec.Failed() || spec.State == types.SpecStateSkipped) ||
			strings.HasPrefix(spec.Failure.Message, NotRunPrefix) {
			return
		}
		var evidence string
		if d, ok := readDown(); ok {
			// Another process found it down first.
			evidence = "the broker had stopped accepting connections by the end of this spec: found down " + d.line()
		} else {
			if failedForStall(spec.Failure.Message) {
				return // serving, withholding an answer (stall.go)
			}
			cause, up := stillServing(ctx)
			if up {
				return
			}
			if silent, ok := silentConnack(cause); ok {
				// It took the connection and the CONNECT: not down, but
				// withholding CONNACK (stall.go counts it; the spec's own
				// failure says what it saw).
				fmt.Fprintln(ginkgo.GinkgoWriter, silent)
				recordMissing(wire.CONNACK, "serving probe after "+spec.FullText())
				return
			}
			mine := brokerDown{After: spec.FullText(), Process: ginkgo.GinkgoParallelProcess(), At: time.Now(), Cause: cause}
			d := recordDown(mine)
			if d.Process != mine.Process || d.After != mine.After {
				evidence = "the broker had stopped accepting connections by the end of this spec: found down " + d.line()
			} else {
				evidence = fmt.Sprintf("the broker stopped accepting connections during this spec or right before its end: "+
					"for %v after it, a new client's CONNECT got no accepting CONNACK (%s)", servingGrace, cause)
				if len(d.Running) > 0 {
					evidence += "\nspecs running on other processes then: " + strings.Join(d.Running, "; ")
				}
			}
		}
		ginkgo.AddReportEntry(reports.ServingEntry, evidence, ginkgo.ReportEntryVisibilityAlways)
		if spec.State == types.SpecStateSkipped {
			// Not supported or known deviation: FAIL instead (ReportAfterEach can override a skip).
			downNote = evidence + "\n(the spec had ended as: " + firstLineOf(spec.Failure.Message) + ")"
		}
	}, ginkgo.NodeTimeout(servingGrace+30*time.Second))
	ginkgo.ReportAfterEach(func(types.SpecReport) {
		if note := downNote; note != "" {
			downNote = ""
			ginkgo.Fail(note)
		}
	})
	ginkgo.ReportAfterSuite("Faultline serving watch", func(types.Report) {
		if current != nil {
			_ = os.RemoveAll(servingDir())
		}
	})
}

// stillServing probes the broker until it accepts a connection or
// servingGrace has passed; it returns the last error. A broker that takes
// the connection and the CONNECT but answers nothing within the
// acknowledgement bound is not probed again: it serves (silentConnack).
func stillServing(ctx context.Context) (string, bool) {
	deadline := time.Now().Add(servingGrace)
	for {
		pctx, cancel := context.WithTimeout(ctx, min(servingGrace, max(ackTimeout(), time.Second)))
		if bound, why := answerBound(wire.CONNACK); why != "" {
			cancel()
			pctx, cancel = context.WithTimeout(ctx, bound) // the run has seen it withheld already
		}
		err := current.Target.Probe(pctx, current.clientID())
		cancel()
		if err == nil {
			return "", true
		}
		if errors.Is(err, errSilentConnack) {
			return silentPrefix + err.Error(), false
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err.Error(), false
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// silentPrefix marks the cause of a probe that connected and sent
// CONNECT, to which the broker answered nothing.
const silentPrefix = "silent: "

// silentConnack says whether cause, from stillServing, is a broker that
// took the probe's connection and CONNECT but sent no CONNACK, and in
// what words: it is withholding CONNACK, not down.
func silentConnack(cause string) (string, bool) {
	rest, ok := strings.CutPrefix(cause, silentPrefix)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("the broker still takes connections, but a new client's CONNECT got no CONNACK (%s): %s, not down", rest, missingPhrase(wire.CONNACK)), true
}

// recordDown writes d as the run's "down" record unless another process
// wrote one first, and returns the record in force.
func recordDown(d brokerDown) brokerDown {
	dir := servingDir()
	_ = os.MkdirAll(dir, 0o755)
	entries, _ := os.ReadDir(dir)
	me := fmt.Sprintf("p%d", ginkgo.GinkgoParallelProcess())
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "p") || e.Name() == me {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && len(b) > 0 {
			d.Running = append(d.Running, fmt.Sprintf("%q (process %s)", string(b), strings.TrimPrefix(e.Name(), "p")))
		}
	}
	sort.Strings(d.Running)
	b, _ := json.Marshal(d)
	// Written aside, then linked into place: readers never see half a
	// record, and only the first process's record counts.
	tmp := filepath.Join(dir, fmt.Sprintf(".down-%s", me))
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return d
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, filepath.Join(dir, "down")); errors.Is(err, fs.ErrExist) {
		if first, ok := readDown(); ok {
			return first
		}
	}
	return d
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// readDown returns the run's "down" record, if the broker stopped serving.
func readDown() (brokerDown, bool) {
	var d brokerDown
	b, err := os.ReadFile(filepath.Join(servingDir(), "down"))
	if err != nil || json.Unmarshal(b, &d) != nil {
		return d, false
	}
	return d, true
}
