package reports

import (
	"fmt"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func TestSummarySaysOnceWhichAnswerNeverCame(t *testing.T) {
	var report types.Report
	for i := range 5 {
		s := types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: fmt.Sprintf("spec %d", i), State: types.SpecStateFailed,
			Failure: types.Failure{Message: "pub PUBLISH: the broker never sent PUBCOMP for packet id 1 (PUBREL sent 5.0 s ago)"}}
		if i < 4 {
			s.ReportEntries = types.ReportEntries{{Name: MissingEntry, Value: types.WrapEntryValue("PUBCOMP")}}
		}
		report.SpecReports = append(report.SpecReports, s)
	}
	report.SpecReports = append(report.SpecReports, types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: "one SUBACK", State: types.SpecStateFailed,
		ReportEntries: types.ReportEntries{{Name: MissingEntry, Value: types.WrapEntryValue("SUBACK")}}})

	text := Judge(report, "broker").Text()
	want := "STALLED        the broker never completes QoS 2 flows: PUBCOMP missing in 4 specs"
	if strings.Count(text, "STALLED") != 1 || !strings.Contains(text, want) {
		t.Fatalf("want one line %q (SUBACK, missing once, is no stall):\n%s", want, text)
	}
	if strings.Index(text, "STALLED") > strings.Index(text, "FAIL ") {
		t.Errorf("the stall is not said at the top:\n%s", text)
	}
}
