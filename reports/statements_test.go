package reports

import (
	"slices"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func TestStatementsSayTheVersion(t *testing.T) {
	labels := []string{"conformance", "v5", StatementLabel + ":MQTT-4.3.2-1",
		StatementLabel5 + ":MQTT-3.3.4-9", StatementLabel5 + ":MQTT-3.1.2-7", "defect:x", "spec5x:MQTT-1.5.4-1"}
	if got, want := Statements(labels), []string{"MQTT-4.3.2-1", "5.0:MQTT-3.3.4-9", "5.0:MQTT-3.1.2-7"}; !slices.Equal(got, want) {
		t.Errorf("Statements = %q, want %q", got, want)
	}
	v311, v5 := StatementIDs(labels)
	if !slices.Equal(v311, []string{"MQTT-4.3.2-1"}) || !slices.Equal(v5, []string{"MQTT-3.3.4-9", "MQTT-3.1.2-7"}) {
		t.Errorf("StatementIDs = %q, %q", v311, v5)
	}
	if got := Statements([]string{"conformance"}); got != nil {
		t.Errorf("Statements of a spec without any = %q", got)
	}
}

func TestSummaryMarksFiveStatements(t *testing.T) {
	r := types.Report{SpecReports: types.SpecReports{
		{
			LeafNodeType: types.NodeTypeIt, LeafNodeText: "honours Receive Maximum",
			LeafNodeLabels: []string{"v5", StatementLabel5 + ":MQTT-3.3.4-9"},
			State:          types.SpecStateFailed, Failure: types.Failure{Message: "11 PUBLISHes in flight, Receive Maximum 10"},
		},
		{
			LeafNodeType: types.NodeTypeIt, LeafNodeText: "delivers QoS 1",
			LeafNodeLabels: []string{StatementLabel + ":MQTT-4.3.2-1"},
			State:          types.SpecStateFailed, Failure: types.Failure{Message: "lost"},
		},
	}}
	o := Judge(r, "mosquitto")
	if !slices.Equal(o.Results[0].Statements, []string{"5.0:MQTT-3.3.4-9"}) {
		t.Errorf("5.0 result statements %q", o.Results[0].Statements)
	}
	text := o.Text()
	for _, want := range []string{"honours Receive Maximum [5.0:MQTT-3.3.4-9]", "delivers QoS 1 [MQTT-4.3.2-1]"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
}
