package reports

import (
	"fmt"
	"html/template"

	mqttspec "github.com/faultline-mqtt/faultline/fixtures/spec"
)

// compareView is what the HTML comparison shows.
type compareView struct {
	Comparison
	Cards      []brokerCard
	AreaRows   []areaView
	Rows       []rowView
	Diffs      []diffView
	Keepalive  template.HTML
	Differing  int
	WithTraces int
}

type brokerCard struct {
	BrokerColumn
	Segs []Seg
}

type areaView struct {
	Area  string
	Specs int
	Cells []areaCell
}

type areaCell struct {
	Ran    bool
	Pass   int
	Total  int
	Line   string
	Segs   []Seg
	Failed int
}

type rowView struct {
	SpecRow
	Anchor string
	Differ bool
	Cells  []cellView
}

type cellView struct {
	Cell
	Class  string
	Glyph  string
	Short  string
	Anchor string // the diagram of this cell, "" if none
}

type diffView struct {
	Anchor     string
	Name       string
	Area       string
	Statements []StatementLine
	Cells      []diffCell
}

type diffCell struct {
	Broker  string
	Verdict Verdict
	Class   string
	Glyph   string
	Message string
	Anchor  string
	Diagram template.HTML
	Steps   int
}

// view lays the comparison out for the page.
func (c Comparison) view() compareView {
	v := compareView{Comparison: c, Keepalive: KeepaliveChart(c.Keepalives)}
	for _, b := range c.Brokers {
		v.Cards = append(v.Cards, brokerCard{BrokerColumn: b, Segs: segments(b.Counts)})
	}
	for _, a := range c.Areas {
		av := areaView{Area: a.Area, Specs: a.Specs}
		for i, n := range a.Counts {
			total := 0
			for _, x := range n {
				total += x
			}
			av.Cells = append(av.Cells, areaCell{Ran: c.Brokers[i].Ran, Pass: n[Pass], Total: total, Line: n.Line(),
				Segs: segments(n), Failed: n[Fail]})
		}
		v.AreaRows = append(v.AreaRows, av)
	}
	for i, s := range c.Specs {
		r := rowView{SpecRow: s, Anchor: fmt.Sprintf("r%d", i+1)}
		// Rows differ where two brokers that ran the spec concluded
		// differently; a spec one of them skipped or lacks says nothing.
		first := Verdict("-")
		for _, cell := range s.Cells {
			if cell.Verdict == "" || cell.Verdict == Skipped {
				continue
			}
			if first == "-" {
				first = cell.Verdict
			} else if cell.Verdict != first {
				r.Differ = true
			}
		}
		var d diffView
		for j, cell := range s.Cells {
			cv := cellView{Cell: cell, Class: verdictClass(cell.Verdict), Glyph: verdictGlyph(cell.Verdict), Short: cell.Short()}
			if cell.Trace != nil {
				cv.Anchor = fmt.Sprintf("%s-%d", r.Anchor, j+1)
				d.Cells = append(d.Cells, diffCell{Broker: c.Brokers[j].title(), Verdict: cell.Verdict, Class: cv.Class, Glyph: cv.Glyph,
					Message: cell.Message, Anchor: cv.Anchor, Diagram: Sequence(*cell.Trace, cv.Anchor, Named(cell.Message, *cell.Trace)...), Steps: len(cell.Trace.Steps)})
			}
			r.Cells = append(r.Cells, cv)
		}
		if r.Differ {
			v.Differing++
			if len(d.Cells) > 0 {
				d.Anchor, d.Name, d.Area = r.Anchor, s.Name, s.Area
				for _, ref := range s.Statements {
					line := StatementLine{Ref: ref}
					if st, ok := mqttspec.LookupRef(ref); ok {
						line.Text = st.Text
					}
					d.Statements = append(d.Statements, line)
				}
				v.Diffs = append(v.Diffs, d)
				v.WithTraces++
			}
		}
		v.Rows = append(v.Rows, r)
	}
	return v
}

// compareJS toggles the spec grid between every row and the rows whose
// verdicts differ.
const compareJS = `
(function () {
  var box = document.getElementById('only');
  if (!box) return;
  function apply() {
    document.querySelectorAll('tr[data-same]').forEach(function (r) { r.style.display = box.checked ? 'none' : ''; });
  }
  box.addEventListener('change', apply);
  apply();
})();
`

var comparePage = template.Must(template.New("compare").Funcs(funcs).Funcs(template.FuncMap{
	"cjs": func() template.JS { return template.JS(compareJS) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="` + csp + `">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Faultline: MQTT brokers side by side</title>
<style>{{css}}
table.grid { border-collapse: collapse; background: var(--panel); border: 1px solid var(--line); }
table.grid th, table.grid td { border-bottom: 1px solid var(--line); padding: 5px 10px; text-align: left; vertical-align: top; }
table.grid th { font-size: 12px; color: var(--muted); background: var(--bg); }
table.grid td.v { text-align: center; white-space: nowrap; font-weight: 600; }
table.grid td.v a { color: inherit; }
td.v.pass { color: var(--pass); } td.v.fail { color: var(--fail); background: var(--fail-bg); } td.v.dev { color: var(--dev); background: var(--dev-bg); }
td.v.ns { color: var(--ns); } td.v.skip, td.v.none { color: var(--skip); }
table.grid .ids { color: var(--muted); font-size: 12px; }
table.grid td.ab { min-width: 150px; } table.grid td.ab .bar { margin: 4px 0 2px; }
.diffcell { margin: 10px 0 4px; }
</style></head><body>
<header class="top">
<h1><span class="brand">Faultline ·</span> MQTT brokers side by side</h1>
<div class="meta"><span>made <b>{{utc .Made}}</b></span>{{if gt .Total 0}}<span>the whole comparison took <b>{{seconds .Total}}</b></span>{{end}}
<span><b>{{len .Brokers}}</b> brokers</span><span><b>{{len .Specs}}</b> specs</span><span><b>{{.Differing}}</b> specs where the brokers differ</span></div>
<p class="muted">Verdicts: ✓ pass, ✗ FAIL (a violation), ⚠ deviation (a known deviation the broker's profile declares, with evidence),
∅ n/s (not supported: a legal choice the broker made, or a feature it lacks), – skipped or not in that run. Hover a verdict for its message; a linked verdict has its packet sequence below.</p>
</header>
<main>
<h2>Scorecard per broker</h2>
<div class="cards">
{{range .Cards}}<div class="card"><div class="head"><h3>{{.Broker}}{{if .Version}} <span class="muted">{{.Version}}</span>{{end}}</h3><span class="score">{{if .Ran}}{{count .Counts "pass"}} pass{{end}}</span></div>
{{if .Ran}}<div class="bar">{{range .Segs}}<span class="{{.Class}}" style="width: {{pct .Pct}}" title="{{.N}} {{.Verdict}}"></span>{{end}}</div>
<div class="small">{{.Counts.Line}}</div>
<div class="small">suite {{seconds .Suite}}{{if gt .Wall 0}} · with start and stop {{seconds .Wall}}{{end}}</div>
{{if .Setup}}<div class="small bad">suite set-up failed: {{index .Setup 0}}</div>{{end}}
{{else}}<div class="small bad">did not run{{if .Missing}}: {{.Missing}}{{end}}</div>{{end}}</div>
{{end}}</div>

<h2>By area</h2>
<table class="grid">
<tr><th>area</th><th>specs</th>{{range .Brokers}}<th>{{.Broker}}{{if .Version}} {{.Version}}{{end}}</th>{{end}}</tr>
{{range .AreaRows}}<tr><td>{{.Area}}</td><td>{{.Specs}}</td>{{range .Cells}}<td class="ab">{{if .Ran}}<div class="bar">{{range .Segs}}<span class="{{.Class}}" style="width: {{pct .Pct}}" title="{{.N}} {{.Verdict}}"></span>{{end}}</div><span class="muted">{{.Line}}</span>{{else}}–{{end}}</td>{{end}}</tr>
{{end}}</table>

{{if .Keepalive}}<h2>Keepalive: when each broker closed a silent client</h2>
<div class="chartbox"><p>MQTT-3.1.2-24: shaded, the keepalive … 1.5 × keepalive window; each dot is one silent client.</p>{{.Keepalive}}</div>{{end}}

<h2 id="grid">By spec</h2>
<div class="tools"><label><input type="checkbox" id="only"> only the {{plural .Differing "spec"}} where the brokers differ</label></div>
<table class="grid">
<tr><th>area</th><th>spec</th>{{range .Brokers}}<th>{{.Broker}}{{if .Version}} {{.Version}}{{end}}</th>{{end}}</tr>
{{range .Rows}}<tr id="{{.Anchor}}"{{if not .Differ}} data-same="1"{{end}}><td class="area">{{.Area}}</td><td>{{.Name}}{{if .Statements}} <span class="ids">{{join .Statements " "}}</span>{{end}}</td>{{range .Cells}}<td class="v {{.Class}}"{{if .Message}} title="{{.Message}}"{{end}}>{{if .Anchor}}<a href="#{{.Anchor}}">{{.Glyph}} {{.Short}}</a>{{else}}{{.Glyph}} {{.Short}}{{end}}</td>{{end}}</tr>
{{end}}</table>

{{if .Diffs}}<h2 id="diffs">Where the brokers differ: the wire behind each difference</h2>
{{range .Diffs}}<section class="problem" id="d-{{.Anchor}}"><div class="ph"><h3>{{.Name}}</h3><div class="where">{{.Area}} · <a href="#{{.Anchor}}">row in the grid</a></div></div>
<div class="body">{{if .Statements}}<ul class="stmts">{{range .Statements}}<li><code>{{.Ref}}</code>{{.Text}}</li>{{end}}</ul>{{end}}
{{range $i, $c := .Cells}}<div class="diffcell" id="{{.Anchor}}"><span class="badge {{.Class}}">{{.Glyph}} {{.Verdict}}</span><b>{{.Broker}}</b>
<pre class="msg">{{.Message}}</pre>
<details{{if eq $i 0}} open{{end}}><summary>packet sequence on {{.Broker}} ({{.Steps}} steps)</summary><div class="diagram">{{.Diagram}}</div></details></div>
{{end}}</div></section>
{{end}}{{end}}
</main>
<footer>Faultline broker comparison · one file, no network.</footer>
<script>{{cjs}}</script>
</body></html>
`))
