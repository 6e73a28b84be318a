package reports

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// BrokerRun is one broker's part of a comparison: its conformance run, or
// why it has none.
type BrokerRun struct {
	Broker  string
	Version string        // as the fixture reported it ("" if unknown)
	Report  *types.Report // nil when the broker did not run
	Wall    time.Duration // start of the broker to its stop (0: unknown)
	Missing string        // why there is no report (the broker did not start...)
}

// Cell is one spec's verdict on one broker.
type Cell struct {
	Verdict Verdict // "" when the spec was not in that broker's run
	Message string  // first line of the failure, or the reason
	// Trace is the wire trace of a failure or known deviation, when the
	// run recorded one (the HTML comparison draws it).
	Trace *TraceData
}

// SpecRow is one spec across the brokers.
type SpecRow struct {
	Area       string
	Name       string
	Statements []string
	Cells      []Cell // one per broker, in Comparison.Brokers order
}

// Counts are how many specs ended each way.
type Counts map[Verdict]int

// AreaRow is one area (a top-level Describe's first label) across the
// brokers.
type AreaRow struct {
	Area   string
	Specs  int
	Counts []Counts // one per broker
}

// BrokerColumn is one broker's totals.
type BrokerColumn struct {
	Broker  string
	Version string
	Ran     bool
	Missing string
	Counts  Counts
	Suite   time.Duration // the suite's own run time
	Wall    time.Duration
	Setup   []string // failures outside specs
}

// Comparison is the side-by-side table of several brokers' runs.
type Comparison struct {
	Brokers []BrokerColumn
	Areas   []AreaRow
	Specs   []SpecRow
	Total   time.Duration // the whole comparison, brokers' starts included (0: unknown)
	Made    time.Time
	// Keepalives are every broker's keepalive measurements.
	Keepalives []Keepalive
}

// Verdicts in the order the tables list them.
var verdictOrder = []Verdict{Pass, Fail, Deviation, Unsupported, Skipped}

// Compare lines up the runs spec by spec. A spec's area is the first label
// of its top-level container (its Describe), or the Describe's text.
func Compare(runs []BrokerRun) Comparison {
	c := Comparison{Made: time.Now()}
	rows := map[string]*SpecRow{}
	var order []string
	for i, run := range runs {
		col := BrokerColumn{Broker: run.Broker, Version: run.Version, Missing: run.Missing, Wall: run.Wall, Counts: Counts{}}
		if run.Report != nil {
			col.Ran = true
			o := Judge(*run.Report, run.Broker)
			col.Suite, col.Setup = o.Duration, o.Setup
			areas := areasOf(*run.Report)
			seen := map[string]int{}
			its := itSpecs(*run.Report)
			for _, k := range KeepalivesOf(*run.Report) {
				k.Broker = run.Broker
				c.Keepalives = append(c.Keepalives, k)
			}
			for j, r := range o.Results {
				key := r.Name
				if seen[r.Name]++; seen[r.Name] > 1 {
					key = fmt.Sprintf("%s (%d)", r.Name, seen[r.Name])
				}
				row, ok := rows[key]
				if !ok {
					row = &SpecRow{Area: areas[r.Name], Name: key, Statements: r.Statements, Cells: make([]Cell, len(runs))}
					rows[key] = row
					order = append(order, key)
				}
				row.Cells[i] = Cell{Verdict: r.Verdict, Message: r.Message}
				if d, ok := TraceDataOf(its[j]); ok && (r.Verdict == Fail || r.Verdict == Deviation) {
					row.Cells[i].Trace = &d
				}
				col.Counts[r.Verdict]++
			}
		}
		c.Brokers = append(c.Brokers, col)
	}
	for _, k := range order {
		c.Specs = append(c.Specs, *rows[k])
	}
	sort.SliceStable(c.Specs, func(i, j int) bool {
		if c.Specs[i].Area != c.Specs[j].Area {
			return areaKey(c.Specs[i].Area) < areaKey(c.Specs[j].Area) // 3.1.1 areas first
		}
		return c.Specs[i].Name < c.Specs[j].Name
	})
	byArea := map[string]*AreaRow{}
	for _, s := range c.Specs {
		a, ok := byArea[s.Area]
		if !ok {
			a = &AreaRow{Area: s.Area, Counts: make([]Counts, len(runs))}
			for i := range a.Counts {
				a.Counts[i] = Counts{}
			}
			byArea[s.Area] = a
			c.Areas = append(c.Areas, AreaRow{Area: s.Area})
		}
		a.Specs++
		for i, cell := range s.Cells {
			if cell.Verdict != "" {
				a.Counts[i][cell.Verdict]++
			}
		}
	}
	for i := range c.Areas {
		c.Areas[i] = *byArea[c.Areas[i].Area]
	}
	return c
}

// itSpecs are the report's specs (It nodes), in the order Judge lists
// their results.
func itSpecs(report types.Report) []types.SpecReport {
	var out []types.SpecReport
	for _, s := range report.SpecReports {
		if s.LeafNodeType == types.NodeTypeIt {
			out = append(out, s)
		}
	}
	return out
}

// areasOf maps every spec's full text to its area.
func areasOf(report types.Report) map[string]string {
	out := map[string]string{}
	for _, s := range report.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		out[s.FullText()] = Area(s)
	}
	return out
}

// Short is a cell's text in the tables.
func (c Cell) Short() string {
	switch c.Verdict {
	case "":
		return "–"
	case Deviation:
		return "deviation"
	case Unsupported:
		return "n/s"
	}
	return string(c.Verdict)
}

// Line renders counts compactly: "150 pass · 2 FAIL · 3 dev · 1 n/s".
func (n Counts) Line() string {
	var parts []string
	for _, v := range verdictOrder {
		if n[v] == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%d %s", n[v], Cell{Verdict: v}.Short()))
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, " · ")
}

func seconds(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func (b BrokerColumn) status() string {
	switch {
	case !b.Ran && b.Missing != "":
		return "did not run: " + b.Missing
	case !b.Ran:
		return "did not run"
	case len(b.Setup) > 0:
		return "suite set-up failed: " + b.Setup[0]
	}
	return "ran"
}

func (b BrokerColumn) title() string {
	if b.Version != "" {
		return b.Broker + " " + b.Version
	}
	return b.Broker
}

// Markdown renders the comparison as GitHub-flavoured markdown.
func (c Comparison) Markdown() string {
	var b strings.Builder
	cell := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	row := func(first string, rest []string) {
		b.WriteString("| " + cell(first))
		for _, r := range rest {
			b.WriteString(" | " + cell(r))
		}
		b.WriteString(" |\n")
	}
	each := func(f func(BrokerColumn) string) []string {
		out := make([]string, len(c.Brokers))
		for i, br := range c.Brokers {
			out[i] = f(br)
		}
		return out
	}
	rule := func(n int) { b.WriteString("|" + strings.Repeat("---|", n) + "\n") }

	b.WriteString("# Faultline: MQTT brokers side by side\n\n")
	fmt.Fprintf(&b, "Made %s", c.Made.UTC().Format("2006-01-02 15:04 UTC"))
	if c.Total > 0 {
		fmt.Fprintf(&b, "; the whole comparison took %s", seconds(c.Total))
	}
	b.WriteString(". Verdicts: pass, **FAIL** (a violation), deviation (a known deviation the broker's profile declares, with evidence), n/s (not supported: a legal choice the broker made, or a feature it lacks), skipped (not run here), – (not in that run).\n\n")

	row("broker", each(BrokerColumn.title))
	rule(len(c.Brokers) + 1)
	row("status", each(BrokerColumn.status))
	for _, v := range verdictOrder {
		name := Cell{Verdict: v}.Short()
		if v == Fail {
			name = "**FAIL**"
		}
		row(name, each(func(br BrokerColumn) string {
			if !br.Ran {
				return "–"
			}
			return fmt.Sprint(br.Counts[v])
		}))
	}
	row("suite time", each(func(br BrokerColumn) string { return seconds(br.Suite) }))
	row("with start and stop", each(func(br BrokerColumn) string { return seconds(br.Wall) }))

	b.WriteString("\n## By area\n\n")
	row("area", append([]string{"specs"}, each(BrokerColumn.title)...))
	rule(len(c.Brokers) + 2)
	for _, a := range c.Areas {
		counts := make([]string, len(a.Counts))
		for i, n := range a.Counts {
			counts[i] = n.Line()
			if !c.Brokers[i].Ran {
				counts[i] = "–"
			}
		}
		row(a.Area, append([]string{fmt.Sprint(a.Specs)}, counts...))
	}

	b.WriteString("\n## By spec\n\n")
	row("area", append([]string{"spec"}, each(BrokerColumn.title)...))
	rule(len(c.Brokers) + 2)
	for _, s := range c.Specs {
		cells := make([]string, len(s.Cells))
		for i, x := range s.Cells {
			cells[i] = x.Short()
			if x.Verdict == Fail {
				cells[i] = "**FAIL**"
			}
		}
		name := s.Name
		if len(s.Statements) > 0 {
			name += " [" + strings.Join(s.Statements, " ") + "]"
		}
		row(s.Area, append([]string{name}, cells...))
	}

	var notes []string
	for _, br := range c.Brokers {
		for _, s := range br.Setup {
			notes = append(notes, fmt.Sprintf("- %s: %s", br.Broker, s))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n## Suite set-up failures\n\n" + strings.Join(notes, "\n") + "\n")
	}
	return b.String()
}

// HTML renders the comparison as one self-contained page (comparehtml.go).
func (c Comparison) HTML() (string, error) {
	var b bytes.Buffer
	err := comparePage.Execute(&b, c.view())
	return b.String(), err
}
