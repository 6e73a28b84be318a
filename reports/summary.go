package reports

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	mqttspec "github.com/faultline-mqtt/faultline/fixtures/spec"
)

// UnsupportedPrefix starts the skip message of a spec whose optional
// feature the broker lacks: reported as "not supported", never as a
// failure or a pass.
const UnsupportedPrefix = "not supported by this broker: "

// DeviationPrefix starts the skip message of a spec whose failure the
// broker's profile declares as a known deviation: reported as such, never
// as a pass.
const DeviationPrefix = "known deviation "

// StatementLabel is the label key of MQTT 3.1.1 normative statement ids:
// "spec:MQTT-4.3.2-1".
const StatementLabel = "spec"

// StatementLabel5 is the label key of MQTT 5.0 normative statement ids:
// "spec5:MQTT-3.3.4-9". The versions number their statements
// independently, so a 5.0 id never goes under StatementLabel.
const StatementLabel5 = "spec5"

// NotRunPrefix starts the failure of a spec that did not run because the
// broker had stopped accepting connections (suites/framework/serving.go).
const NotRunPrefix = "not run: the broker stopped accepting connections"

// notRunEnd ends the failure message of a spec that did not run.
const notRunEnd = "; this spec did not run"

// NotRun is the failure message of a spec that did not run because the
// broker had stopped accepting connections; when says after what.
func NotRun(when string) string { return NotRunPrefix + " " + when + notRunEnd }

// ServingEntry names the report entry of a spec during which the broker
// stopped accepting connections: its first line leads the spec's message.
const ServingEntry = "broker stopped serving"

// Verdict is how one spec ended, in the words of the reports.
type Verdict string

const (
	Pass        Verdict = "pass"
	Fail        Verdict = "FAIL"
	Unsupported Verdict = "not supported"
	Deviation   Verdict = "known deviation"
	Skipped     Verdict = "skipped"
)

// Result is one spec's line in a summary.
type Result struct {
	Name       string
	Verdict    Verdict
	Statements []string
	Message    string // first line of the failure, or the skip reason
	Where      string // file:line of the failure
	Duration   time.Duration
}

// Outcome is a run's results.
type Outcome struct {
	Target   string
	Results  []Result
	Setup    []string // failures outside specs (suite set-up), each once
	Duration time.Duration
	// Missing counts, per answer the broker never sent ("PUBCOMP"), the
	// failed specs that waited for it in vain (reports.MissingEntry).
	Missing map[string]int
}

// Count returns how many results have verdict v.
func (o Outcome) Count(v Verdict) int {
	n := 0
	for _, r := range o.Results {
		if r.Verdict == v {
			n++
		}
	}
	return n
}

// OK says whether nothing failed.
func (o Outcome) OK() bool { return o.Count(Fail) == 0 && len(o.Setup) == 0 }

// Judge reads a Ginkgo report.
func Judge(report types.Report, target string) Outcome {
	o := Outcome{Target: target, Duration: report.RunTime}
	seen := map[string]bool{}
	for _, s := range report.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			if s.Failed() {
				msg := firstLine(s.Failure.Message)
				if !seen[msg] && !strings.Contains(msg, "failed on Ginkgo parallel process #1") {
					seen[msg] = true
					o.Setup = append(o.Setup, msg)
				}
			}
			continue
		}
		r := Result{Name: s.FullText(), Statements: Statements(s.Labels()), Duration: s.RunTime, Verdict: SpecVerdict(s)}
		switch r.Verdict {
		case Pass, Skipped:
		case Unsupported:
			r.Message = strings.TrimPrefix(firstLine(s.Failure.Message), UnsupportedPrefix)
		case Deviation:
			r.Message = strings.TrimPrefix(s.Failure.Message, DeviationPrefix)
		default:
			r.Message = firstLine(s.Failure.Message)
			if s.Failure.ForwardedPanic != "" {
				r.Message += ": " + firstLine(s.Failure.ForwardedPanic)
			}
			if down := firstLine(entry(s, ServingEntry)); down != "" && !strings.HasPrefix(r.Message, down) {
				r.Message = down + "; the spec itself saw: " + r.Message
			}
			r.Where = s.Failure.Location.String()
			for _, e := range s.ReportEntries {
				if e.Name == MissingEntry {
					if o.Missing == nil {
						o.Missing = map[string]int{}
					}
					o.Missing[e.StringRepresentation()]++
				}
			}
		}
		o.Results = append(o.Results, r)
	}
	return o
}

// SpecVerdict is what a run concluded about one spec.
func SpecVerdict(s types.SpecReport) Verdict {
	switch {
	case s.State.Is(types.SpecStatePassed):
		return Pass
	case s.State.Is(types.SpecStateSkipped) && strings.HasPrefix(s.Failure.Message, UnsupportedPrefix):
		return Unsupported
	case s.State.Is(types.SpecStateSkipped) && strings.HasPrefix(s.Failure.Message, DeviationPrefix):
		return Deviation
	case s.State.Is(types.SpecStateSkipped | types.SpecStatePending):
		return Skipped
	}
	return Fail
}

// Statements returns the MQTT statements among a spec's labels as
// references that say the version: a 3.1.1 statement as its bare id
// ("MQTT-4.3.2-1"), a 5.0 statement marked "5.0:" ("5.0:MQTT-3.3.4-9",
// see fixtures/spec.Ref5Prefix). This is how reports print them and how
// profiles name them.
func Statements(labels []string) []string {
	var refs []string
	for _, l := range labels {
		if id, ok := strings.CutPrefix(l, StatementLabel+":"); ok {
			refs = append(refs, id)
		} else if id, ok := strings.CutPrefix(l, StatementLabel5+":"); ok {
			refs = append(refs, mqttspec.Ref5Prefix+id)
		}
	}
	return refs
}

// StatementIDs returns the bare statement ids among a spec's labels, one
// list per protocol version.
func StatementIDs(labels []string) (v311, v5 []string) {
	for _, l := range labels {
		if id, ok := strings.CutPrefix(l, StatementLabel+":"); ok {
			v311 = append(v311, id)
		} else if id, ok := strings.CutPrefix(l, StatementLabel5+":"); ok {
			v5 = append(v5, id)
		}
	}
	return v311, v5
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

// Text renders the outcome for a console: counts, then every failure and
// every unsupported feature with its evidence. When the run failed before
// any spec, its last line is the one reason.
func (o Outcome) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nFaultline against %s: %d passed, %d failed, %d known deviations, %d not supported, %d skipped (%.1fs)\n",
		o.Target, o.Count(Pass), o.Count(Fail), o.Count(Deviation), o.Count(Unsupported), o.Count(Skipped), o.Duration.Seconds())
	notRun, after := 0, ""
	for _, r := range o.Results {
		if r.Verdict == Fail && strings.HasPrefix(r.Message, NotRunPrefix) {
			notRun++
			after, _, _ = strings.Cut(strings.TrimPrefix(r.Message, NotRunPrefix+" "), notRunEnd)
		}
	}
	if notRun > 0 {
		fmt.Fprintf(&b, "  BROKER DOWN    the broker stopped accepting connections %s: %d later specs did not run (listed as FAIL: not run)\n", after, notRun)
	}
	for _, answer := range slices.Sorted(maps.Keys(o.Missing)) {
		if n := o.Missing[answer]; n >= StallAfter {
			fmt.Fprintf(&b, "  STALLED        %s (listed as FAIL; once it was missing in %d, later specs waited for it only briefly)\n", Stalled(answer, n), StallAfter)
		}
	}
	for _, r := range o.Results {
		if r.Verdict == Fail {
			fmt.Fprintf(&b, "  FAIL           %s%s\n                 %s\n", r.Name, ids(r.Statements), r.Message)
		}
	}
	for _, r := range o.Results {
		if r.Verdict == Deviation {
			fmt.Fprintf(&b, "  DEVIATION      %s%s\n                 %s\n", r.Name, ids(r.Statements), brief(r.Message))
		}
	}
	for _, r := range o.Results {
		if r.Verdict == Unsupported {
			fmt.Fprintf(&b, "  not supported  %s%s\n                 %s\n", r.Name, ids(r.Statements), r.Message)
		}
	}
	for _, s := range o.Setup {
		fmt.Fprintf(&b, "%s\n", s)
	}
	return b.String()
}

func ids(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return " [" + strings.Join(s, " ") + "]"
}

// brief is the first line of a declared exception, without its evidence
// (which the JUnit report keeps).
func brief(s string) string {
	s = firstLine(s)
	if i := strings.Index(s, " profile; evidence:"); i > 0 {
		if j := strings.LastIndex(s[:i], " ("); j > 0 {
			s = s[:j]
		}
	}
	return s
}
