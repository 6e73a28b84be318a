package reports

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// svgNode is an element of a parsed SVG, with its children.
type svgNode struct {
	Name     string
	Attr     map[string]string
	Text     string
	Children []*svgNode
}

// parseSVG parses s as XML; the test fails if it is not well-formed.
func parseSVG(t *testing.T, s string) *svgNode {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(s))
	root := &svgNode{Name: "#root"}
	stack := []*svgNode{root}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, s)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &svgNode{Name: tok.Name.Local, Attr: map[string]string{}}
			for _, a := range tok.Attr {
				n.Attr[a.Name.Local] = a.Value
			}
			top := stack[len(stack)-1]
			top.Children = append(top.Children, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			stack[len(stack)-1].Text += string(tok)
		}
	}
	return root
}

// find returns every node under n (n included) for which keep is true.
func (n *svgNode) find(keep func(*svgNode) bool) []*svgNode {
	var out []*svgNode
	if keep(n) {
		out = append(out, n)
	}
	for _, c := range n.Children {
		out = append(out, c.find(keep)...)
	}
	return out
}

func hasClass(n *svgNode, class string) bool {
	for _, c := range strings.Fields(n.Attr["class"]) {
		if c == class {
			return true
		}
	}
	return false
}

func child(n *svgNode, name string) *svgNode {
	for _, c := range n.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestTheSequenceDiagramDrawsEveryStep(t *testing.T) {
	d := sampleTrace()
	svg := string(Sequence(d, "t1", "m-0001"))
	root := parseSVG(t, svg)

	// Lifelines: the first client left of the broker, the second right.
	var lanes []string
	last := -1.0
	for _, g := range root.find(func(n *svgNode) bool { return n.Name == "g" && hasClass(n, "lane") }) {
		lanes = append(lanes, child(g, "text").Text)
		x, err := strconv.ParseFloat(child(g, "text").Attr["x"], 64)
		if err != nil || x <= last {
			t.Errorf("lifeline %q at x=%q, not right of the one before (%.1f)", lanes[len(lanes)-1], child(g, "text").Attr["x"], last)
		}
		last = x
	}
	if strings.Join(lanes, ",") != "pub,broker,sub" {
		t.Errorf("lifelines %v, want pub,broker,sub", lanes)
	}

	// One arrow per packet step, each with a tooltip.
	packets, faults := 0, 0
	for _, s := range d.Steps {
		switch s.Kind {
		case StepPassed, StepPartial, StepDropped, StepUndecodable:
			packets++
		case StepFault:
			faults++
		}
	}
	arrows := root.find(func(n *svgNode) bool { return n.Name == "g" && hasClass(n, "pkt") })
	if len(arrows) != packets {
		t.Errorf("%d arrows for %d packet steps", len(arrows), packets)
	}
	for _, a := range arrows {
		if title := child(a, "title"); title == nil || title.Text == "" {
			t.Errorf("an arrow has no title: %+v", a.Attr)
		}
		if child(a, "line") == nil {
			t.Errorf("an arrow has no line: %+v", a.Attr)
		}
	}

	// Faults drawn where they struck, the blackhole hatched.
	fs := root.find(func(n *svgNode) bool { return n.Name == "g" && hasClass(n, "fault") })
	if len(fs) != faults {
		t.Errorf("%d fault marks for %d faults", len(fs), faults)
	}
	if len(fs) == 2 && (!hasClass(fs[0], "cut") || !hasClass(fs[1], "blackhole")) {
		t.Errorf("fault classes %q and %q, want cut and blackhole", fs[0].Attr["class"], fs[1].Attr["class"])
	}

	// The cut packet stops half way with ✂; the vanished ones end in ×.
	partial := root.find(func(n *svgNode) bool { return n.Name == "g" && hasClass(n, "partial") })
	if len(partial) != 1 || !strings.Contains(svg, "✂") || !strings.Contains(child(partial[0], "title").Text, "CUT: 5 of 31 bytes") {
		t.Errorf("the cut PUBLISH is not drawn as cut: %+v", partial)
	}
	if len(partial) == 1 {
		l := child(partial[0], "line")
		if l.Attr["marker-end"] != "" {
			t.Error("a cut packet must not end in an arrowhead")
		}
	}
	dropped := root.find(func(n *svgNode) bool { return n.Name == "g" && hasClass(n, "dropped") })
	if len(dropped) != 2 {
		t.Errorf("%d vanished packets drawn, want 2", len(dropped))
	}

	// The packets the failure names stand out.
	hot := root.find(func(n *svgNode) bool { return n.Name == "g" && hasClass(n, "hot") })
	if len(hot) != 2 {
		t.Errorf("%d arrows marked as named in the failure, want the cut PUBLISH and its resend", len(hot))
	}

	// The 0.8 s of silence is a gap row.
	if !strings.Contains(svg, "⋮ 0.8 s idle") {
		t.Error("no idle gap row")
	}

	// Trace text is escaped.
	if strings.Contains(svg, "<script>") || !strings.Contains(svg, "&lt;script&gt;") {
		t.Error("a payload is not escaped")
	}

	// Deterministic.
	if again := string(Sequence(d, "t1", "m-0001")); again != svg {
		t.Error("the same trace drew two different diagrams")
	}
}

func TestTheSequenceDiagramShowsTheSilenceAtTheEnd(t *testing.T) {
	d := TraceData{End: 5.2, Steps: []Step{
		{T: 0.01, Link: "sub", Kind: StepPassed, Packet: "SUBACK", FromBroker: true, ID: 1, Text: "SUBACK id=1 [0x01]"},
	}}
	svg := string(Sequence(d, "x"))
	parseSVG(t, svg)
	if !strings.Contains(svg, "5.2 s with nothing more on these links") {
		t.Errorf("no silence row:\n%s", svg)
	}
	if got := string(Sequence(TraceData{}, "x")); !strings.Contains(got, "No traffic") {
		t.Errorf("empty trace: %q", got)
	}
}

func TestBoundKeepsTheEndsAndTheFaults(t *testing.T) {
	var steps []Step
	for i := range 1000 {
		k := StepPassed
		if i == 500 {
			k = StepFault
		}
		steps = append(steps, Step{T: float64(i), Kind: k})
	}
	kept, omitted := Bound(steps, 100)
	if len(kept) > 100 || omitted != 1000-len(kept) {
		t.Fatalf("kept %d, omitted %d", len(kept), omitted)
	}
	if kept[0].T != 0 || kept[len(kept)-1].T != 999 {
		t.Errorf("ends not kept: %v … %v", kept[0].T, kept[len(kept)-1].T)
	}
	found := false
	for _, s := range kept {
		found = found || s.Kind == StepFault
	}
	if !found {
		t.Error("the fault was dropped")
	}
	if same, n := Bound(steps[:10], 100); len(same) != 10 || n != 0 {
		t.Error("a short trace was cut")
	}
}

// TestTraceDataSurvivesTheJSONReport: the renderer reads the trace from
// report.json (parallel runs aggregate reports through JSON), not only
// from memory.
func TestTraceDataSurvivesTheJSONReport(t *testing.T) {
	r := sampleReport()
	b, err := json.Marshal([]types.Report{r})
	if err != nil {
		t.Fatal(err)
	}
	var back []types.Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	d, ok := TraceDataOf(back[0].SpecReports[1])
	if !ok || len(d.Steps) != len(sampleTrace().Steps) || d.Steps[7].Kind != StepPartial || d.Steps[7].Bytes != 5 {
		t.Errorf("trace after JSON: ok=%v %+v", ok, d)
	}
	if c, ok := ChaosTimelineOf(back[0]); !ok || c.Seed != 42 || len(c.Faults) != 3 {
		t.Errorf("chaos timeline after JSON: ok=%v %+v", ok, c)
	}
	if ks := KeepalivesOf(back[0]); len(ks) != 1 || len(ks[0].Closes) != 2 {
		t.Errorf("keepalives after JSON: %+v", ks)
	}
}

func TestTheChartsAreWellFormed(t *testing.T) {
	r := sampleReport()
	ks := KeepalivesOf(r)
	if len(ks) != 1 || ks[0].Keepalive.Seconds() != 2 || ks[0].Closes[0].Seconds() != 2.51 {
		t.Fatalf("keepalive measurements %+v", ks)
	}
	ks = append(ks, Keepalive{Broker: "late", Keepalive: ks[0].Keepalive, Closes: []time.Duration{4 * time.Second, 2900 * time.Millisecond}})
	root := parseSVG(t, string(KeepaliveChart(ks)))
	dots := root.find(func(n *svgNode) bool { return n.Name == "circle" })
	bad := root.find(func(n *svgNode) bool { return n.Name == "circle" && hasClass(n, "bad") })
	if len(dots) != 4 || len(bad) != 1 {
		t.Errorf("%d dots, %d outside the window; want 4 and 1 (the close at 4 s)", len(dots), len(bad))
	}
	for _, d := range dots {
		if child(d, "title") == nil {
			t.Error("a dot has no title")
		}
	}
	if KeepaliveChart(nil) != "" {
		t.Error("a chart without measurements")
	}

	c, _ := ChaosTimelineOf(r)
	root = parseSVG(t, string(ChaosChart(c)))
	if n := len(root.find(func(n *svgNode) bool { return n.Name == "polyline" })); n != 3 {
		t.Errorf("%d series, want published, acknowledged, delivered", n)
	}
	if n := len(root.find(func(n *svgNode) bool { return n.Name == "rect" && hasClass(n, "fw") })); n != 3 {
		t.Errorf("%d faults drawn, want 3", n)
	}
}

func TestNamedFindsTheMessagesAFailureNames(t *testing.T) {
	d := sampleTrace()
	if got := Named(`the subscriber never received "m-0001" within 5s`, d); len(got) != 1 || got[0] != "m-0001" {
		t.Errorf("Named: %q", got)
	}
	// Bare ids in the first lines count too; words that are no payload do not.
	if got := Named("out-of-order: sub first received m-0001 (sent 1s) after m-9999\nmore", d); len(got) != 1 || got[0] != "m-0001" {
		t.Errorf("Named: %q", got)
	}
}

func TestALongTraceIsCutDownToTheNamedMessages(t *testing.T) {
	var steps []Step
	for i := range 1000 {
		steps = append(steps, Step{T: float64(i) / 100, Link: "p", Kind: StepPassed, Packet: "PUBLISH", QoS: 1, ID: uint16(i + 1),
			Payload: fmt.Sprintf("q1-%d", i), Text: "PUBLISH"})
	}
	svg := string(Sequence(TraceData{Steps: steps}, "x", "q1-500"))
	root := parseSVG(t, svg)
	arrows := root.find(func(n *svgNode) bool { return n.Name == "g" && hasClass(n, "pkt") })
	if len(arrows) != 17 {
		t.Errorf("%d arrows; want the named message and 8 steps either side", len(arrows))
	}
	if !strings.Contains(svg, "⋯ 492 steps not shown") || !strings.Contains(svg, "around the messages the failure names (q1-500)") {
		t.Error("the cut is not said")
	}
}

func TestNamedReadsTheCheckersViolations(t *testing.T) {
	d := TraceData{Steps: []Step{{Link: "d", Kind: StepPassed, Packet: "PUBLISH", Payload: "setpoint=15"}, {Link: "d", Kind: StepPassed, Packet: "PUBLISH", Payload: "setpoint=24"}}}
	msg := "[MQTT-4.6.0-6] commands come back in any order (mochi profile; evidence: x)\nobserved: The broker broke a guarantee:\n  out-of-order [MQTT-4.6.0-5 MQTT-4.6.0-6]: device first received setpoint=15 (sent 4ms) at 8ms, after setpoint=24 (sent 6ms)"
	if got := Named(msg, d); strings.Join(got, ",") != "setpoint=15,setpoint=24" {
		t.Errorf("Named: %q", got)
	}
}

func TestAMalformedPacketIsDrawnApart(t *testing.T) {
	d := TraceData{Steps: []Step{{Link: "raw", Kind: StepPassed, FromBroker: true, Packet: "CONNACK", Size: 4,
		Text: "CONNACK sp=0 rc=0x82 MALFORMED: return code 0x82 is not one of 0x00-0x05"}}}
	root := parseSVG(t, string(Sequence(d, "m")))
	if n := len(root.find(func(n *svgNode) bool { return n.Name == "g" && hasClass(n, "malformed") })); n != 1 {
		t.Errorf("%d malformed arrows, want 1", n)
	}
}
