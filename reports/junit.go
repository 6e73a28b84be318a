package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
)

// TraceEntry is the name of the report entry that carries a spec's wire
// trace (the framework adds it when a spec fails).
const TraceEntry = "wire trace"

// WriteJUnit writes report as JUnit XML to path, after shaping it for CI
// viewers:
//   - suite set-up nodes that passed are dropped (they would appear once
//     per parallel process), ones that failed stay, with a name, so a
//     broken set-up never shows as "0 tests, 0 failures";
//   - the wire trace of a failed spec goes into its <system-out>;
//   - testcases are sorted by name, and classname says which broker ran.
func WriteJUnit(report types.Report, path, classname string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	shaped := Shape(report)
	if classname != "" {
		shaped.SuiteDescription = classname
	}
	return reporters.GenerateJUnitReportWithConfig(shaped, path, reporters.JunitReportConfig{
		OmitTimelinesForSpecState: types.SpecStatePassed | types.SpecStateSkipped | types.SpecStatePending,
		OmitLeafNodeType:          true,
		OmitSpecLabels:            true,
	})
}

// Shape returns a copy of report ready for JUnit (see WriteJUnit).
func Shape(report types.Report) types.Report {
	specs := make(types.SpecReports, 0, len(report.SpecReports))
	for _, s := range report.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			if s.State.Is(types.SpecStatePassed | types.SpecStateSkipped) {
				continue
			}
			if s.LeafNodeText == "" {
				s.LeafNodeText = "[" + s.LeafNodeType.String() + "]"
			}
		}
		if s.Failed() || strings.HasPrefix(s.Failure.Message, DeviationPrefix) {
			if trace := entry(s, TraceEntry); trace != "" {
				s.CapturedStdOutErr += "wire trace (client names, time since the spec began):\n" + trace
			}
		}
		s.ReportEntries = withoutData(s.ReportEntries)
		if s.NumAttempts > 1 {
			s.CapturedStdOutErr += fmt.Sprintf("\nFLAKY: needed %d attempts\n", s.NumAttempts)
		}
		specs = append(specs, s)
	}
	sort.SliceStable(specs, func(i, j int) bool { return specs[i].FullText() < specs[j].FullText() })
	report.SpecReports = specs
	return report
}

// dataEntries are report entries that only the HTML report reads: JUnit
// readers never see them (JUnit would list their JSON as properties).
var dataEntries = []string{TraceDataEntry, ChaosTimelineEntry, WireCostEntry}

func withoutData(entries types.ReportEntries) types.ReportEntries {
	out := make(types.ReportEntries, 0, len(entries))
	for _, e := range entries {
		if !slices.Contains(dataEntries, e.Name) {
			out = append(out, e)
		}
	}
	return out
}

func entry(s types.SpecReport, name string) string {
	for _, e := range s.ReportEntries {
		if e.Name == name {
			return e.StringRepresentation()
		}
	}
	return ""
}

// Slug makes a broker name safe for file names and JUnit classnames
// (Jenkins splits classnames at the last dot).
func Slug(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	return strings.Trim(b.String(), "_")
}
