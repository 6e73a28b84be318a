package reports

import (
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// spec makes one It of a hand-made report: area is the top-level
// Describe's label, text its leaf text.
func spec(area, text string, state types.SpecState, message string) types.SpecReport {
	return types.SpecReport{
		LeafNodeType:             types.NodeTypeIt,
		ContainerHierarchyTexts:  []string{strings.ToUpper(area[:1]) + area[1:]},
		ContainerHierarchyLabels: [][]string{{area}},
		LeafNodeText:             text,
		LeafNodeLabels:           []string{StatementLabel + ":MQTT-4.3.2-1"},
		State:                    state,
		Failure:                  types.Failure{Message: message},
	}
}

func TestCompareLinesUpBrokersSpecBySpec(t *testing.T) {
	a := types.Report{RunTime: 20 * time.Second, SpecReports: types.SpecReports{
		spec("qos", "delivers QoS 1 at least once", types.SpecStatePassed, ""),
		spec("qos", "delivers QoS 2 exactly once", types.SpecStatePassed, ""),
		spec("retained", "keeps <the> latest", types.SpecStateSkipped, DeviationPrefix+"[MQTT-3.3.1-5] keeps the first (x profile; evidence: y)"),
		// A suite set-up node that passed is not a spec.
		{LeafNodeType: types.NodeTypeSynchronizedBeforeSuite, State: types.SpecStatePassed},
	}}
	b := types.Report{RunTime: 90 * time.Second, SpecReports: types.SpecReports{
		spec("qos", "delivers QoS 1 at least once", types.SpecStateFailed, "Expected m1\nto arrive"),
		spec("qos", "delivers QoS 2 exactly once", types.SpecStateSkipped, UnsupportedPrefix+"the broker granted QoS 1"),
		spec("retained", "keeps <the> latest", types.SpecStatePassed, ""),
		spec("restart", "keeps retained messages over a restart", types.SpecStatePassed, ""),
	}}
	c := Compare([]BrokerRun{
		{Broker: "embedded", Report: &a},
		{Broker: "mosquitto", Version: "2.0.11", Report: &b, Wall: 95 * time.Second},
		{Broker: "activemq", Missing: "start failed: no java"},
	})

	if len(c.Brokers) != 3 || c.Brokers[2].Ran || !c.Brokers[1].Ran {
		t.Fatalf("brokers: %+v", c.Brokers)
	}
	if got := c.Brokers[0].Counts; got[Pass] != 2 || got[Deviation] != 1 || got[Fail] != 0 {
		t.Errorf("embedded counts %v", got)
	}
	if got := c.Brokers[1].Counts; got[Pass] != 2 || got[Fail] != 1 || got[Unsupported] != 1 {
		t.Errorf("mosquitto counts %v", got)
	}
	if c.Brokers[1].Suite != 90*time.Second || c.Brokers[1].Wall != 95*time.Second {
		t.Errorf("mosquitto times %v %v", c.Brokers[1].Suite, c.Brokers[1].Wall)
	}

	want := map[string][3]Verdict{
		"Qos delivers QoS 1 at least once":               {Pass, Fail, ""},
		"Qos delivers QoS 2 exactly once":                {Pass, Unsupported, ""},
		"Retained keeps <the> latest":                    {Deviation, Pass, ""},
		"Restart keeps retained messages over a restart": {"", Pass, ""},
	}
	if len(c.Specs) != len(want) {
		t.Fatalf("%d spec rows, want %d: %+v", len(c.Specs), len(want), c.Specs)
	}
	for _, s := range c.Specs {
		w, ok := want[s.Name]
		if !ok {
			t.Errorf("unexpected row %q", s.Name)
			continue
		}
		for i, v := range w {
			if s.Cells[i].Verdict != v {
				t.Errorf("%q on %s: %q, want %q", s.Name, c.Brokers[i].Broker, s.Cells[i].Verdict, v)
			}
		}
	}
	if c.Specs[0].Area != "qos" || c.Specs[len(c.Specs)-1].Area != "retained" {
		t.Errorf("rows not grouped by area: %q ... %q", c.Specs[0].Area, c.Specs[len(c.Specs)-1].Area)
	}
	if msg := c.Specs[0].Cells[1].Message; msg != "Expected m1" {
		t.Errorf("failure message %q", msg)
	}

	areas := map[string]AreaRow{}
	for _, a := range c.Areas {
		areas[a.Area] = a
	}
	if q := areas["qos"]; q.Specs != 2 || q.Counts[1][Fail] != 1 || q.Counts[1][Unsupported] != 1 || q.Counts[0][Pass] != 2 {
		t.Errorf("qos area: %+v", q)
	}
	if got := areas["qos"].Counts[1].Line(); got != "1 FAIL · 1 n/s" {
		t.Errorf("area line %q", got)
	}

	md := c.Markdown()
	for _, s := range []string{
		"| broker | embedded | mosquitto 2.0.11 | activemq |",
		"| status | ran | ran | did not run: start failed: no java |",
		"| **FAIL** | 0 | 1 | – |",
		"| suite time | 20.0 s | 90.0 s | – |",
		"| qos | 2 | 2 pass | 1 FAIL · 1 n/s | – |",
		"| qos | delivers QoS 1 at least once [MQTT-4.3.2-1] | pass | **FAIL** | – |",
	} {
		if !strings.Contains(md, strings.Replace(s, "delivers", "Qos delivers", 1)) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}

	html, err := c.HTML()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Retained keeps &lt;the&gt; latest", `class="v fail" title="Expected m1"`, "did not run: start failed: no java", "<th>mosquitto 2.0.11</th>"} {
		if !strings.Contains(html, s) {
			t.Errorf("HTML lacks %q", s)
		}
	}
	if strings.Contains(html, "<the>") {
		t.Error("HTML does not escape spec names")
	}
}
