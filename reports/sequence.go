package reports

import (
	"fmt"
	"html/template"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Sequence draws a wire trace as an SVG packet sequence diagram: a
// lifeline per client and one for the broker, an arrow per packet, time
// running down. Faults are drawn where they struck (a red band across the
// client's link), packets cut inside as arrows that stop half way with
// "✂", packets that vanished as dashed arrows ending in "×". Every arrow
// has a <title> with the packet's full decode, so hovering shows it.
//
// id makes the diagram's marker ids unique in the page. named lists the
// messages (payloads) a failure names (see Named): their packets are
// drawn bold, and a long trace is cut down to the steps around them.
//
// All trace text is escaped: topics and payloads come from brokers.
func Sequence(d TraceData, id string, named ...string) template.HTML {
	return template.HTML(sequenceSVG(d, Slug(id), named))
}

// Layout constants of the diagram, in pixels.
const (
	seqTop     = 46  // lane headers above the first row
	seqRow     = 22  // one trace step
	seqGap     = 18  // a collapsed idle gap
	seqTimeCol = 64  // the time column on the left
	seqCharW   = 6.6 // width of one character of the 11px monospace labels
	seqIdle    = 0.5 // seconds of silence drawn as a gap row
	seqLabel   = 60  // characters of an arrow's label before "…"
)

// lanes orders the diagram's lifelines: half the clients (in order of first
// appearance) left of the broker, the rest right of it, so that a
// publisher and a subscriber sit on either side as in a textbook.
func lanes(steps []Step) (names []string, broker int) {
	seen := map[string]bool{}
	var clients []string
	for _, s := range steps {
		if !seen[s.Link] {
			seen[s.Link] = true
			clients = append(clients, s.Link)
		}
	}
	left := (len(clients) + 1) / 2
	names = append(names, clients[:left]...)
	names = append(names, "broker")
	names = append(names, clients[left:]...)
	return names, left
}

// Label is the text drawn on a packet's arrow: type, id, QoS, DUP,
// RETAIN, topic and a short payload.
func (s Step) Label() string {
	if s.Packet == "" {
		return s.Text
	}
	var b strings.Builder
	b.WriteString(s.Packet)
	if s.ID != 0 {
		fmt.Fprintf(&b, " id=%d", s.ID)
	}
	if s.Packet == "PUBLISH" || s.Packet == "SUBSCRIBE" {
		fmt.Fprintf(&b, " q%d", s.QoS)
	}
	if s.DUP {
		b.WriteString(" DUP")
	}
	if s.Retain {
		b.WriteString(" RETAIN")
	}
	if s.Topic != "" {
		b.WriteString(" " + shortTopic(s.Topic))
	}
	if s.Payload != "" {
		fmt.Fprintf(&b, " %q", s.Payload)
	}
	if s.Packet != "PUBLISH" && s.Packet != "SUBSCRIBE" && s.Text != "" {
		// CONNECT, CONNACK, SUBACK...: the decode says more than the type.
		return s.Text
	}
	return b.String()
}

// shortTopic keeps the end of a long topic: the spec's unique root is the
// same on every arrow and says little.
func shortTopic(t string) string {
	parts := strings.Split(t, "/")
	if len(parts) > 3 {
		return "…/" + strings.Join(parts[len(parts)-2:], "/")
	}
	return t
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// faultGlyph picks the mark of a fault from its description.
func faultGlyph(note string) (glyph, class string) {
	n := strings.ToLower(note)
	switch {
	case strings.Contains(n, "blackhole"):
		return "▒", "blackhole"
	case strings.Contains(n, "refus"), strings.Contains(n, "down"):
		return "⊘", "refuse"
	case strings.Contains(n, "reset"), strings.Contains(n, "rst"), strings.Contains(n, "cut"):
		return "✂", "cut"
	}
	return "⚡", "fault"
}

func sequenceSVG(d TraceData, id string, words []string) string {
	var b strings.Builder
	if len(d.Steps) == 0 {
		return `<p class="muted">No traffic on the spec's links.</p>`
	}
	steps, skipped := focus(d.Steps, words)
	focused := len(steps) < len(d.Steps)
	names, broker := lanes(steps)
	index := map[string]int{}
	widest := 0
	for _, s := range steps {
		if n := len([]rune(clip(s.Label(), seqLabel))); n > widest {
			widest = n
		}
	}
	for i, n := range names {
		index[n] = i
	}
	spacing := float64(widest)*seqCharW + 60
	spacing = max(min(spacing, 470), 210)
	x := func(lane int) float64 { return seqTimeCol + 70 + float64(lane)*spacing }
	width := x(len(names)-1) + 90

	// Rows: one per step, plus one per idle gap.
	type row struct {
		y    float64
		gap  float64 // idle seconds before this step (0: none)
		skip int     // steps left out before this one
		step Step
	}
	var rows []row
	y := float64(seqTop) - 4
	last := steps[0].T
	for i, s := range steps {
		r := row{step: s, skip: skipped[i]}
		if r.skip > 0 {
			y += seqGap
		} else if s.T-last >= seqIdle {
			r.gap = s.T - last
			y += seqGap
		}
		last = s.T
		y += seqRow
		r.y = y
		rows = append(rows, r)
	}
	silence := 0.0
	if d.End-last >= seqIdle && !focused {
		silence = d.End - last
		y += seqRow + 4
	}
	height := y + 30

	fmt.Fprintf(&b, `<svg class="seq" xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="packet sequence diagram">`,
		width, height, width, height)
	b.WriteString(`<defs>` +
		`<marker id="ah-` + id + `" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker>` +
		`<pattern id="hatch-` + id + `" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#d9480f" stroke-width="2" stroke-opacity=".35"/></pattern>` +
		`</defs>`)

	// Lifelines and their headers.
	for i, n := range names {
		cls := "lane"
		if i == broker {
			cls = "lane broker"
		}
		lx := x(i)
		fmt.Fprintf(&b, `<line class="life" x1="%.1f" y1="%d" x2="%.1f" y2="%.0f"/>`, lx, seqTop-6, lx, height-10)
		w := float64(len([]rune(n)))*7.4 + 22
		fmt.Fprintf(&b, `<g class="%s"><rect x="%.1f" y="8" width="%.1f" height="26" rx="6"/><text x="%.1f" y="25" text-anchor="middle">%s</text></g>`,
			cls, lx-w/2, w, lx, esc(n))
	}
	fmt.Fprintf(&b, `<text class="axis" x="8" y="25">time</text>`)

	for _, r := range rows {
		s := r.step
		if r.skip > 0 {
			fmt.Fprintf(&b, `<text class="idle" x="8" y="%.1f">⋯ %d steps not shown</text>`, r.y-seqRow+2, r.skip)
		} else if r.gap > 0 {
			fmt.Fprintf(&b, `<text class="idle" x="8" y="%.1f">⋮ %.1f s idle</text>`, r.y-seqRow+2, r.gap)
		}
		fmt.Fprintf(&b, `<text class="t" x="8" y="%.1f">%.3fs</text>`, r.y+4, s.T)
		c, ok := index[s.Link]
		if !ok {
			continue
		}
		cx, bx := x(c), x(broker)
		from, to := cx, bx
		if s.FromBroker {
			from, to = bx, cx
		}
		title := fmt.Sprintf("%.3fs  %s conn %d  %s", s.T, s.Link, s.Conn, stepText(s))
		hot := isHot(s, words)
		if hot {
			title += "  (named in the failure)"
		}
		switch s.Kind {
		case StepPassed, StepPartial, StepDropped, StepUndecodable:
			cls := arrowClass(s)
			if hot {
				cls += " hot"
			}
			end := to
			switch s.Kind {
			case StepPartial:
				end = from + (to-from)*0.5
			case StepDropped:
				end = from + (to-from)*0.72
			}
			fmt.Fprintf(&b, `<g class="%s"><title>%s</title>`, cls, esc(title))
			marker := ` marker-end="url(#ah-` + id + `)"`
			if s.Kind != StepPassed {
				marker = ""
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"%s/>`, from, r.y, end, r.y, marker)
			label := clip(s.Label(), seqLabel)
			mid := (from + to) / 2
			mark := ""
			switch s.Kind {
			case StepPartial:
				mark = "✂"
				label = clip(fmt.Sprintf("%s — cut: %d of %d B passed", s.Label(), s.Bytes, s.Size), seqLabel+22)
			case StepDropped:
				mark = "×"
				what := s.Label()
				if what == "" {
					what = fmt.Sprintf("%d B", s.Bytes)
				}
				label = clip("vanished: "+what, seqLabel+10)
			case StepUndecodable:
				label = fmt.Sprintf("%d B not MQTT framing", s.Bytes)
			}
			fmt.Fprintf(&b, `<text class="lbl" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, mid, r.y-4, esc(label))
			if s.Kind == StepPartial { // where the link was cut
				fmt.Fprintf(&b, `<line class="cutline" style="stroke: #cf222e; stroke-width: 2.5" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, end, r.y-8, end, r.y+8)
			}
			if mark != "" { // drawn last: above the label
				mx := end
				if s.Kind == StepPartial {
					mx += 12 * sign(to-from)
				}
				fmt.Fprintf(&b, `<text class="mark" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, mx, r.y+5, mark)
			}
			b.WriteString(`</g>`)
		case StepFault:
			glyph, cls := faultGlyph(s.Note)
			lo, hi := min(cx, bx), max(cx, bx)
			text := glyph + " FAULT " + clip(s.Note, seqLabel+10)
			if tw := float64(len([]rune(text)))*seqCharW + 24; hi-lo+20 < tw {
				lo, hi = (lo+hi)/2-tw/2+10, (lo+hi)/2+tw/2-10
			}
			fill := ""
			if cls == "blackhole" {
				fill = ` fill="url(#hatch-` + id + `)"`
			}
			fmt.Fprintf(&b, `<g class="fault %s"><title>%s</title><rect x="%.1f" y="%.1f" width="%.1f" height="%d" rx="3"%s/>`,
				cls, esc(title), lo-10, r.y-seqRow/2+2, hi-lo+20, seqRow-4, fill)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text></g>`, (lo+hi)/2, r.y+4, esc(text))
		default: // event
			lo, hi := min(cx, bx), max(cx, bx)
			fmt.Fprintf(&b, `<g class="event"><title>%s</title><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, esc(title), lo, r.y, hi, r.y)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text></g>`, (lo+hi)/2, r.y-4, esc(clip(eventText(s), seqLabel+10)))
		}
	}
	if silence > 0 {
		fmt.Fprintf(&b, `<text class="silence" x="8" y="%.1f">⋮ %.1f s with nothing more on these links, until the trace was taken at %.3fs</text>`,
			y-4, silence, d.End)
	}
	switch {
	case focused:
		fmt.Fprintf(&b, `<text class="idle" x="8" y="%.1f">showing the %d of %d steps around the messages the failure names (%s); the text trace has more</text>`,
			height-8, len(steps), len(d.Steps)+d.Omitted+d.Elided, esc(clip(strings.Join(words, ", "), 60)))
	case d.Omitted > 0 || d.Elided > 0:
		fmt.Fprintf(&b, `<text class="idle" x="8" y="%.1f">showing %d steps; %d more left out (the first and last steps and those around faults are kept)</text>`,
			height-8, len(d.Steps), d.Omitted+d.Elided)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

func eventText(s Step) string {
	if s.Conn > 0 {
		return fmt.Sprintf("conn %d: %s", s.Conn, s.Note)
	}
	return s.Note
}

// stepText is a step's full description, as in the text trace.
func stepText(s Step) string {
	dir := "client → broker"
	if s.FromBroker {
		dir = "broker → client"
	}
	switch s.Kind {
	case StepPassed:
		return fmt.Sprintf("%s  %s (%d B)", dir, s.Text, s.Size)
	case StepPartial:
		return fmt.Sprintf("%s  %s  [CUT: %d of %d bytes passed]", dir, s.Text, s.Bytes, s.Size)
	case StepDropped:
		if s.Packet == "" {
			return fmt.Sprintf("%s  [%d bytes vanished: %s]", dir, s.Bytes, s.Note)
		}
		return fmt.Sprintf("%s  [vanished: %s] %s", dir, s.Note, s.Text)
	case StepFault:
		return "FAULT " + s.Note
	case StepUndecodable:
		return fmt.Sprintf("%s  [%d bytes not MQTT framing: %s]", dir, s.Bytes, s.Note)
	}
	return eventText(s)
}

// arrowClass styles an arrow by what it carries: PUBLISH by QoS,
// acknowledgements thinner, the rest neutral.
func arrowClass(s Step) string {
	cls := "pkt " + s.Kind
	if strings.Contains(s.Text, " MALFORMED: ") {
		cls += " malformed" // the packet breaks the grammar: drawn red
	}
	switch s.Packet {
	case "PUBLISH":
		cls += fmt.Sprintf(" pub q%d", s.QoS)
	case "PUBACK", "PUBREC", "PUBREL", "PUBCOMP":
		cls += " ack"
	case "CONNECT", "CONNACK", "DISCONNECT":
		cls += " conn"
	case "PINGREQ", "PINGRESP":
		cls += " ping"
	}
	return cls
}

// payloadKey is a step's payload preview without its size note.
func payloadKey(s Step) string {
	p, _, _ := strings.Cut(s.Payload, "…")
	return p
}

// isHot says whether a step carries one of the messages a failure names.
func isHot(s Step, words []string) bool {
	if s.Packet != "PUBLISH" || s.Payload == "" {
		return false
	}
	return slices.Contains(words, payloadKey(s))
}

// Named returns the messages a failure message names: the words of its
// first lines, and its quoted words, that are the payload of a packet in
// the trace (the specs' payloads are message ids).
func Named(message string, d TraceData) []string {
	payloads := map[string]bool{}
	for _, s := range d.Steps {
		if s.Packet == "PUBLISH" && s.Payload != "" {
			payloads[payloadKey(s)] = true
		}
	}
	var words []string
	seen := map[string]bool{}
	add := func(w string) {
		if payloads[w] && !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	// The verdict's own lines: up to the first indented one (an excerpt
	// of the trace, or a matcher's detail).
	addWords := func(l string) {
		for _, w := range strings.FieldsFunc(l, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '.' || r == '=' || unicode.IsLetter(r) || unicode.IsDigit(r))
		}) {
			add(strings.TrimRight(w, "."))
		}
	}
	lines := strings.Split(message, "\n")
	for i, l := range lines[:min(3, len(lines))] {
		if i > 0 && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) {
			break
		}
		addWords(l)
	}
	// Then the first violations the history checker lists
	// ("out-of-order [MQTT-4.6.0-6]: device first received setpoint=15 ...").
	for i, n := 0, 0; len(words) == 0 && i < len(lines) && n < 3; i++ {
		if strings.Contains(lines[i], "[MQTT-") {
			addWords(lines[i])
			n++
		}
	}
	if len(words) == 0 {
		for _, m := range quotedWord.FindAllStringSubmatch(message, -1) {
			add(m[1])
		}
	}
	return words
}

var quotedWord = regexp.MustCompile(`"([^"\s/]{1,64})"`)

// focus keeps, of a long trace where a failure names messages, the steps
// around those messages (and every fault among them); skipped[i] says how
// many steps were left out before kept step i.
func focus(steps []Step, words []string) (kept []Step, skipped []int) {
	const long, around, most = 150, 8, 300
	hot := false
	for _, s := range steps {
		hot = hot || isHot(s, words)
	}
	if len(steps) <= long || !hot {
		return steps, make([]int, len(steps))
	}
	keep := make([]bool, len(steps))
	for i, s := range steps {
		if isHot(s, words) {
			for j := max(i-around, 0); j <= min(i+around, len(steps)-1); j++ {
				keep[j] = true
			}
		}
	}
	gap := 0
	for i, s := range steps {
		if !keep[i] || len(kept) == most {
			gap++
			continue
		}
		kept = append(kept, s)
		skipped = append(skipped, gap)
		gap = 0
	}
	return kept, skipped
}

// SequenceCSS styles the diagrams; colours are CSS variables of the page.
const SequenceCSS = `
svg.seq { font: 11px ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; background: var(--panel); }
svg.seq .life { stroke: var(--line); stroke-width: 1.2; stroke-dasharray: 3 3; }
svg.seq .lane rect { fill: var(--chip); stroke: var(--line); }
svg.seq .lane.broker rect { fill: var(--ink); stroke: var(--ink); }
svg.seq .lane text { font: 600 12px system-ui, sans-serif; fill: var(--ink); }
svg.seq .lane.broker text { fill: var(--panel); }
svg.seq .axis, svg.seq .t { fill: var(--muted); }
svg.seq .idle { fill: var(--muted); font-style: italic; }
svg.seq .silence { fill: #953800; font-style: italic; font-weight: 600; }
svg.seq .lbl { fill: var(--ink); paint-order: stroke; stroke: var(--panel); stroke-width: 4px; stroke-linejoin: round; }
svg.seq .pkt line { stroke: #57606a; stroke-width: 1.4; }
svg.seq .pkt.conn line { stroke: #1f6feb; }
svg.seq .pkt.ping line { stroke: #8c959f; }
svg.seq .pkt.ack line { stroke-width: 1; }
svg.seq .pkt.pub.q0 line { stroke: #0969da; stroke-width: 1.8; }
svg.seq .pkt.pub.q1 line { stroke: #1a7f37; stroke-width: 2.2; }
svg.seq .pkt.pub.q2 line { stroke: #8250df; stroke-width: 2.6; }
svg.seq .pkt.partial line { stroke: #cf222e; }
svg.seq .pkt.dropped line { stroke: #8c959f; stroke-dasharray: 5 4; }
svg.seq .pkt.dropped .lbl { fill: var(--muted); }
svg.seq .pkt.undecodable line { stroke: #d9480f; stroke-dasharray: 2 2; }
svg.seq .pkt.malformed line { stroke: #cf222e; stroke-width: 2.4; stroke-dasharray: 7 3; }
svg.seq .pkt.malformed .lbl { fill: #cf222e; font-weight: 700; }
svg.seq .mark { fill: #cf222e; font-size: 16px; font-weight: 700; paint-order: stroke; stroke: var(--panel); stroke-width: 3px; }
svg.seq .pkt.hot line { stroke-width: 3.2; }
svg.seq .pkt.hot .lbl { fill: #953800; font-weight: 700; }
svg.seq .fault rect { stroke: #cf222e; stroke-width: 1; }
svg.seq .fault:not(.blackhole) rect { fill: #ffebe9; }
svg.seq .fault text { fill: #a40e26; font-weight: 700; }
svg.seq .event line { stroke: var(--line); stroke-dasharray: 1 3; }
svg.seq .event text { fill: var(--muted); font-style: italic; paint-order: stroke; stroke: var(--panel); stroke-width: 4px; }
svg.seq g:hover .lbl { font-weight: 700; }
`
