package reports

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

// WireCostEntry names the report entry with the wire cost measurements
// (suites/measure): a WireCost.
const WireCostEntry = "wire cost"

// WireCost is what delivering one small message costs on the wire, by
// protocol and transport: bytes per message on the TCP sockets (TCP
// payload: TLS records and websocket frames included) and packets per
// message (MQTT packets, or HTTP messages), measured on loopback. TCP/IP
// headers are not counted (on Linux, 52 bytes per segment).
type WireCost struct {
	Topic    string        `json:"topic"`    // the topic's shape, e.g. "sensors/1/temperature/C"
	Payload  int           `json:"payload"`  // payload bytes per message
	Messages int           `json:"messages"` // messages measured per row
	Rows     []WireCostRow `json:"rows"`
	// Unmeasured says why a transport has no rows (the run has no such
	// endpoint).
	Unmeasured []string `json:"unmeasured,omitempty"`
}

// WireCostRow is one way of sending the messages.
type WireCostRow struct {
	Name string `json:"name"` // "MQTT QoS 1, tcp", "HTTP/1.1 POST (keep-alive)"
	// Per message, between the sender and the broker or server.
	SendBytes   float64 `json:"send_bytes"`
	SendPackets float64 `json:"send_packets"`
	// Per message, between the broker and the subscriber (0 for HTTP).
	DeliverBytes   float64 `json:"deliver_bytes"`
	DeliverPackets float64 `json:"deliver_packets"`
	Unit           string  `json:"unit"` // what a packet is: "MQTT packets", "HTTP messages"
}

// String keeps the entry readable where Ginkgo prints it.
func (w WireCost) String() string {
	var parts []string
	for _, r := range w.Rows {
		parts = append(parts, fmt.Sprintf("%s: %.1f B in %.1f %s to send", r.Name, r.SendBytes, r.SendPackets, r.Unit))
	}
	return fmt.Sprintf("per %d-byte message: %s", w.Payload, strings.Join(parts, "; "))
}

// WireCostOf returns the run's wire cost measurements, if it made them.
func WireCostOf(report types.Report) (WireCost, bool) {
	for _, s := range report.SpecReports {
		for _, e := range s.ReportEntries {
			if e.Name != WireCostEntry {
				continue
			}
			if w, ok := e.Value.GetRawValue().(WireCost); ok {
				return w, true
			}
			var w WireCost
			if err := decodeEntry(e.Value, &w); err == nil {
				return w, true
			}
		}
	}
	return WireCost{}, false
}

// WireCostChart draws bytes per message as bars, the sender's hop and the
// delivery hop stacked, with packets per message written beside.
func WireCostChart(w WireCost) template.HTML {
	if len(w.Rows) == 0 {
		return ""
	}
	top := 1.0
	for _, r := range w.Rows {
		top = max(top, r.SendBytes+r.DeliverBytes)
	}
	top = niceCeil(top * 1.05)
	const left, right, rowH, axisH = 200, 230, 28, 40
	width := 900.0
	plotW := width - left - right
	height := float64(len(w.Rows)*rowH + axisH + 10)
	x := func(v float64) float64 { return left + v/top*plotW }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="wire cost per message">`, width, height, width, height)
	for _, t := range ticks(top, 6) {
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="6" x2="%.1f" y2="%.1f"/><text class="tick" x="%.1f" y="%.1f" text-anchor="middle">%g B</text>`,
			x(t), x(t), height-axisH+2, x(t), height-axisH+16, t)
	}
	for i, r := range w.Rows {
		y := 8 + float64(i*rowH)
		fmt.Fprintf(&b, `<text class="rowlbl" x="%d" y="%.1f" text-anchor="end">%s</text>`, left-10, y+15, esc(r.Name))
		fmt.Fprintf(&b, `<rect class="send" x="%d" y="%.1f" width="%.1f" height="18"><title>%s: %.1f bytes in %.2f %s per message, sender to broker or server</title></rect>`,
			left, y+2, x(r.SendBytes)-left, esc(r.Name), r.SendBytes, r.SendPackets, esc(r.Unit))
		if r.DeliverBytes > 0 {
			fmt.Fprintf(&b, `<rect class="deliver" x="%.1f" y="%.1f" width="%.1f" height="18"><title>%s: %.1f bytes in %.2f %s per message, broker to subscriber</title></rect>`,
				x(r.SendBytes), y+2, x(r.SendBytes+r.DeliverBytes)-x(r.SendBytes), esc(r.Name), r.DeliverBytes, r.DeliverPackets, esc(r.Unit))
		}
		note := fmt.Sprintf("%.0f B, %.1f %s", r.SendBytes, r.SendPackets, r.Unit)
		if r.DeliverBytes > 0 {
			note = fmt.Sprintf("%.0f + %.0f B, %.1f + %.1f %s", r.SendBytes, r.DeliverBytes, r.SendPackets, r.DeliverPackets, r.Unit)
		}
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f">%s</text>`, x(r.SendBytes+r.DeliverBytes)+8, y+15, esc(note))
	}
	fmt.Fprintf(&b, `<rect class="send" x="%d" y="%.1f" width="10" height="10"/><text class="tick" x="%d" y="%.1f">sender → broker or server</text>`, left, height-12, left+14, height-3)
	fmt.Fprintf(&b, `<rect class="deliver" x="%d" y="%.1f" width="10" height="10"/><text class="tick" x="%d" y="%.1f">broker → subscriber</text>`, left+190, height-12, left+204, height-3)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// WireCostCSS styles the wire cost chart.
const WireCostCSS = `
svg.chart .send { fill: #0969da; }
svg.chart .deliver { fill: #54aeff; }
`
