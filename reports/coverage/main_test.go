package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/faultline-mqtt/faultline/fixtures/spec"
	"github.com/faultline-mqtt/faultline/reports"
)

func it(labels ...string) types.SpecReport {
	return types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: "x", LeafNodeLabels: labels}
}

func checkable(all []spec.Statement) int {
	n := 0
	for _, s := range all {
		if s.Checkable {
			n++
		}
	}
	return n
}

func uncovered(c Coverage, id string) bool {
	return slices.ContainsFunc(c.Uncovered, func(s spec.Statement) bool { return s.ID == id })
}

func TestBothVersionsAreMeasuredApart(t *testing.T) {
	l3 := func(id string) string { return reports.StatementLabel + ":" + id }
	l5 := func(id string) string { return reports.StatementLabel5 + ":" + id }
	runs := []types.Report{
		{SpecReports: types.SpecReports{
			it(l3("MQTT-4.3.2-1"), l3("MQTT-3.3.1-5")),
			it("v5", l5("MQTT-3.3.4-9"), l5("MQTT-3.1.2-7")),
			it("v5", l5("MQTT-3.3.4-9")), // a statement named twice counts once
			it("v5", l5("MQTT-4.2.0-1")), // not checkable: named, never counted
			it(l5("MQTT-9.9.9-9")),       // not in the catalog
			{LeafNodeType: types.NodeTypeBeforeSuite, LeafNodeLabels: []string{l3("MQTT-4.4.0-1")}}, // not a spec
		}},
		{SpecReports: types.SpecReports{it(l3("MQTT-4.3.2-1"))}}, // a second run of the same spec
	}
	v311, v5 := measure(runs)

	if v311.Version != spec.V311 || v311.Total != len(spec.All()) || v311.Checkable != checkable(spec.All()) || v311.Covered != 2 {
		t.Errorf("3.1.1: %s %d covered / %d checkable / %d total", v311.Version, v311.Covered, v311.Checkable, v311.Total)
	}
	if v5.Version != spec.V5 || v5.Total != 251 || v5.Checkable != checkable(spec.All5()) || v5.Covered != 2 {
		t.Errorf("5.0: %s %d covered / %d checkable / %d total", v5.Version, v5.Covered, v5.Checkable, v5.Total)
	}
	if len(v311.Uncovered) != v311.Checkable-2 || len(v5.Uncovered) != v5.Checkable-2 {
		t.Errorf("uncovered: 3.1.1 %d, 5.0 %d", len(v311.Uncovered), len(v5.Uncovered))
	}
	// The same id in the other version's label covers nothing here.
	if !uncovered(v311, "MQTT-3.1.2-7") || uncovered(v5, "MQTT-3.1.2-7") {
		t.Error("MQTT-3.1.2-7 of 5.0 was counted for 3.1.1, or not for 5.0")
	}
	if uncovered(v311, "MQTT-4.3.2-1") || !uncovered(v311, "MQTT-4.4.0-1") || uncovered(v5, "MQTT-3.3.4-9") {
		t.Error("covered and uncovered statements mixed up")
	}
	if !slices.Equal(v5.Unknown, []string{"MQTT-9.9.9-9"}) || len(v311.Unknown) != 0 {
		t.Errorf("unknown ids: 3.1.1 %v, 5.0 %v", v311.Unknown, v5.Unknown)
	}
	sum := 0
	for _, ch := range v5.Chapters {
		sum += ch.Checkable
	}
	if sum != v5.Checkable || len(v5.Chapters) != 5 || v5.Chapters[4].Name != "6" {
		t.Errorf("5.0 chapters %+v", v5.Chapters)
	}

	var b bytes.Buffer
	v5.write(&b)
	out := b.String()
	for _, want := range []string{
		"MQTT 5.0 normative statements: 2 covered / 207 checkable / 251 total (1% of the checkable)",
		"Checkable MQTT 5.0 statements no spec covers (205):",
		"  5.0:MQTT-3.1.2-24    server Server must never send",
		"does not have: MQTT-9.9.9-9",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("5.0 output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "MQTT-3.3.4-9 ") || strings.Contains(out, "MQTT-4.2.0-1") {
		t.Errorf("5.0 output lists a covered or uncheckable statement as uncovered:\n%s", out)
	}
	b.Reset()
	v311.write(&b)
	if !strings.HasPrefix(b.String(), "MQTT 3.1.1 normative statements: 2 covered / ") || strings.Contains(b.String(), "5.0:") {
		t.Errorf("3.1.1 output:\n%s", b.String())
	}
}
