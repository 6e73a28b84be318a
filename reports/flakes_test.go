package reports

import (
	"strings"
	"testing"
)

func TestRunsNameOnlyTheSpecsWhoseVerdictChanged(t *testing.T) {
	r := NewRuns()
	r.Add(map[string]string{"a": "pass", "b": "pass", "c": "FAIL"})
	r.Add(map[string]string{"a": "pass", "b": "FAIL", "c": "FAIL"})
	r.Add(map[string]string{"a": "pass", "b": "pass", "c": "FAIL"})
	d := r.Disagreements()
	if len(d) != 1 || d[0].Spec != "b" {
		t.Fatalf("want only b to disagree, got %v", d)
	}
	if d[0].Disagreed() != 1 || d[0].Runs != 3 {
		t.Errorf("b: want 1 of 3 runs disagreeing, got %d of %d", d[0].Disagreed(), d[0].Runs)
	}
	if s := d[0].String(); !strings.Contains(s, "1 of 3 runs disagreed (FAIL×1, pass×2): b") {
		t.Errorf("unexpected text %q", s)
	}
	if r.Specs() != 3 || r.Count() != 3 {
		t.Errorf("want 3 specs in 3 runs, got %d in %d", r.Specs(), r.Count())
	}
}

func TestRunsLeaveOutSpecsNotSelected(t *testing.T) {
	r := NewRuns()
	r.AddOutcome("x: ", Outcome{Results: []Result{{Name: "a", Verdict: Pass}, {Name: "b", Verdict: Skipped}}})
	r.AddOutcome("x: ", Outcome{Results: []Result{{Name: "a", Verdict: Pass}, {Name: "b", Verdict: Fail}}})
	if d := r.Disagreements(); len(d) != 0 {
		t.Fatalf("a spec not selected in a run is no disagreement: %v", d)
	}
}
