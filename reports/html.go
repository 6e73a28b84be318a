package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	mqttspec "github.com/faultline-mqtt/faultline/fixtures/spec"
)

// StoryEntry names the report entry in which a scenario tells what
// happened (suites/framework/story.go).
const StoryEntry = "what happened"

// RunInfo is what the HTML report says about the target beyond the Ginkgo
// report.
type RunInfo struct {
	Broker  string // the target's name
	Version string // "" if unknown
	URL     string // credentials are removed before it is shown
	Defect  string // the faulty broker's defect, in self-tests
}

// Redact removes credentials from a broker URL: the user info, and the
// values of query parameters that look like secrets.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			if j := strings.Index(raw, "://"); j >= 0 && j < i {
				return raw[:j+3] + raw[i+1:]
			}
		}
		return raw
	}
	u.User = nil
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			l := strings.ToLower(k)
			if strings.Contains(l, "pass") || strings.Contains(l, "token") || strings.Contains(l, "secret") || strings.Contains(l, "key") {
				q.Set(k, "redacted")
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Area names the part of the suite a spec belongs to: the first label of
// its top-level container ("qos", "handshakes", "will"...), marked "5.0"
// for MQTT 5.0 specs.
func Area(s types.SpecReport) string {
	area := "other"
	if len(s.ContainerHierarchyLabels) > 0 && len(s.ContainerHierarchyLabels[0]) > 0 {
		area = s.ContainerHierarchyLabels[0][0]
	} else if len(s.ContainerHierarchyTexts) > 0 {
		area = s.ContainerHierarchyTexts[0]
	}
	if slices.Contains(s.Labels(), "v5") {
		area = "5.0 " + area
	}
	return area
}

// verdictClass is the CSS class of a verdict.
func verdictClass(v Verdict) string {
	switch v {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	case Deviation:
		return "dev"
	case Unsupported:
		return "ns"
	case Skipped:
		return "skip"
	}
	return "none"
}

// verdictGlyph marks a verdict in a way that reads without colour.
func verdictGlyph(v Verdict) string {
	switch v {
	case Pass:
		return "✓"
	case Fail:
		return "✗"
	case Deviation:
		return "⚠"
	case Unsupported:
		return "∅"
	case Skipped:
		return "–"
	}
	return "·"
}

// Seg is one part of a stacked bar.
type Seg struct {
	Verdict Verdict
	Class   string
	N       int
	Pct     float64
}

func segments(n Counts) []Seg {
	total := 0
	for _, v := range verdictOrder {
		total += n[v]
	}
	var out []Seg
	for _, v := range verdictOrder {
		if n[v] > 0 {
			out = append(out, Seg{Verdict: v, Class: verdictClass(v), N: n[v], Pct: 100 * float64(n[v]) / float64(total)})
		}
	}
	return out
}

// AreaCard is one area's scorecard.
type AreaCard struct {
	Area   string
	Counts Counts
	Total  int
	Segs   []Seg
}

// StatementLine is a statement id with our paraphrase.
type StatementLine struct {
	Ref, Text string
}

// SpecCard is one spec in the report: every spec has one in the list;
// failures and deviations get their evidence drawn.
type SpecCard struct {
	Anchor     string
	Name       string
	Area       string
	Verdict    Verdict
	Class      string
	Glyph      string
	Statements []StatementLine
	Message    string // the verdict text
	Where      string
	Duration   time.Duration
	Attempts   int
	Diagram    template.HTML // "" when the spec has no structured trace
	Trace      string        // the text trace
	Story      string        // a scenario's "what happened"
	Steps      int
}

// CoverageCell is one normative statement on the coverage map.
type CoverageCell struct {
	Ref, Class, Title string
}

// CoverageGroup is the statements of one chapter.
type CoverageGroup struct {
	Chapter string
	Cells   []CoverageCell
}

// CoverageMap is one protocol version's statements coloured by verdict.
type CoverageMap struct {
	Version string
	Groups  []CoverageGroup
	Legend  []LegendItem
}

// LegendItem counts one colour of a coverage map.
type LegendItem struct {
	Class, Name string
	N           int
}

// Page is everything the HTML report shows.
type Page struct {
	Title     string
	Info      RunInfo
	URL       string
	Started   time.Time
	Duration  time.Duration
	Seed      int64
	ChaosSeed uint64
	HasChaos  bool
	Procs     int
	Counts    Counts
	Total     int
	Segs      []Seg
	Areas     []AreaCard
	Coverage  []CoverageMap
	Problems  []SpecCard // failures, then known deviations
	Specs     []SpecCard // every spec, by area
	Keepalive template.HTML
	Chaos     template.HTML
	WireCost  template.HTML
	Wire      WireCost
	Setup     []string
	Traced    int      // passing specs with a diagram (FAULTLINE_TRACE=1)
	Idle      []string // areas whose every spec was skipped (filtered out)
}

// BuildPage reads a run for the HTML report.
func BuildPage(report types.Report, info RunInfo) Page {
	o := Judge(report, info.Broker)
	p := Page{Title: "Faultline · " + info.Broker, Info: info, URL: Redact(info.URL), Started: report.StartTime,
		Duration: report.RunTime, Seed: report.SuiteConfig.RandomSeed, Procs: report.SuiteConfig.ParallelTotal,
		Counts: Counts{}, Setup: o.Setup}
	var its []types.SpecReport
	for _, s := range report.SpecReports {
		if s.LeafNodeType == types.NodeTypeIt {
			its = append(its, s)
		}
	}
	byArea := map[string]*AreaCard{}
	var areaOrder []string
	stmtVerdicts := map[string][]Verdict{}
	stmtSpecs := map[string][]string{}
	for i, r := range o.Results {
		s := its[i]
		c := SpecCard{Anchor: fmt.Sprintf("s%d", i+1), Name: r.Name, Area: Area(s), Verdict: r.Verdict,
			Class: verdictClass(r.Verdict), Glyph: verdictGlyph(r.Verdict), Message: r.Message, Where: r.Where,
			Duration: r.Duration, Attempts: s.NumAttempts}
		if strings.HasPrefix(c.Where, ":") {
			c.Where = "" // no location
		}
		if r.Verdict == Fail {
			c.Message = strings.TrimSpace(s.Failure.Message)
			if c.Message == "" {
				c.Message = r.Message
			}
		}
		for _, ref := range r.Statements {
			line := StatementLine{Ref: ref}
			if st, ok := mqttspec.LookupRef(ref); ok {
				line.Text = st.Text
			}
			c.Statements = append(c.Statements, line)
			stmtVerdicts[ref] = append(stmtVerdicts[ref], r.Verdict)
			stmtSpecs[ref] = append(stmtSpecs[ref], r.Name)
		}
		c.Trace = entry(s, TraceEntry)
		c.Story = entry(s, StoryEntry)
		if d, ok := TraceDataOf(s); ok {
			c.Diagram, c.Steps = Sequence(d, c.Anchor, Named(c.Message, d)...), len(d.Steps)
			if r.Verdict == Pass {
				p.Traced++
			}
		}
		p.Specs = append(p.Specs, c)
		p.Counts[r.Verdict]++
		p.Total++
		a, ok := byArea[c.Area]
		if !ok {
			a = &AreaCard{Area: c.Area, Counts: Counts{}}
			byArea[c.Area] = a
			areaOrder = append(areaOrder, c.Area)
		}
		a.Counts[r.Verdict]++
		a.Total++
	}
	p.Segs = segments(p.Counts)
	slices.SortStableFunc(areaOrder, func(a, b string) int { return strings.Compare(areaKey(a), areaKey(b)) })
	for _, name := range areaOrder {
		a := byArea[name]
		if a.Counts[Skipped] == a.Total {
			p.Idle = append(p.Idle, name)
			continue
		}
		a.Segs = segments(a.Counts)
		p.Areas = append(p.Areas, *a)
	}
	slices.SortStableFunc(p.Specs, func(a, b SpecCard) int {
		if a.Area != b.Area {
			return strings.Compare(areaKey(a.Area), areaKey(b.Area))
		}
		return strings.Compare(a.Name, b.Name)
	})
	for _, v := range []Verdict{Fail, Deviation} {
		for _, c := range p.Specs {
			if c.Verdict == v {
				p.Problems = append(p.Problems, c)
			}
		}
	}
	p.Coverage = []CoverageMap{
		coverage(mqttspec.V311, mqttspec.All(), stmtVerdicts, stmtSpecs),
		coverage(mqttspec.V5, mqttspec.All5(), stmtVerdicts, stmtSpecs),
	}
	p.Keepalive = KeepaliveChart(KeepalivesOf(report))
	if w, ok := WireCostOf(report); ok {
		p.WireCost, p.Wire = WireCostChart(w), w
	}
	if c, ok := ChaosTimelineOf(report); ok {
		p.Chaos, p.ChaosSeed, p.HasChaos = ChaosChart(c), c.Seed, true
	}
	return p
}

// areaKey sorts the 3.1.1 areas before the 5.0 ones.
func areaKey(a string) string {
	if strings.HasPrefix(a, "5.0 ") {
		return "~" + a
	}
	return a
}

// coverage colours every statement of one version by what the run
// concluded about it: the worst verdict of the specs that check it.
func coverage(version string, all []mqttspec.Statement, verdicts map[string][]Verdict, specs map[string][]string) CoverageMap {
	m := CoverageMap{Version: version}
	counts := map[string]int{}
	index := map[string]int{}
	for _, st := range all {
		ref := st.Ref()
		cls, word := "nc", "not covered"
		if !st.Checkable {
			cls, word = "na", "not checkable over the network"
		}
		vs := verdicts[ref]
		for _, v := range []Verdict{Fail, Deviation, Pass, Unsupported, Skipped} {
			if slices.Contains(vs, v) {
				cls, word = verdictClass(v), string(v)
				break
			}
		}
		counts[cls]++
		title := fmt.Sprintf("%s · %s\n%s", st.ID, word, st.Text)
		if !st.Checkable && st.WhyNot != "" {
			title += "\n(" + st.WhyNot + ")"
		}
		if names := specs[ref]; len(names) > 0 {
			if len(names) > 4 {
				names = append(names[:4:4], fmt.Sprintf("… and %d more", len(names)-4))
			}
			title += "\nchecked by: " + strings.Join(names, "; ")
		}
		chapter, _, _ := strings.Cut(st.Section, ".")
		i, ok := index[chapter]
		if !ok {
			i = len(m.Groups)
			index[chapter] = i
			m.Groups = append(m.Groups, CoverageGroup{Chapter: chapter})
		}
		m.Groups[i].Cells = append(m.Groups[i].Cells, CoverageCell{Ref: st.ID, Class: cls, Title: title})
	}
	for _, l := range []LegendItem{{"pass", "pass", 0}, {"fail", "FAIL", 0}, {"dev", "known deviation", 0},
		{"ns", "not supported", 0}, {"skip", "skipped", 0}, {"nc", "not covered", 0}, {"na", "not checkable", 0}} {
		l.N = counts[l.Class]
		m.Legend = append(m.Legend, l)
	}
	return m
}

// HTML renders the page.
func (p Page) HTML() (string, error) {
	var b bytes.Buffer
	err := runPage.Execute(&b, p)
	return b.String(), err
}

// WriteHTML writes the run's self-contained HTML report to path.
func WriteHTML(report types.Report, path string, info RunInfo) error {
	html, err := BuildPage(report, info).HTML()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(html), 0o644)
}

func humanDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
}

var funcs = template.FuncMap{
	"dur":     humanDuration,
	"utc":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"count":   func(n Counts, v Verdict) int { return n[v] },
	"class":   verdictClass,
	"glyph":   verdictGlyph,
	"short":   func(v Verdict) string { return Cell{Verdict: v}.Short() },
	"pct":     func(f float64) string { return fmt.Sprintf("%.2f%%", f) },
	"join":    strings.Join,
	"seconds": seconds,
	"plural": func(n int, word string) string {
		if n == 1 {
			return "1 " + word
		}
		return fmt.Sprintf("%d %ss", n, word)
	},
	"css": func() template.CSS { return template.CSS(pageCSS + SequenceCSS + ChartCSS + WireCostCSS) },
	"js":  func() template.JS { return template.JS(pageJS) },
	"verdicts": func() []Verdict {
		return verdictOrder
	},
	"label": func(v Verdict) string {
		switch v {
		case Pass:
			return "passed"
		case Fail:
			return "failed"
		case Deviation:
			return "known deviations"
		case Unsupported:
			return "not supported"
		}
		return "skipped"
	},
}

// csp forbids the page any fetch: everything it needs is inline.
const csp = `default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:`

const pageCSS = `
:root { --bg: #f6f8fa; --panel: #ffffff; --ink: #1f2328; --muted: #656d76; --line: #d0d7de; --chip: #eaeef2;
  --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #cf222e; --fail-bg: #ffebe9; --dev: #9a6700; --dev-bg: #fff8c5;
  --ns: #0969da; --ns-bg: #ddf4ff; --skip: #8c959f; --skip-bg: #f6f8fa; --nc: #eaeef2; }
@media (prefers-color-scheme: dark) { :root { --bg: #0d1117; --panel: #161b22; --ink: #e6edf3; --muted: #8d96a0; --line: #30363d; --chip: #21262d;
  --pass-bg: #12361f; --fail-bg: #3c1618; --dev-bg: #3b2e06; --ns-bg: #0c2d48; --skip-bg: #161b22; --nc: #21262d; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
header.top { background: var(--panel); border-bottom: 1px solid var(--line); padding: 20px 32px 16px; }
main { padding: 8px 32px 48px; max-width: 1400px; }
h1 { font-size: 22px; margin: 0 0 2px; font-weight: 650; }
h1 .brand { color: var(--muted); font-weight: 500; }
h2 { font-size: 17px; margin: 28px 0 10px; font-weight: 650; }
h3 { font-size: 15px; margin: 0; font-weight: 600; }
.meta { color: var(--muted); display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 6px 0 12px; }
.meta b { color: var(--ink); font-weight: 600; }
code, .mono { font: 12.5px ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.muted { color: var(--muted); }
.pills { display: flex; flex-wrap: wrap; gap: 8px; }
.pill { border: 1px solid var(--line); border-radius: 999px; padding: 3px 12px 3px 10px; background: var(--panel); font-weight: 600; cursor: pointer; user-select: none; }
.pill .n { font-variant-numeric: tabular-nums; margin-right: 4px; }
.pill.pass { color: var(--pass); } .pill.fail { color: var(--fail); } .pill.dev { color: var(--dev); } .pill.ns { color: var(--ns); } .pill.skip { color: var(--skip); }
.pill.on { box-shadow: inset 0 0 0 2px currentColor; }
.bar { display: flex; height: 8px; border-radius: 4px; overflow: hidden; background: var(--chip); }
.bar span { display: block; height: 100%; }
.bar .pass, .sq.pass { background: var(--pass); } .bar .fail, .sq.fail { background: var(--fail); } .bar .dev, .sq.dev { background: #d4a72c; }
.bar .ns, .sq.ns { background: #54aeff; } .bar .skip { background: var(--skip); } .sq.skip { background: #afb8c1; }
.sq.nc { background: var(--nc); box-shadow: inset 0 0 0 1px var(--line); }
.sq.na { background: repeating-linear-gradient(45deg, var(--nc), var(--nc) 2px, transparent 2px, transparent 4px); box-shadow: inset 0 0 0 1px var(--line); }
.top .bar { height: 10px; margin-top: 12px; max-width: 900px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 10px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
a.card { color: inherit; text-decoration: none; } a.card:hover { border-color: var(--muted); }
.card .head { display: flex; justify-content: space-between; align-items: baseline; margin-bottom: 6px; }
.card .score { font-variant-numeric: tabular-nums; color: var(--muted); font-size: 12.5px; }
.card .bad { color: var(--fail); font-weight: 600; }
.card .small { font-size: 12px; color: var(--muted); margin-top: 5px; }
.cov { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin-bottom: 10px; }
.cov .row { display: flex; gap: 10px; align-items: flex-start; margin: 3px 0; }
.cov .ch { width: 34px; flex: none; color: var(--muted); font-size: 12px; text-align: right; padding-top: 1px; }
.cov .cells { display: flex; flex-wrap: wrap; gap: 3px; }
.sq { display: inline-block; width: 13px; height: 13px; border-radius: 3px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12.5px; color: var(--muted); margin-top: 8px; }
.legend .sq { vertical-align: -2px; margin-right: 5px; }
.problem { background: var(--panel); border: 1px solid var(--line); border-left: 4px solid var(--fail); border-radius: 8px; margin-bottom: 14px; overflow: hidden; }
.problem.dev { border-left-color: #d4a72c; }
.problem > .ph { padding: 12px 16px 4px; }
.problem .body { padding: 0 16px 14px; }
.badge { display: inline-block; border-radius: 4px; padding: 0 7px; font-size: 12px; font-weight: 700; letter-spacing: .02em; margin-right: 8px; vertical-align: 1px; }
.badge.fail { background: var(--fail-bg); color: var(--fail); } .badge.dev { background: var(--dev-bg); color: var(--dev); }
.badge.pass { background: var(--pass-bg); color: var(--pass); } .badge.ns { background: var(--ns-bg); color: var(--ns); } .badge.skip { background: var(--chip); color: var(--skip); }
.stmts { margin: 8px 0; padding: 0; list-style: none; }
.stmts li { margin: 2px 0; }
.stmts code { background: var(--chip); border-radius: 4px; padding: 0 5px; margin-right: 6px; }
pre.msg { background: var(--fail-bg); border-radius: 6px; padding: 10px 12px; white-space: pre-wrap; max-height: 340px; overflow: auto; word-break: break-word; margin: 8px 0; font: 12.5px/1.45 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
.dev pre.msg { background: var(--dev-bg); }
pre.trace { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow: auto; max-height: 480px; font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
.diagram { border: 1px solid var(--line); border-radius: 6px; overflow: auto; max-height: 760px; margin: 8px 0; background: var(--panel); }
details > summary { cursor: pointer; color: var(--muted); margin: 6px 0; }
details > summary:hover { color: var(--ink); }
.where { font-size: 12px; color: var(--muted); }
.chartbox { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px; margin-bottom: 12px; overflow: auto; }
.chartbox p { margin: 0 0 8px; color: var(--muted); }
.tools { display: flex; gap: 10px; align-items: center; margin-bottom: 8px; flex-wrap: wrap; }
.tools input { font: inherit; padding: 4px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); color: var(--ink); min-width: 280px; }
table.specs { width: 100%; border-collapse: collapse; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
table.specs td, table.specs th { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
table.specs th { font-size: 12px; color: var(--muted); font-weight: 600; background: var(--bg); }
table.specs tr:last-child td { border-bottom: 0; }
table.specs td.v { white-space: nowrap; font-weight: 600; }
table.specs td.v.pass { color: var(--pass); } table.specs td.v.fail { color: var(--fail); } table.specs td.v.dev { color: var(--dev); }
table.specs td.v.ns { color: var(--ns); } table.specs td.v.skip { color: var(--skip); }
table.specs td.d { white-space: nowrap; color: var(--muted); font-variant-numeric: tabular-nums; text-align: right; }
table.specs .ids { color: var(--muted); font-size: 12px; }
table.specs .area { white-space: nowrap; color: var(--muted); }
:target { outline: 2px solid var(--ns); outline-offset: 2px; }
footer { color: var(--muted); font-size: 12px; padding: 0 32px 24px; }
@media print { details > *:not(summary) { display: block; } .tools { display: none; } .diagram { max-height: none; } }
`

// pageJS filters the spec list by verdict and text; the page reads fine
// without it.
const pageJS = `
(function () {
  var on = {};
  var q = document.getElementById('q');
  var rows = Array.prototype.slice.call(document.querySelectorAll('tr[data-v]'));
  function apply() {
    var any = Object.keys(on).some(function (k) { return on[k]; });
    var text = q ? q.value.toLowerCase() : '';
    var shown = 0;
    rows.forEach(function (r) {
      var ok = (!any || on[r.getAttribute('data-v')]) && (!text || r.textContent.toLowerCase().indexOf(text) >= 0);
      r.style.display = ok ? '' : 'none';
      if (ok) shown++;
    });
    var n = document.getElementById('shown');
    if (n) n.textContent = shown + ' of ' + rows.length + ' specs';
  }
  document.querySelectorAll('.pill[data-v]').forEach(function (p) {
    p.addEventListener('click', function () {
      var v = p.getAttribute('data-v');
      on[v] = !on[v];
      document.querySelectorAll('.pill[data-v="' + v + '"]').forEach(function (x) { x.classList.toggle('on', on[v]); });
      apply();
      var list = document.getElementById('specs');
      if (list && p.closest('header')) list.scrollIntoView();
    });
  });
  if (q) q.addEventListener('input', apply);
  apply();
})();
`

var runPage = template.Must(template.New("run").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="` + csp + `">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{css}}</style></head><body>
<header class="top">
<h1><span class="brand">Faultline ·</span> {{.Info.Broker}}{{if .Info.Version}} <span class="muted">{{.Info.Version}}</span>{{end}}</h1>
<div class="meta">
{{if .URL}}<span>broker <b class="mono">{{.URL}}</b></span>{{end}}
{{if .Info.Defect}}<span>faulty broker, defect <b>{{.Info.Defect}}</b></span>{{end}}
<span>started <b>{{utc .Started}}</b></span>
<span>took <b>{{dur .Duration}}</b></span>
{{if .Procs}}<span><b>{{.Procs}}</b> processes</span>{{end}}
<span>seed <b>{{.Seed}}</b></span>
{{if .HasChaos}}<span>chaos seed <b>{{.ChaosSeed}}</b></span>{{end}}
<span><b>{{.Total}}</b> specs</span>
</div>
<div class="pills">{{range $v := verdicts}}<span class="pill {{class $v}}" data-v="{{class $v}}" title="show only these in the spec list"><span class="n">{{count $.Counts $v}}</span>{{label $v}}</span>{{end}}</div>
<div class="bar">{{range .Segs}}<span class="{{.Class}}" style="width: {{pct .Pct}}" title="{{.N}} {{.Verdict}}"></span>{{end}}</div>
</header>
<main>
{{if .Setup}}<h2>Suite set-up failed</h2>{{range .Setup}}<pre class="msg">{{.}}</pre>{{end}}{{end}}

<h2>Scorecard by area</h2>
<div class="cards">
{{range .Areas}}<div class="card"><div class="head"><h3>{{.Area}}</h3><span class="score">{{count .Counts "pass"}}/{{.Total}}</span></div>
<div class="bar">{{range .Segs}}<span class="{{.Class}}" style="width: {{pct .Pct}}" title="{{.N}} {{.Verdict}}"></span>{{end}}</div>
<div class="small">{{if count .Counts "FAIL"}}<span class="bad">{{count .Counts "FAIL"}} failed</span> · {{end}}{{if count .Counts "known deviation"}}{{count .Counts "known deviation"}} deviation · {{end}}{{if count .Counts "not supported"}}{{count .Counts "not supported"}} not supported · {{end}}{{plural .Total "spec"}}</div></div>
{{end}}</div>
{{if .Idle}}<p class="muted">Not run this time (filtered out or skipped): {{join .Idle ", "}}.</p>{{end}}

<h2>Statement coverage</h2>
{{range .Coverage}}<div class="cov"><h3>MQTT {{.Version}}</h3>
{{range .Groups}}<div class="row"><span class="ch">§{{.Chapter}}</span><span class="cells">{{range .Cells}}<span class="sq {{.Class}}" title="{{.Title}}"></span>{{end}}</span></div>
{{end}}<div class="legend">{{range .Legend}}<span><span class="sq {{.Class}}"></span>{{.Name}} {{.N}}</span>{{end}}</div></div>
{{end}}

{{if .Problems}}<h2 id="problems">Failures and known deviations</h2>
{{range .Problems}}<section class="problem {{.Class}}" id="p-{{.Anchor}}">
<div class="ph"><h3><span class="badge {{.Class}}">{{.Glyph}} {{.Verdict}}</span>{{.Name}}</h3>
<div class="where">{{.Area}} · {{dur .Duration}}{{if .Where}} · {{.Where}}{{end}}{{if gt .Attempts 1}} · FLAKY: {{.Attempts}} attempts{{end}}</div></div>
<div class="body">
{{if .Statements}}<ul class="stmts">{{range .Statements}}<li><code>{{.Ref}}</code>{{.Text}}</li>{{end}}</ul>{{end}}
<pre class="msg">{{.Message}}</pre>
{{if .Story}}<details open><summary>what happened</summary><pre class="trace">{{.Story}}</pre></details>{{end}}
{{if .Diagram}}<details open><summary>packet sequence ({{.Steps}} steps) — hover an arrow for the full decode</summary><div class="diagram">{{.Diagram}}</div></details>
{{else}}<p class="muted">No wire trace was recorded for this spec.</p>{{end}}
{{if .Trace}}<details><summary>text trace</summary><pre class="trace">{{.Trace}}</pre></details>{{end}}
</div></section>
{{end}}{{end}}

{{if or .Keepalive .Chaos .WireCost}}<section id="measurements"><h2>Measurements</h2>{{end}}
{{if .Keepalive}}<div class="chartbox"><h3>Keepalive: when the broker closed a silent client</h3><p>MQTT-3.1.2-24: the broker must disconnect a client silent for one and a half times its keepalive. Each dot is one silent client.</p>{{.Keepalive}}</div>{{end}}
{{if .Chaos}}<div class="chartbox"><h3>Chaos: messages over time, faults per link</h3><p>Publish attempts, acknowledgements and deliveries per second; below, the faults the seeded schedule threw at each link (hover for details).</p>{{.Chaos}}</div>{{end}}
{{if .WireCost}}<div class="chartbox"><h3>Wire cost: what one {{.Wire.Payload}}-byte message costs on the wire</h3><p>Measured on loopback over {{.Wire.Messages}} messages to the topic <code>{{.Wire.Topic}}</code> (its unique test root makes it longer than a real one): bytes on the TCP sockets per delivered message (TCP payload, so TLS records and websocket frames count) and MQTT packets per message, MQTT by QoS (the publisher's hop, then the subscriber's), over tcp, TLS (ssl://), websockets (ws://) and websockets over TLS (wss://), against an HTTP/1.1 POST of the same payload to a minimal Go server on a kept-alive connection, plain and over TLS (packets there are HTTP messages: request and response). TCP/IP headers (52 B per segment on Linux) are not counted; the connections' set-up (TCP, TLS and websocket handshakes, CONNECT, SUBSCRIBE, the first POST) is left out.{{range .Wire.Unmeasured}} Not measured: {{.}}.{{end}}</p>{{.WireCost}}</div>{{end}}
{{if or .Keepalive .Chaos .WireCost}}</section>{{end}}

<h2 id="specs">All specs</h2>
<div class="tools"><input id="q" type="search" placeholder="filter by name, area or statement"><span class="pills">{{range $v := verdicts}}<span class="pill {{class $v}}" data-v="{{class $v}}">{{short $v}}</span>{{end}}</span><span class="muted" id="shown"></span></div>
<table class="specs"><tr><th>area</th><th>spec</th><th>verdict</th><th>time</th></tr>
{{range .Specs}}<tr data-v="{{.Class}}" id="{{.Anchor}}"><td class="area">{{.Area}}</td><td>{{if or (eq .Class "fail") (eq .Class "dev")}}<a href="#p-{{.Anchor}}">{{.Name}}</a>{{else}}{{.Name}}{{end}}{{if .Statements}} <span class="ids">{{range .Statements}}{{.Ref}} {{end}}</span>{{end}}
{{if and .Diagram (ne .Class "fail") (ne .Class "dev")}}<details><summary>{{if .Story}}what happened, and {{end}}packet sequence ({{.Steps}} steps)</summary>{{if .Story}}<pre class="trace">{{.Story}}</pre>{{end}}<div class="diagram">{{.Diagram}}</div></details>{{end}}</td>
<td class="v {{.Class}}">{{.Glyph}} {{short .Verdict}}</td><td class="d">{{dur .Duration}}</td></tr>
{{end}}</table>
</main>
<footer>Faultline conformance report · one file, no network: open it from disk or keep it as a CI artifact. {{if not .Traced}}Diagrams of passing specs: run with FAULTLINE_TRACE=1.{{end}}</footer>
<script>{{js}}</script>
</body></html>
`))
