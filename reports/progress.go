package reports

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// Progress of a long run, for people watching it. The suite's processes
// write two files in the report directory: ProgressPlanFile, written once
// by the first process before any spec runs (the broker, and how many
// specs of each area will run: a dry run of the same binary with the same
// filters), and ProgressEventsFile, to which every process appends one
// line when a spec starts and one when it ends. One reader turns them
// into what people see (reports/progress): a live line in a terminal, one
// line per finished area otherwise.
const (
	ProgressPlanFile   = "progress.plan"
	ProgressEventsFile = "progress.events"
)

// ProgressPlan is what the run will do.
type ProgressPlan struct {
	Broker string     `json:"broker"`
	Total  int        `json:"total"`
	Areas  []AreaPlan `json:"areas"` // in the order the suite declares them; empty if the dry run failed
}

// AreaPlan is how many specs of one area (see Area) will run.
type AreaPlan struct {
	Area  string `json:"area"`
	Specs int    `json:"specs"`
}

// PlanOf reads a dry run's report: the specs it would have run, by area.
func PlanOf(dry types.Report, broker string) ProgressPlan {
	p := ProgressPlan{Broker: broker}
	index := map[string]int{}
	for _, s := range dry.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt || !s.State.Is(types.SpecStatePassed) {
			continue // a dry run passes every spec that would run
		}
		a := Area(s)
		i, ok := index[a]
		if !ok {
			i = len(p.Areas)
			index[a] = i
			p.Areas = append(p.Areas, AreaPlan{Area: a})
		}
		p.Areas[i].Specs++
		p.Total++
	}
	return p
}

// ProgressEvent is one line of ProgressEventsFile: a spec started, or
// ended with a verdict.
type ProgressEvent struct {
	At      time.Time
	Started bool
	Verdict Verdict // when it ended
	Area    string
	Name    string
}

// Line is the event as one line of the events file (tab-separated).
func (e ProgressEvent) Line() string {
	kind := "start"
	if !e.Started {
		kind = "end"
	}
	clean := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")
	return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\n", e.At.UnixMilli(), kind, clean.Replace(string(e.Verdict)), clean.Replace(e.Area), clean.Replace(e.Name))
}

// ParseProgressEvent reads one line of the events file.
func ParseProgressEvent(line string) (ProgressEvent, bool) {
	f := strings.SplitN(strings.TrimRight(line, "\n"), "\t", 5)
	if len(f) != 5 || (f[1] != "start" && f[1] != "end") {
		return ProgressEvent{}, false
	}
	ms, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return ProgressEvent{}, false
	}
	return ProgressEvent{At: time.UnixMilli(ms), Started: f[1] == "start", Verdict: Verdict(f[2]), Area: f[3], Name: f[4]}, true
}

// Progress is the state of a run as its events tell it.
type Progress struct {
	Plan    ProgressPlan
	Done    int
	Failed  int
	started time.Time
	running map[string]time.Time // spec name -> when it started
	areas   map[string]*areaProgress
}

type areaProgress struct {
	specs    int // planned
	first    time.Time
	verdicts map[Verdict]int
	ended    int
}

// NewProgress starts following a run that will do plan.
func NewProgress(plan ProgressPlan) *Progress {
	p := &Progress{Plan: plan, running: map[string]time.Time{}, areas: map[string]*areaProgress{}}
	for _, a := range plan.Areas {
		p.areas[a.Area] = &areaProgress{specs: a.Specs, verdicts: map[Verdict]int{}}
	}
	return p
}

// Apply takes in one event; when it ends the last spec of an area, it
// returns that area's line ("retained: 14 specs, 14 passed (3.2 s)").
func (p *Progress) Apply(e ProgressEvent) string {
	if p.started.IsZero() || e.At.Before(p.started) {
		p.started = e.At
	}
	a := p.areas[e.Area]
	if a == nil {
		a = &areaProgress{verdicts: map[Verdict]int{}}
		p.areas[e.Area] = a
	}
	if a.first.IsZero() || e.At.Before(a.first) {
		a.first = e.At
	}
	if e.Started {
		p.running[e.Name] = e.At
		return ""
	}
	delete(p.running, e.Name)
	p.Done++
	if e.Verdict == Fail {
		p.Failed++
	}
	a.verdicts[e.Verdict]++
	a.ended++
	if a.ended != a.specs {
		return ""
	}
	return AreaLine(e.Area, a.ended, a.verdicts, e.At.Sub(a.first))
}

// AreaLine is the line of one finished area.
func AreaLine(area string, specs int, verdicts map[Verdict]int, took time.Duration) string {
	noun := "specs"
	if specs == 1 {
		noun = "spec"
	}
	parts := []string{fmt.Sprintf("%d %s", specs, noun)}
	for _, v := range []Verdict{Pass, Fail, Deviation, Unsupported, Skipped} {
		if n := verdicts[v]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, verdictWord(v, n)))
		}
	}
	return fmt.Sprintf("%s: %s (%.1f s)", area, strings.Join(parts, ", "), took.Seconds())
}

func verdictWord(v Verdict, n int) string {
	switch v {
	case Pass:
		return "passed"
	case Fail:
		return "failed"
	case Deviation:
		if n == 1 {
			return "known deviation"
		}
		return "known deviations"
	}
	return string(v)
}

// Live is the one-line state of the run, at most width characters:
// done/total, how many are left and failed, the broker, and the spec
// that started last among those running.
func (p *Progress) Live(now time.Time, width int) string {
	left := max(p.Plan.Total-p.Done, 0)
	s := fmt.Sprintf("faultline %s: %d/%d done, %d left", p.Plan.Broker, p.Done, p.Plan.Total, left)
	if p.Failed > 0 {
		s += fmt.Sprintf(", %d failed", p.Failed)
	}
	if !p.started.IsZero() {
		s += fmt.Sprintf(", %s", now.Sub(p.started).Truncate(time.Second))
	}
	if len(p.running) > 0 {
		names := make([]string, 0, len(p.running))
		for n := range p.running {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool { return p.running[names[i]].After(p.running[names[j]]) })
		if len(names) > 1 {
			s += fmt.Sprintf(" · %d running, latest: %s", len(names), names[0])
		} else {
			s += " · running: " + names[0]
		}
	}
	if r := []rune(s); width > 1 && len(r) > width {
		s = string(r[:width-1]) + "…"
	}
	return s
}
