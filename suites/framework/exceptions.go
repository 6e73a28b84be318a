package framework

import (
	"fmt"
	"strings"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/fixtures/brokers"
	"github.com/faultline-mqtt/faultline/reports"
)

// failOrExcuse is the suite's fail handler. A failure of a spec that the
// target's profile (fixtures/brokers/<name>/profile.json) declares as a
// limitation (an optional feature the broker lacks) or a known deviation
// ends the spec as "not supported" or "known deviation", naming the
// statement, what the broker does instead, the evidence and what was
// observed; every other failure is a failure. Profiles are ignored in
// self-tests against the faulty broker.
func failOrExcuse(message string, callerSkip ...int) {
	skip := 2
	if len(callerSkip) > 0 {
		skip += callerSkip[0]
	}
	if current != nil && current.profile != nil {
		spec := ginkgo.CurrentSpecReport()
		stmts := StatementsOf(spec.Labels())
		name := spec.FullText()
		for _, e := range current.profile.Limitations {
			if e.Matches(stmts, name, message) {
				excuse(reports.UnsupportedPrefix, e, message, skip)
			}
		}
		for _, e := range current.profile.Deviations {
			if e.Matches(stmts, name, message) {
				excuse(reports.DeviationPrefix, e, message, skip)
			}
		}
	}
	ginkgo.Fail(message, skip)
}

func excuse(prefix string, e brokers.Exception, observed string, skip int) {
	if active != nil {
		ginkgo.AddReportEntry(TraceEntry, active.TraceText(), ginkgo.ReportEntryVisibilityNever)
		active.addTraceData(observed)
	}
	lines := strings.Split(strings.TrimSpace(observed), "\n")
	if len(lines) > 8 {
		lines = append(lines[:8], "…")
	}
	ginkgo.Skip(fmt.Sprintf("%s[%s] %s (%s profile; evidence: %s)\nobserved: %s",
		prefix, e.Statement, e.Instead, current.profile.Name, e.Evidence, strings.Join(lines, "\n")), skip+1)
}
