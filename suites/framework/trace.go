package framework

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/reports"
)

// The spec's wire trace: as text for failure messages and the console,
// and as data for the HTML report's sequence diagram.

// TraceEntry names the report entry that carries a failed spec's trace.
const TraceEntry = reports.TraceEntry

// TraceText is the merged wire trace, short enough to read.
func (f *Framework) TraceText() string {
	traces := make([]*proxy.Trace, 0, len(f.links))
	elided := 0
	for _, l := range f.links {
		traces = append(traces, l.Trace())
		elided += l.Trace().Elided()
	}
	text := proxy.Format(proxy.Merge(traces...), f.start, 80)
	if elided > 0 {
		text = fmt.Sprintf("(the %d oldest entries were dropped to bound memory)\n%s", elided, text)
	}
	return text
}

// TraceExcerpt returns the lines of the spec's merged trace that mention
// any of words (message ids appear in payload previews), with around lines
// of context, at most max lines in all.
func (f *Framework) TraceExcerpt(words []string, around, max int) string {
	traces := make([]*proxy.Trace, 0, len(f.links))
	for _, l := range f.links {
		traces = append(traces, l.Trace())
	}
	lines := strings.Split(proxy.Format(proxy.Merge(traces...), f.start, 0), "\n")
	keep := make([]bool, len(lines))
	for i, l := range lines {
		for _, w := range words {
			if strings.Contains(l, `"`+w+`"`) {
				for j := max0(i - around); j <= min(i+around, len(lines)-1); j++ {
					keep[j] = true
				}
			}
		}
	}
	var b strings.Builder
	n := 0
	for i, l := range lines {
		if keep[i] && n < max {
			b.WriteString(l + "\n")
			n++
		}
	}
	return b.String()
}

func max0(i int) int {
	if i < 0 {
		return 0
	}
	return i
}

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
