package reports

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	mqttspec "github.com/faultline-mqtt/faultline/fixtures/spec"
)

func TestRedactRemovesCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"mqtt://user:secret@broker:1883":            "mqtt://broker:1883",
		"mqtts://broker:8883/?password=hunter2&x=1": "mqtts://broker:8883/?password=redacted&x=1",
		"tcp://127.0.0.1:1883":                      "tcp://127.0.0.1:1883",
		"":                                          "",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestThePageSaysWhatTheRunConcluded(t *testing.T) {
	p := BuildPage(sampleReport(), RunInfo{Broker: "sample", Version: "1.0", URL: "mqtt://u:pw@host:1883"})
	if p.URL != "mqtt://host:1883" {
		t.Errorf("URL %q", p.URL)
	}
	if p.Counts[Pass] != 3 || p.Counts[Fail] != 1 || p.Counts[Deviation] != 1 || p.Counts[Unsupported] != 1 || p.Total != 6 {
		t.Errorf("counts %v of %d", p.Counts, p.Total)
	}
	if len(p.Problems) != 2 || p.Problems[0].Verdict != Fail || p.Problems[1].Verdict != Deviation {
		t.Fatalf("problems: %+v", p.Problems)
	}
	if p.Problems[0].Diagram == "" || p.Problems[1].Diagram == "" {
		t.Error("a failure or deviation without its diagram")
	}
	if p.Problems[0].Statements[0].Ref != "MQTT-4.3.2-2" || p.Problems[0].Statements[0].Text == "" {
		t.Errorf("statements of the failure: %+v", p.Problems[0].Statements)
	}
	var areas []string
	for _, a := range p.Areas {
		areas = append(areas, a.Area)
	}
	if strings.Join(areas, ",") != "chaos,handshakes,keepalive,payloads,qos,retained" {
		t.Errorf("areas %v", areas)
	}
	if p.Keepalive == "" || p.Chaos == "" || !p.HasChaos || p.ChaosSeed != 42 || p.Seed != 1234 {
		t.Error("charts or seeds missing")
	}

	// Every statement of both catalogs is on the map once, coloured by the
	// worst verdict of its specs.
	cells := map[string]string{}
	n := 0
	for _, m := range p.Coverage {
		for _, g := range m.Groups {
			for _, c := range g.Cells {
				cells[m.Version+" "+c.Ref] = c.Class
				n++
			}
		}
	}
	if want := len(mqttspec.All()) + len(mqttspec.All5()); n != want {
		t.Errorf("%d statements on the map, want %d", n, want)
	}
	for id, want := range map[string]string{"MQTT-4.3.2-1": "pass", "MQTT-4.3.2-2": "fail", "MQTT-3.1.2-24": "pass"} {
		if got := cells["3.1.1 "+id]; got != want {
			t.Errorf("%s coloured %q, want %q", id, got, want)
		}
	}
}

func TestTheAreasThatDidNotRunAreListedApart(t *testing.T) {
	r := sampleReport()
	r.SpecReports = append(r.SpecReports, sampleSpec("Will", "will", "sends the will", types.SpecStateSkipped, "", nil))
	p := BuildPage(r, RunInfo{Broker: "x"})
	if len(p.Idle) != 1 || p.Idle[0] != "will" {
		t.Errorf("idle areas %v", p.Idle)
	}
}

// TestTheHTMLIsOneFileThatFetchesNothing: no reference leaves the file,
// and a CSP forbids fetching anything anyway.
func TestTheHTMLIsOneFileThatFetchesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.html")
	if err := WriteHTML(sampleReport(), path, RunInfo{Broker: "sample <b>", URL: "mqtt://u:topsecret@h:1"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	if !strings.Contains(html, `http-equiv="Content-Security-Policy" content="default-src 'none'`) {
		t.Error("no CSP")
	}
	external := regexp.MustCompile(`(?i)(src=|<link|@import|url\(\s*['"]?(https?:|//))`)
	if m := external.FindString(html); m != "" {
		t.Errorf("the page refers to something outside it: %q", m)
	}
	if strings.Contains(html, "topsecret") {
		t.Error("the password is in the page")
	}
	if strings.Contains(html, "<script>alert") || strings.Contains(html, "sample <b>") {
		t.Error("broker-provided text is not escaped")
	}
	for _, want := range []string{"<svg class=\"seq\"", "<svg class=\"chart\"", "Failures and known deviations", "Statement coverage",
		"Scorecard by area", "MQTT 5.0", "chaos seed"} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Count(html, "<script>") != 1 {
		t.Errorf("%d script elements; want the one inline filter script", strings.Count(html, "<script>"))
	}
}

func TestTheComparisonDrawsTheWireBehindEachDifference(t *testing.T) {
	a, b := sampleReport(), sampleReport()
	b.SpecReports[1].State, b.SpecReports[1].Failure = types.SpecStatePassed, types.Failure{}
	c := Compare([]BrokerRun{{Broker: "one", Report: &a}, {Broker: "two", Version: "2.0", Report: &b, Wall: time.Minute}})
	v := c.view()
	if v.Differing != 1 || len(v.Diffs) != 1 || len(v.Diffs[0].Cells) != 1 || v.Diffs[0].Cells[0].Broker != "one" {
		t.Fatalf("differences: %d, %+v", v.Differing, v.Diffs)
	}
	if len(c.Keepalives) != 2 || c.Keepalives[1].Broker != "two" {
		t.Errorf("keepalives %+v", c.Keepalives)
	}
	html, err := c.HTML()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Scorecard per broker", `<svg class="seq"`, "only the 1 spec where the brokers differ", "two 2.0"} {
		if !strings.Contains(html, want) {
			t.Errorf("the comparison lacks %q", want)
		}
	}
}

// TestJUnitLeavesOutTheHTMLReportsData: the structured trace and the chaos
// timeline are for the HTML report; JUnit readers see what they saw before.
func TestJUnitLeavesOutTheHTMLReportsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junit.xml")
	if err := WriteJUnit(sampleReport(), path, "faultline.sample"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{TraceDataEntry, ChaosTimelineEntry, "wire trace steps"} {
		if strings.Contains(string(b), name) {
			t.Errorf("junit.xml mentions %q", name)
		}
	}
	if !strings.Contains(string(b), KeepaliveEntry) {
		t.Error("junit.xml lost the keepalive entry")
	}
}
