// Command coverage reports which MQTT normative statements the suite's
// specs cover, for MQTT 3.1.1 and for MQTT 5.0:
//
//	coverage REPORT.json
//
// REPORT.json is a Ginkgo JSON report of the suite (a dry run is enough:
// `bin/faultline.test -ginkgo.dry-run -ginkgo.json-report=REPORT.json`).
// For each version it prints covered / checkable / total, the coverage per
// chapter, and every checkable statement no spec covers. A spec covers the
// 3.1.1 statements of its spec: labels and the 5.0 statements of its
// spec5: labels (framework.Statements, framework.Statements5).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
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
	v311, v5 := measure(runs)
	v311.write(os.Stdout)
	fmt.Println()
	v5.write(os.Stdout)
}

// Coverage is one protocol version's figures.
type Coverage struct {
	Version   string
	Total     int
	Checkable int
	Covered   int              // checkable statements at least one spec names
	Chapters  []Chapter        // in spec order
	Uncovered []spec.Statement // checkable statements no spec names, in spec order
	Unknown   []string         // ids in labels that the catalog does not have
}

// Chapter is the coverage of one chapter ("3" for MQTT-3.x.y-n).
type Chapter struct {
	Name               string
	Covered, Checkable int
}

// measure counts the statements the It nodes of runs name, per version.
func measure(runs []types.Report) (v311, v5 Coverage) {
	named311, named5 := map[string]int{}, map[string]int{}
	for _, r := range runs {
		for _, s := range r.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt {
				continue
			}
			a, b := reports.StatementIDs(s.Labels())
			for _, id := range a {
				named311[id]++
			}
			for _, id := range b {
				named5[id]++
			}
		}
	}
	return tally(spec.V311, spec.All(), named311), tally(spec.V5, spec.All5(), named5)
}

// tally measures one catalog against the ids the specs name.
func tally(version string, all []spec.Statement, named map[string]int) Coverage {
	c := Coverage{Version: version, Total: len(all)}
	known := map[string]bool{}
	index := map[string]int{}
	for _, st := range all {
		known[st.ID] = true
		name, _, _ := strings.Cut(st.Section, ".")
		i, ok := index[name]
		if !ok {
			i = len(c.Chapters)
			index[name] = i
			c.Chapters = append(c.Chapters, Chapter{Name: name})
		}
		if !st.Checkable {
			continue
		}
		c.Checkable++
		c.Chapters[i].Checkable++
		if named[st.ID] > 0 {
			c.Covered++
			c.Chapters[i].Covered++
		} else {
			c.Uncovered = append(c.Uncovered, st)
		}
	}
	for id := range named {
		if !known[id] {
			c.Unknown = append(c.Unknown, id)
		}
	}
	slices.Sort(c.Unknown)
	return c
}

// Percent is the share of the checkable statements covered.
func (c Coverage) Percent() float64 {
	return 100 * float64(c.Covered) / float64(max(c.Checkable, 1))
}

func (c Coverage) write(w io.Writer) {
	fmt.Fprintf(w, "MQTT %s normative statements: %d covered / %d checkable / %d total (%.0f%% of the checkable)\n",
		c.Version, c.Covered, c.Checkable, c.Total, c.Percent())
	for _, ch := range c.Chapters {
		fmt.Fprintf(w, "  chapter %-3s %3d / %3d\n", ch.Name, ch.Covered, ch.Checkable)
	}
	if len(c.Unknown) > 0 {
		fmt.Fprintf(w, "  labels naming ids the MQTT %s catalog does not have: %s\n", c.Version, strings.Join(c.Unknown, " "))
	}
	if len(c.Uncovered) > 0 {
		fmt.Fprintf(w, "Checkable MQTT %s statements no spec covers (%d):\n", c.Version, len(c.Uncovered))
		for _, st := range c.Uncovered {
			fmt.Fprintf(w, "  %-20s %-6s %s\n", st.Ref(), st.Actor, st.Text)
		}
	}
}
