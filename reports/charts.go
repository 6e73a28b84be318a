package reports

import (
	"fmt"
	"html/template"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// KeepaliveEntry names the report entry the keepalive spec adds with its
// measurements (suites/conformance/keepalive.go).
const KeepaliveEntry = "keepalive"

// Keepalive is one keepalive measurement: how long after a client's last
// packet the broker closed each silent connection.
type Keepalive struct {
	Broker    string // for comparisons; "" in a single run
	Keepalive time.Duration
	Closes    []time.Duration
}

var keepaliveText = regexp.MustCompile(`^keepalive (\S+): the broker closed the connections (\S+) and (\S+) after`)

// KeepalivesOf reads the keepalive measurements of a run.
func KeepalivesOf(report types.Report) []Keepalive {
	var out []Keepalive
	for _, s := range report.SpecReports {
		for _, e := range s.ReportEntries {
			if e.Name != KeepaliveEntry {
				continue
			}
			m := keepaliveText.FindStringSubmatch(e.StringRepresentation())
			if m == nil {
				continue
			}
			k := Keepalive{}
			var err error
			if k.Keepalive, err = time.ParseDuration(m[1]); err != nil {
				continue
			}
			for _, c := range m[2:] {
				if d, err := time.ParseDuration(c); err == nil {
					k.Closes = append(k.Closes, d)
				}
			}
			out = append(out, k)
		}
	}
	return out
}

// KeepaliveChart draws each measurement as a row: the allowed window from
// the keepalive to 1.5 × keepalive shaded, each close a dot (green inside
// the window, red outside).
func KeepaliveChart(ks []Keepalive) template.HTML {
	if len(ks) == 0 {
		return ""
	}
	top := 0.0
	for _, k := range ks {
		top = max(top, k.Keepalive.Seconds()*1.5)
		for _, c := range k.Closes {
			top = max(top, c.Seconds())
		}
	}
	top = niceCeil(top * 1.1)
	const left, right, rowH, axisH = 150, 30, 30, 34
	width := 720.0
	height := float64(len(ks)*rowH + axisH + 16)
	plotW := width - left - right
	x := func(sec float64) float64 { return left + sec/top*plotW }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="keepalive close times">`, width, height, width, height)
	for _, t := range ticks(top, 6) {
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="8" x2="%.1f" y2="%.1f"/><text class="tick" x="%.1f" y="%.1f" text-anchor="middle">%gs</text>`,
			x(t), x(t), height-axisH+4, x(t), height-axisH+18, t)
	}
	for i, k := range ks {
		y := 8 + float64(i*rowH) + rowH/2
		ka := k.Keepalive.Seconds()
		name := fmt.Sprintf("keepalive %gs", ka)
		if k.Broker != "" {
			name = k.Broker + " · " + fmt.Sprintf("%gs", ka)
		}
		fmt.Fprintf(&b, `<text class="rowlbl" x="%d" y="%.1f" text-anchor="end">%s</text>`, left-10, y+4, esc(name))
		fmt.Fprintf(&b, `<rect class="window" x="%.1f" y="%.1f" width="%.1f" height="%d"><title>allowed: between the keepalive (%gs) and 1.5 × keepalive (%gs)</title></rect>`,
			x(ka), y-9, x(ka*1.5)-x(ka), 18, ka, ka*1.5)
		fmt.Fprintf(&b, `<line class="limit" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x(ka*1.5), y-12, x(ka*1.5), y+12)
		for j, c := range k.Closes {
			cls := "ok"
			if c.Seconds() > ka*1.5+0.25 || c.Seconds() < ka {
				cls = "bad"
			}
			fmt.Fprintf(&b, `<circle class="dot %s" cx="%.1f" cy="%.1f" r="5.5"><title>client %d: closed %.3fs after its last packet (1.5 × keepalive = %gs)</title></circle>`,
				cls, x(c.Seconds()), y+float64(j*6-3), j+1, c.Seconds(), ka*1.5)
		}
	}
	fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="middle">seconds from the client's last packet to the broker's close · shaded: keepalive … 1.5 × keepalive</text>`,
		left+plotW/2, height-4)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// ChaosTimelineEntry names the report entry the chaos spec adds with its
// traffic over time and its faults (a ChaosTimeline).
const ChaosTimelineEntry = "chaos timeline"

// ChaosTimeline is the chaos run's traffic per time bucket and its faults.
type ChaosTimeline struct {
	Seed      uint64        `json:"seed"`
	Bucket    float64       `json:"bucket"`    // seconds per bucket
	Published []int         `json:"published"` // publish attempts started in each bucket
	Acked     []int         `json:"acked"`     // of those, acknowledged
	Delivered []int         `json:"delivered"` // messages delivered to subscribers in each bucket
	Faults    []FaultWindow `json:"faults"`
	// Versions is each client's MQTT version ("3.1.1", "5.0"), by link
	// name: the strips say which clients spoke which.
	Versions map[string]string `json:"versions,omitempty"`
}

// FaultWindow is one fault on one link: From and To in seconds from the
// start of the traffic (To == From: an instant fault).
type FaultWindow struct {
	Link string  `json:"link"`
	Kind string  `json:"kind"`
	From float64 `json:"from"`
	To   float64 `json:"to"`
}

// String keeps the entry short where Ginkgo prints it.
func (c ChaosTimeline) String() string {
	return fmt.Sprintf("%d buckets of %gs, %d faults", len(c.Published), c.Bucket, len(c.Faults))
}

// ChaosTimelineOf returns the run's chaos timeline, if the chaos spec ran.
func ChaosTimelineOf(report types.Report) (ChaosTimeline, bool) {
	for _, s := range report.SpecReports {
		for _, e := range s.ReportEntries {
			if e.Name != ChaosTimelineEntry {
				continue
			}
			if c, ok := e.Value.GetRawValue().(ChaosTimeline); ok {
				return c, true
			}
			var c ChaosTimeline
			if err := decodeEntry(e.Value, &c); err == nil {
				return c, true
			}
		}
	}
	return ChaosTimeline{}, false
}

var faultColours = map[string]string{
	"reset": "#cf222e", "packet cut": "#e16f24", "blackhole": "#24292f", "latency": "#bf8700",
	"bandwidth": "#8250df", "fragment": "#0969da", "down": "#82071e",
}

// ChaosChart draws messages per bucket over time (published, acknowledged,
// delivered) and, below, one strip per link with its faults.
func ChaosChart(c ChaosTimeline) template.HTML {
	n := len(c.Published)
	if n == 0 || c.Bucket <= 0 {
		return ""
	}
	var links []string
	seen := map[string]bool{}
	for _, f := range c.Faults {
		if !seen[f.Link] {
			seen[f.Link] = true
			links = append(links, f.Link)
		}
	}
	span := float64(n) * c.Bucket
	for _, f := range c.Faults {
		span = max(span, f.To)
	}
	peak := 1
	for _, s := range [][]int{c.Published, c.Acked, c.Delivered} {
		for _, v := range s {
			peak = max(peak, v)
		}
	}
	top := niceCeil(float64(peak) / c.Bucket * 1.1)
	const left, right, plotH, stripH = 96, 120, 200, 16
	width := 900.0
	plotW := width - left - right
	height := 16 + plotH + 30 + float64(len(links))*stripH + 40
	x := func(sec float64) float64 { return left + sec/span*plotW }
	y := func(rate float64) float64 { return 16 + plotH - rate/top*plotH }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="chaos traffic over time with faults">`, width, height, width, height)
	for _, t := range ticks(top, 5) {
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%.1f" y2="%.1f"/><text class="tick" x="%d" y="%.1f" text-anchor="end">%g</text>`,
			left, y(t), left+plotW, y(t), left-6, y(t)+4, t)
	}
	stripTop := 16 + plotH + 30.0
	for _, t := range ticks(span, 8) {
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="middle">%gs</text>`, x(t), float64(16+plotH+16), t)
	}
	fmt.Fprintf(&b, `<text class="tick" x="12" y="%d" transform="rotate(-90 12 %d)" text-anchor="middle">messages / s</text>`, 16+plotH/2, 16+plotH/2)
	series := []struct {
		name, cls string
		v         []int
	}{{"published", "s-pub", c.Published}, {"acknowledged", "s-ack", c.Acked}, {"delivered", "s-del", c.Delivered}}
	for i, s := range series {
		var pts []string
		for j, v := range s.v {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x((float64(j)+0.5)*c.Bucket), y(float64(v)/c.Bucket)))
		}
		fmt.Fprintf(&b, `<polyline class="series %s" points="%s"><title>%s per second</title></polyline>`, s.cls, strings.Join(pts, " "), s.name)
		ly := 24 + float64(i)*18
		fmt.Fprintf(&b, `<line class="series %s" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/><text class="tick" x="%.1f" y="%.1f">%s</text>`,
			s.cls, left+plotW+12, ly, left+plotW+30, ly, left+plotW+36, ly+4, s.name)
	}
	for i, l := range links {
		sy := stripTop + float64(i)*stripH
		label := l
		if v := c.Versions[l]; v != "" {
			label += " · " + v
		}
		fmt.Fprintf(&b, `<text class="rowlbl" x="%d" y="%.1f" text-anchor="end">%s</text><line class="grid" x1="%d" y1="%.1f" x2="%.1f" y2="%.1f"/>`,
			left-6, sy+11, esc(label), left, sy+stripH/2, left+plotW, sy+stripH/2)
		for _, f := range c.Faults {
			if f.Link != l {
				continue
			}
			w := max(x(f.To)-x(f.From), 2.5)
			col := faultColours[f.Kind]
			if col == "" {
				col = "#57606a"
			}
			fmt.Fprintf(&b, `<rect class="fw" x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"><title>%s on %s: %.2fs–%.2fs</title></rect>`,
				x(f.From), sy+3, w, stripH-6, col, esc(f.Kind), esc(l), f.From, f.To)
		}
	}
	// The legend of fault kinds.
	lx := float64(left)
	ly := height - 12
	for _, k := range []string{"reset", "packet cut", "blackhole", "latency", "bandwidth", "fragment", "down"} {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="10" height="10" fill="%s"/><text class="tick" x="%.1f" y="%.1f">%s</text>`, lx, ly-9, faultColours[k], lx+14, ly, k)
		lx += 24 + float64(len(k))*6.5
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// ticks returns about n round values from 0 to top.
func ticks(top float64, n int) []float64 {
	step := niceCeil(top / float64(n))
	var out []float64
	for t := 0.0; t <= top+step/1000; t += step {
		out = append(out, math.Round(t*1000)/1000)
	}
	return out
}

// ChartCSS styles the charts.
const ChartCSS = `
svg.chart { font: 11px system-ui, sans-serif; background: var(--panel); }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .tick { fill: var(--muted); }
svg.chart .rowlbl { fill: var(--ink); font-weight: 600; }
svg.chart .window { fill: #dafbe1; stroke: #1a7f37; stroke-width: 1; stroke-dasharray: 3 2; }
svg.chart .limit { stroke: #1a7f37; stroke-width: 2; }
svg.chart .dot.ok { fill: #1a7f37; stroke: var(--panel); stroke-width: 1.5; }
svg.chart .dot.bad { fill: #cf222e; stroke: var(--panel); stroke-width: 1.5; }
svg.chart .series { fill: none; stroke-width: 2; }
svg.chart .s-pub { stroke: #0969da; }
svg.chart .s-ack { stroke: #1a7f37; stroke-dasharray: 5 3; }
svg.chart .s-del { stroke: #8250df; }
`
