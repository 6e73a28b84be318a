package reports

import (
	"fmt"
	"sort"
	"strings"
)

// Runs gathers the verdicts of repeated runs of the same specs, by spec,
// so that a spec whose verdict changes between runs can be named. A
// verdict that depends on luck (the broker having done something "by
// now") shows up here as a spec with more than one verdict.
type Runs struct {
	runs     int
	verdicts map[string]map[string]int // spec → verdict → runs
	seen     map[string]int            // spec → runs it appeared in
}

// NewRuns starts an empty record.
func NewRuns() *Runs {
	return &Runs{verdicts: map[string]map[string]int{}, seen: map[string]int{}}
}

// Add records one run: each spec's name and verdict. Names should carry
// whatever keeps them apart between sets (e.g. "mosquitto: " + spec).
func (r *Runs) Add(verdicts map[string]string) {
	r.runs++
	for name, v := range verdicts {
		if r.verdicts[name] == nil {
			r.verdicts[name] = map[string]int{}
		}
		r.verdicts[name][v]++
		r.seen[name]++
	}
}

// AddOutcome records one run of a suite, each spec under prefix.
func (r *Runs) AddOutcome(prefix string, o Outcome) {
	v := map[string]string{}
	for _, res := range o.Results {
		if res.Verdict == Skipped {
			continue // not selected in this run
		}
		v[prefix+res.Name] = string(res.Verdict)
	}
	r.Add(v)
}

// Disagreement is one spec whose verdict was not the same in every run.
type Disagreement struct {
	Spec     string
	Verdicts map[string]int // verdict → runs
	Runs     int            // runs the spec appeared in
}

// Disagreed is how many runs did not give the spec's most common verdict.
func (d Disagreement) Disagreed() int {
	most := 0
	for _, n := range d.Verdicts {
		most = max(most, n)
	}
	return d.Runs - most
}

func (d Disagreement) String() string {
	var parts []string
	for v, n := range d.Verdicts {
		parts = append(parts, fmt.Sprintf("%s×%d", v, n))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d of %d runs disagreed (%s): %s", d.Disagreed(), d.Runs, strings.Join(parts, ", "), d.Spec)
}

// Disagreements lists the specs with more than one verdict, the most
// disagreeing first.
func (r *Runs) Disagreements() []Disagreement {
	var out []Disagreement
	for name, vs := range r.verdicts {
		if len(vs) > 1 {
			out = append(out, Disagreement{Spec: name, Verdicts: vs, Runs: r.seen[name]})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := out[i].Disagreed(), out[j].Disagreed(); a != b {
			return a > b
		}
		return out[i].Spec < out[j].Spec
	})
	return out
}

// Specs is how many distinct specs were seen.
func (r *Runs) Specs() int { return len(r.verdicts) }

// Count is how many runs were added.
func (r *Runs) Count() int { return r.runs }
