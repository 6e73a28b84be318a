package framework

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/reports"
)

// TraceData is the merged wire trace as data, for the HTML report's
// sequence diagram: bounded to reports.MaxSteps steps, keeping those
// around the messages the failure message names.
func (f *Framework) TraceData(failure string) reports.TraceData {
	traces := make([]*proxy.Trace, 0, len(f.links))
	elided := 0
	for _, l := range f.links {
		traces = append(traces, l.Trace())
		elided += l.Trace().Elided()
	}
	entries := proxy.Merge(traces...)
	steps := make([]reports.Step, 0, len(entries))
	for _, e := range entries {
		steps = append(steps, stepOf(e, f))
	}
	d := reports.TraceData{Elided: elided, End: time.Since(f.start).Seconds(), Steps: steps}
	d.Steps, d.Omitted = reports.Bound(steps, 0, reports.Named(failure, d)...)
	return d
}

// addTraceData adds the spec's trace as data, once per spec; failure is
// what the spec concluded ("" when it passed).
func (f *Framework) addTraceData(failure string) {
	for _, e := range ginkgo.CurrentSpecReport().ReportEntries {
		if e.Name == reports.TraceDataEntry {
			return
		}
	}
	ginkgo.AddReportEntry(reports.TraceDataEntry, f.TraceData(failure), ginkgo.ReportEntryVisibilityNever)
}

func stepOf(e proxy.Entry, f *Framework) reports.Step {
	s := reports.Step{T: e.At.Sub(f.start).Seconds(), Link: e.Link, Conn: e.Conn, FromBroker: e.Dir == proxy.FromBroker,
		Bytes: e.Bytes, Note: e.Note}
	switch e.Kind {
	case proxy.Passed:
		s.Kind = reports.StepPassed
	case proxy.Partial:
		s.Kind = reports.StepPartial
	case proxy.Dropped:
		s.Kind = reports.StepDropped
	case proxy.Injected:
		s.Kind = reports.StepFault
	case proxy.Undecodable:
		s.Kind = reports.StepUndecodable
	default:
		s.Kind = reports.StepEvent
	}
	p := e.Packet
	if p.Type != 0 && (e.Kind == proxy.Passed || e.Kind == proxy.Partial || e.Kind == proxy.Dropped) {
		s.Packet, s.ID, s.Size, s.Text = p.Type.String(), p.PacketID, p.Size(), p.String()
		if p.Type == wire.PUBLISH {
			s.QoS, s.DUP, s.Retain, s.Topic = p.QoS, p.DUP, p.Retain, p.Topic
			s.Payload = preview(p.Payload, p.PayloadSize)
		}
		if p.Type == wire.SUBSCRIBE && len(p.Subscriptions) > 0 {
			s.Topic = p.Subscriptions[0].Filter
			s.QoS = p.Subscriptions[0].QoS
		}
	}
	return s
}

// preview shows at most 24 bytes of a payload: as text when it is
// printable UTF-8, else as hex.
func preview(b []byte, size int) string {
	const n = 24
	short := b
	if len(short) > n {
		short = short[:n]
	}
	text := utf8.Valid(short)
	for _, r := range string(short) {
		if r < 0x20 || r == 0x7f {
			text = false
		}
	}
	s := string(short)
	if !text {
		s = fmt.Sprintf("0x%x", short)
	}
	if size > len(short) {
		s += fmt.Sprintf("… (%d B)", size)
	}
	return s
}
