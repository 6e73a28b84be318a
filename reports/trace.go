package reports

import (
	"encoding/json"
	"fmt"

	"github.com/onsi/ginkgo/v2/types"
)

// TraceDataEntry names the report entry that carries a spec's merged wire
// trace as data (its JSON is a TraceData), for the HTML report's sequence
// diagrams. The text of the same trace stays in TraceEntry.
const TraceDataEntry = "wire trace data"

// Step kinds: what one trace entry records.
const (
	StepPassed      = "passed"      // a whole packet crossed the link
	StepPartial     = "partial"     // the link was cut inside the packet
	StepDropped     = "dropped"     // the packet (or bytes) vanished
	StepFault       = "fault"       // a fault was injected
	StepEvent       = "event"       // the connection opened, closed, was refused
	StepUndecodable = "undecodable" // bytes that are not MQTT framing
)

// Step is one entry of a wire trace, as the reports draw it.
type Step struct {
	T          float64 `json:"t"`    // seconds since the spec began
	Link       string  `json:"link"` // the client's name
	Conn       int     `json:"conn,omitempty"`
	FromBroker bool    `json:"from_broker,omitempty"`
	Kind       string  `json:"kind"`
	Packet     string  `json:"packet,omitempty"` // "PUBLISH", "PUBACK", ...
	ID         uint16  `json:"id,omitempty"`
	QoS        byte    `json:"qos,omitempty"`
	DUP        bool    `json:"dup,omitempty"`
	Retain     bool    `json:"retain,omitempty"`
	Topic      string  `json:"topic,omitempty"`
	Payload    string  `json:"payload,omitempty"` // a short preview
	Size       int     `json:"size,omitempty"`    // bytes of the whole packet
	Bytes      int     `json:"bytes,omitempty"`   // bytes that passed (partial) or vanished (dropped, undecodable)
	Text       string  `json:"text,omitempty"`    // the packet's one-line decode
	Note       string  `json:"note,omitempty"`
}

// TraceData is a spec's merged wire trace, bounded in size.
type TraceData struct {
	Steps   []Step `json:"steps"`
	Omitted int    `json:"omitted,omitempty"` // steps left out to bound the size (see MaxSteps)
	Elided  int    `json:"elided,omitempty"`  // oldest entries the links dropped to bound memory
	// End is when the trace was taken, in seconds since the spec began:
	// a long silence after the last step is part of the story.
	End float64 `json:"end,omitempty"`
}

// String keeps the entry short wherever Ginkgo prints it as text.
func (d TraceData) String() string {
	s := fmt.Sprintf("%d wire trace steps", len(d.Steps))
	if d.Omitted > 0 {
		s += fmt.Sprintf(" (%d more omitted)", d.Omitted)
	}
	return s
}

// MaxSteps bounds the steps a TraceData keeps: the first and last ones and
// those around every fault.
const MaxSteps = 400

// Bound returns steps cut down to at most max (0: MaxSteps), and how many
// it left out. It keeps first the steps around the messages named (see
// Named: the failure's message ids), then the first and last steps and
// those around every fault.
func Bound(steps []Step, max int, named ...string) ([]Step, int) {
	if max <= 0 {
		max = MaxSteps
	}
	if len(steps) <= max {
		return steps, 0
	}
	keep := make([]bool, len(steps))
	n := 0
	mark := func(from, to int) {
		for i := from; i < to && n < max; i++ {
			if i >= 0 && i < len(steps) && !keep[i] {
				keep[i] = true
				n++
			}
		}
	}
	const around = 8
	for i, s := range steps {
		if n < max*2/3 && isHot(s, named) {
			mark(i-around, i+around+1)
		}
	}
	mark(0, max/4)
	mark(len(steps)-max/4, len(steps))
	for i, s := range steps {
		if s.Kind == StepFault || s.Kind == StepPartial {
			mark(i-around/2, i+around/2+1)
		}
	}
	var out []Step
	for i, s := range steps {
		if keep[i] {
			out = append(out, s)
		}
	}
	return out, len(steps) - len(out)
}

// TraceDataOf returns the spec's structured trace, if it has one.
func TraceDataOf(s types.SpecReport) (TraceData, bool) {
	for _, e := range s.ReportEntries {
		if e.Name != TraceDataEntry {
			continue
		}
		if d, ok := e.Value.GetRawValue().(TraceData); ok {
			return d, true
		}
		var d TraceData
		if err := decodeEntry(e.Value, &d); err == nil {
			return d, true
		}
	}
	return TraceData{}, false
}

// decodeEntry reads a report entry's value into v: from its JSON when the
// report came through a file or from another process, or by re-encoding
// the value it holds.
func decodeEntry(rev types.ReportEntryValue, v any) error {
	if rev.AsJSON != "" {
		return json.Unmarshal([]byte(rev.AsJSON), v)
	}
	b, err := json.Marshal(rev.GetRawValue())
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
