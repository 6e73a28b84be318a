// Command coverage reports which MQTT 3.1.1 normative statements the
// suite's specs cover:
//
//	coverage REPORT.json
//
// REPORT.json is a Ginkgo JSON report of the suite (a dry run is enough:
// `bin/faultline.test -ginkgo.dry-run -ginkgo.json-report=REPORT.json`).
// It prints covered / checkable / total, the coverage per section, and
// every checkable statement no spec covers.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/faultline-mqtt/faultline/fixtures/spec"
	"github.com/faultline-mqtt/faultline/reports"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: coverage REPORT.json")
		os.Exit(2)
	}
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "coverage:", err)
		os.Exit(2)
	}
	var runs []types.Report
	if err := json.Unmarshal(b, &runs); err != nil {
		fmt.Fprintln(os.Stderr, "coverage:", err)
		os.Exit(2)
	}
	specsOf := map[string]int{}
	for _, r := range runs {
		for _, s := range r.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt {
				continue
			}
			for _, id := range reports.Statements(s.Labels()) {
				specsOf[id]++
			}
		}
	}
	all := spec.All()
	var covered, checkable int
	var uncovered []spec.Statement
	type tally struct{ covered, checkable int }
	sections := map[string]*tally{}
	var order []string
	for _, st := range all {
		sec := strings.SplitN(st.Section, ".", 2)[0]
		if sections[sec] == nil {
			sections[sec] = &tally{}
			order = append(order, sec)
		}
		if st.Checkable {
			checkable++
			sections[sec].checkable++
			if specsOf[st.ID] > 0 {
				covered++
				sections[sec].covered++
			} else {
				uncovered = append(uncovered, st)
			}
		}
	}
	fmt.Printf("MQTT 3.1.1 normative statements: %d covered / %d checkable / %d total (%.0f%% of the checkable)\n",
		covered, checkable, len(all), 100*float64(covered)/float64(max(checkable, 1)))
	sort.Strings(order)
	for _, sec := range order {
		t := sections[sec]
		fmt.Printf("  section %-3s %3d / %3d\n", sec, t.covered, t.checkable)
	}
	if len(uncovered) > 0 {
		fmt.Printf("\nCheckable statements no spec covers (%d):\n", len(uncovered))
		for _, st := range uncovered {
			fmt.Printf("  %-14s %-6s %s\n", st.ID, st.Actor, st.Text)
		}
	}
}
