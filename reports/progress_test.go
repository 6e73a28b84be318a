package reports

import (
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

func TestProgressEventLineRoundTrips(t *testing.T) {
	at := time.UnixMilli(1796516166728)
	for _, e := range []ProgressEvent{
		{At: at, Started: true, Area: "retained", Name: "Retained messages keeps the last"},
		{At: at, Verdict: Fail, Area: "5.0 will", Name: "a name\twith a tab"},
	} {
		got, ok := ParseProgressEvent(e.Line())
		if !ok {
			t.Fatalf("%q does not parse", e.Line())
		}
		want := e
		want.Name = strings.ReplaceAll(want.Name, "\t", " ")
		if !got.At.Equal(want.At) || got.Started != want.Started || got.Verdict != want.Verdict || got.Area != want.Area || got.Name != want.Name {
			t.Errorf("round trip of %+v gave %+v", want, got)
		}
	}
	if _, ok := ParseProgressEvent("half a line"); ok {
		t.Error("a broken line parsed")
	}
}

func TestPlanCountsTheSpecsThatWouldRunByArea(t *testing.T) {
	spec := func(label string, state types.SpecState, v5 bool) types.SpecReport {
		s := types.SpecReport{LeafNodeType: types.NodeTypeIt, State: state,
			ContainerHierarchyTexts: []string{label}, ContainerHierarchyLabels: [][]string{{label}}}
		if v5 {
			s.LeafNodeLabels = []string{"v5"}
		}
		return s
	}
	dry := types.Report{SpecReports: types.SpecReports{
		spec("qos", types.SpecStatePassed, false),
		spec("retained", types.SpecStatePassed, false),
		spec("qos", types.SpecStatePassed, false),
		spec("qos", types.SpecStateSkipped, false), // filtered out
		spec("will", types.SpecStatePassed, true),
		{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed},
	}}
	p := PlanOf(dry, "mosquitto")
	want := []AreaPlan{{"qos", 2}, {"retained", 1}, {"5.0 will", 1}}
	if p.Total != 4 || p.Broker != "mosquitto" || len(p.Areas) != len(want) {
		t.Fatalf("plan %+v", p)
	}
	for i := range want {
		if p.Areas[i] != want[i] {
			t.Errorf("area %d: %+v, want %+v", i, p.Areas[i], want[i])
		}
	}
}

func TestProgressTellsAnAreaOnceItsLastSpecEnds(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := NewProgress(ProgressPlan{Broker: "embedded", Total: 3, Areas: []AreaPlan{{"retained", 2}, {"will", 1}}})
	steps := []struct {
		e    ProgressEvent
		line string
	}{
		{ProgressEvent{At: t0, Started: true, Area: "retained", Name: "r1"}, ""},
		{ProgressEvent{At: t0.Add(100 * time.Millisecond), Started: true, Area: "will", Name: "w1"}, ""},
		{ProgressEvent{At: t0.Add(time.Second), Verdict: Pass, Area: "retained", Name: "r1"}, ""},
		{ProgressEvent{At: t0.Add(time.Second), Started: true, Area: "retained", Name: "r2"}, ""},
		{ProgressEvent{At: t0.Add(1500 * time.Millisecond), Verdict: Deviation, Area: "will", Name: "w1"}, "will: 1 spec, 1 known deviation (1.4 s)"},
		{ProgressEvent{At: t0.Add(3200 * time.Millisecond), Verdict: Fail, Area: "retained", Name: "r2"}, "retained: 2 specs, 1 passed, 1 failed (3.2 s)"},
	}
	for i, s := range steps {
		if got := p.Apply(s.e); got != s.line {
			t.Errorf("step %d: line %q, want %q", i, got, s.line)
		}
		if i == 3 {
			live := p.Live(t0.Add(2*time.Second), 200)
			want := "faultline embedded: 1/3 done, 2 left, 2s · 2 running, latest: r2"
			if live != want {
				t.Errorf("live line %q, want %q", live, want)
			}
		}
	}
	if p.Done != 3 || p.Failed != 1 {
		t.Errorf("done %d failed %d", p.Done, p.Failed)
	}
	live := p.Live(t0.Add(4*time.Second), 30)
	if n := len([]rune(live)); n != 30 || !strings.HasSuffix(live, "…") {
		t.Errorf("live line not cut to 30 characters: %q (%d)", live, n)
	}
}
