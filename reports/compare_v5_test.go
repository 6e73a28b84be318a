package reports

import (
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

// spec5 is spec for an MQTT 5.0 spec: its Describe carries the v5 label
// after its area, as the suites' 5.0 Describes do.
func spec5(area, text string, state types.SpecState, message string) types.SpecReport {
	s := spec(area, text, state, message)
	s.ContainerHierarchyTexts = []string{"MQTT 5.0 " + area}
	s.ContainerHierarchyLabels = [][]string{{area, "v5"}}
	return s
}

func TestCompareGivesThe50AreasTheirOwnRows(t *testing.T) {
	a := types.Report{SpecReports: types.SpecReports{
		spec5("will", "sends the will after its delay", types.SpecStatePassed, ""),
		spec("sessions", "resumes a persistent session", types.SpecStatePassed, ""),
		spec5("sessions", "ends the session when its expiry passes", types.SpecStatePassed, ""),
		spec("will", "sends the will on a lost connection", types.SpecStatePassed, ""),
	}}
	b := types.Report{SpecReports: types.SpecReports{
		spec5("will", "sends the will after its delay", types.SpecStateFailed, "no will"),
		spec("sessions", "resumes a persistent session", types.SpecStatePassed, ""),
		spec5("sessions", "ends the session when its expiry passes", types.SpecStateSkipped, UnsupportedPrefix+"no 5.0"),
		spec("will", "sends the will on a lost connection", types.SpecStatePassed, ""),
	}}
	c := Compare([]BrokerRun{{Broker: "embedded", Report: &a}, {Broker: "mosquitto", Report: &b}})

	var areas []string
	for _, r := range c.Areas {
		areas = append(areas, r.Area)
		if r.Specs != 1 {
			t.Errorf("area %q holds %d specs, want 1: the versions' specs are mixed", r.Area, r.Specs)
		}
	}
	if got, want := strings.Join(areas, ", "), "sessions, will, 5.0 sessions, 5.0 will"; got != want {
		t.Fatalf("area rows %q, want %q (3.1.1 areas, then each 5.0 area on its own row)", got, want)
	}
	md := c.Markdown()
	for _, s := range []string{
		"| sessions | 1 | 1 pass | 1 pass |",
		"| 5.0 sessions | 1 | 1 pass | 1 n/s |",
		"| 5.0 will | 1 | 1 pass | 1 FAIL |",
		"| 5.0 will | MQTT 5.0 will sends the will after its delay [MQTT-4.3.2-1] | pass | **FAIL** |",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
	if strings.Index(md, "| will | 1 |") > strings.Index(md, "| 5.0 sessions | 1 |") {
		t.Errorf("a 3.1.1 area comes after a 5.0 one:\n%s", md)
	}
	html, err := c.HTML()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<tr><td>5.0 sessions</td><td>1</td>", "<tr><td>5.0 will</td><td>1</td>", "<tr><td>sessions</td><td>1</td>", `<td class="area">5.0 will</td>`} {
		if !strings.Contains(html, s) {
			t.Errorf("HTML lacks %q", s)
		}
	}
}
