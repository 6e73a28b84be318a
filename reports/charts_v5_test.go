package reports

import (
	"strings"
	"testing"
)

func TestTheChaosChartNamesEachClientsVersion(t *testing.T) {
	c := ChaosTimeline{Seed: 7, Bucket: 0.5, Published: []int{4, 4}, Acked: []int{4, 3}, Delivered: []int{8, 6},
		Faults:   []FaultWindow{{Link: "p1", Kind: "reset", From: 0.2, To: 0.2}, {Link: "s2v5", Kind: "blackhole", From: 0.3, To: 0.6}},
		Versions: map[string]string{"p1": "3.1.1", "s2v5": "5.0"}}
	svg := string(ChaosChart(c))
	for _, s := range []string{">p1 · 3.1.1</text>", ">s2v5 · 5.0</text>"} {
		if !strings.Contains(svg, s) {
			t.Errorf("the chart lacks the strip label %q:\n%s", s, svg)
		}
	}
	c.Versions = nil // a run recorded before versions: plain names
	if svg := string(ChaosChart(c)); !strings.Contains(svg, ">s2v5</text>") {
		t.Errorf("without versions the strip is not labelled by its name:\n%s", svg)
	}
}
