package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-mqtt/faultline/reports"
)

// term is a small terminal: the characters, line feeds, carriage returns
// and the escape sequences progress and Ginkgo write, with wrapping.
type term struct {
	cols int
	rows [][]rune
	r, c int // c == cols: the next character wraps
}

func (t *term) put(ch rune) {
	if t.c == t.cols {
		t.r, t.c = t.r+1, 0
	}
	for len(t.rows) <= t.r {
		t.rows = append(t.rows, nil)
	}
	for len(t.rows[t.r]) <= t.c {
		t.rows[t.r] = append(t.rows[t.r], ' ')
	}
	t.rows[t.r][t.c] = ch
	t.c++
}

func (t *term) feed(s string) {
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		switch ch := rs[i]; ch {
		case '\n':
			t.r, t.c = t.r+1, 0
		case '\r':
			t.c = 0
		case 0x1b: // ESC [ parameters final-byte
			j := i + 2
			for j < len(rs) && (rs[j] < 0x40 || rs[j] > 0x7e) {
				j++
			}
			n := 1
			if j > i+2 && !strings.Contains(string(rs[i+2:j]), ";") {
				n = 0
				for _, d := range rs[i+2 : j] {
					n = n*10 + int(d-'0')
				}
			}
			switch rs[j] {
			case 'K':
				if t.r < len(t.rows) && t.c < len(t.rows[t.r]) {
					t.rows[t.r] = t.rows[t.r][:t.c]
				}
			case 'A':
				t.r, t.c = max(t.r-n, 0), min(t.c, t.cols-1)
			case 'G':
				t.c = n - 1
			}
			i = j
		default:
			t.put(ch)
		}
	}
}

func (t *term) text() string {
	var lines []string
	for _, r := range t.rows {
		lines = append(lines, strings.TrimRight(string(r), " "))
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}

func (t *term) lastRow() string {
	if t.r >= len(t.rows) {
		return ""
	}
	return string(t.rows[t.r])
}

// Ginkgo's output, as it comes: a header, a row of spec denoters longer
// than the terminal is wide, a failure block, the tally.
var ginkgoChunks = []string{"Running Suite: faultline.embedded\nWill run 30 of 30 specs\n"}

func init() {
	for i := range 25 {
		if i == 12 {
			ginkgoChunks = append(ginkgoChunks, "\n------------------------------\n• [FAILED] [0.016 seconds]\nMQTT 5.0 will\n------------------------------\n")
		}
		ginkgoChunks = append(ginkgoChunks, "\x1b[38;5;10m•\x1b[0m")
	}
	ginkgoChunks = append(ginkgoChunks, "\n\nRan 30 of 30 Specs in 1.0 seconds\nFAIL! -- 29 Passed | 1 Failed\n")
}

func TestLiveLineLeavesGinkgosOutputAsItWas(t *testing.T) {
	for _, cols := range []int{20, 40, 10} {
		alone := &term{cols: cols}
		alone.feed(strings.Join(ginkgoChunks, ""))

		var out bytes.Buffer
		s := &screen{out: &out, live: true, cols: func() int { return cols },
			progress: reports.NewProgress(reports.ProgressPlan{Broker: "embedded", Total: 30})}
		shown := &term{cols: cols}
		for i, c := range ginkgoChunks {
			s.write([]byte(c))
			s.progress.Apply(reports.ProgressEvent{At: time.Now(), Started: true, Area: "qos", Name: "spec " + string(rune('a'+i%26))})
			s.draw()
			shown.feed(out.String())
			out.Reset()
			if want := s.status; !strings.HasPrefix(shown.lastRow(), want) || want == "" {
				t.Fatalf("%d columns, after chunk %d: last row %q, want the live line %q", cols, i, shown.lastRow(), want)
			}
		}
		s.erase()
		shown.feed(out.String())
		if got, want := shown.text(), alone.text(); got != want {
			t.Errorf("%d columns: the screen after the run:\n%s\nwant Ginkgo's output alone:\n%s", cols, got, want)
		}
	}
}

func TestPlainModePrintsOneLinePerFinishedArea(t *testing.T) {
	dir := t.TempDir()
	plan := `{"broker":"embedded","total":3,"areas":[{"area":"retained","specs":2},{"area":"will","specs":1}]}`
	if err := os.WriteFile(filepath.Join(dir, reports.ProgressPlanFile), []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1000, 0)
	events := []reports.ProgressEvent{
		{At: t0, Started: true, Area: "retained", Name: "r1"},
		{At: t0, Started: true, Area: "retained", Name: "r2"},
		{At: t0.Add(time.Second), Verdict: reports.Pass, Area: "retained", Name: "r1"},
		{At: t0.Add(2 * time.Second), Verdict: reports.Pass, Area: "retained", Name: "r2"},
		{At: t0.Add(2 * time.Second), Started: true, Area: "will", Name: "w1"},
	}
	var lines string
	for _, e := range events {
		lines += e.Line()
	}
	half := reports.ProgressEvent{At: t0.Add(3 * time.Second), Verdict: reports.Fail, Area: "will", Name: "w1"}.Line()
	lines += half[:10] // a line a process is still writing
	if err := os.WriteFile(filepath.Join(dir, reports.ProgressEventsFile), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s := &screen{out: &out, dir: dir, cols: func() int { return 80 }}
	s.write([]byte("Will run 3 of 3 specs\n••"))
	s.poll()
	f, err := os.OpenFile(filepath.Join(dir, reports.ProgressEventsFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(half[10:])
	_ = f.Close()
	s.write([]byte("•\n\nRan 3 of 3 Specs\n"))
	s.poll()
	want := "Will run 3 of 3 specs\n••\n" +
		"faultline: 3 specs in 2 areas to run against embedded\n" +
		"faultline: retained: 2 specs, 2 passed (2.0 s)\n" +
		"•\n\nRan 3 of 3 Specs\n" +
		"faultline: will: 1 spec, 1 failed (1.0 s)\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
