package framework

import (
	"fmt"
	"strings"

	"github.com/onsi/ginkgo/v2"
)

// Story is the plain-language account a scenario gives of what happened
// and why, built from what was observed (never written in advance).
type Story struct {
	lines []string
}

// Say adds a sentence to the story.
func (s *Story) Say(format string, args ...any) {
	s.lines = append(s.lines, fmt.Sprintf(format, args...))
}

func (s *Story) String() string {
	var b strings.Builder
	for _, l := range s.lines {
		fmt.Fprintf(&b, "  - %s\n", l)
	}
	return b.String()
}

// ScenarioIt declares one of the course's connectivity scenarios: a spec
// named name (run it alone with make scenario NAME=name) that tells, when
// it ends, what happened on the wire and why, whether it passed or not.
func (f *Framework) ScenarioIt(name, question string, args ...any) bool {
	body := args[len(args)-1].(func(SpecContextStory))
	args = args[:len(args)-1]
	args = append(args, ginkgo.Label("scenario", "scenario:"+name), ginkgo.Offset(1))
	return ConformanceIt(question, append(args, func(ctx ginkgo.SpecContext) {
		story := &Story{}
		ginkgo.DeferCleanup(func() {
			ginkgo.AddReportEntry("what happened", story.String(), ginkgo.ReportEntryVisibilityAlways)
			ginkgo.AddReportEntry("on the wire", f.TraceText(), ginkgo.ReportEntryVisibilityAlways)
			f.addTraceData(ginkgo.CurrentSpecReport().Failure.Message) // the HTML report draws every scenario
		})
		body(SpecContextStory{SpecContext: ctx, Story: story})
	})...)
}

// SpecContextStory is a scenario's context: the spec's context and its story.
type SpecContextStory struct {
	ginkgo.SpecContext
	*Story
}
