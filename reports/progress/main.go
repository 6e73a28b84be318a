// Command progress shows a long run's progress beside Ginkgo's own output.
//
//	ginkgo run ... | progress DIR
//
// It copies Ginkgo's output from stdin to stdout unchanged, and reads
// the plan and events the suite's processes write in DIR (the report
// directory; reports/progress.go). When stdout is a terminal and CI is
// not "true", it keeps one live line below Ginkgo's output: how many specs
// are done and left, how many failed, the broker, and the spec that
// started last; it erases the line before Ginkgo writes and when the run
// ends. Otherwise (CI, a file, a pipe) it prints one plain line when the
// run starts and one per finished area:
//
//	faultline: 14 specs in 2 areas to run against embedded
//	faultline: retained: 13 specs, 13 passed (3.2 s)
//
// It exits when stdin ends, with status 0; an interrupt is Ginkgo's to
// handle, so it ignores SIGINT and keeps copying until then.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/faultline-mqtt/faultline/reports"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ginkgo run ... | progress DIR")
		os.Exit(2)
	}
	signal.Ignore(syscall.SIGINT)
	ci := strings.EqualFold(os.Getenv("CI"), "true") || os.Getenv("CI") == "1"
	st, err := os.Stdout.Stat()
	live := err == nil && st.Mode()&os.ModeCharDevice != 0 && !ci
	s := &screen{out: os.Stdout, live: live, dir: os.Args[1], cols: width}
	s.run(os.Stdin)
}

type screen struct {
	out  io.Writer
	live bool
	dir  string
	cols func() int // the terminal's width

	progress *reports.Progress
	offset   int64  // read so far from the events file
	rest     []byte // an unfinished last line of the events file

	partial  int  // visible width of Ginkgo's unfinished last line
	inEscape bool // inside an ANSI escape sequence of Ginkgo's output
	shown    bool // the live line is on screen
	below    bool // ... on the row below Ginkgo's unfinished line
	status   string
}

func (s *screen) run(in io.Reader) {
	chunks := make(chan []byte)
	go func() {
		defer close(chunks)
		buf := make([]byte, 32<<10)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				chunks <- bytes.Clone(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case b, ok := <-chunks:
			if !ok {
				s.poll()
				s.erase()
				return
			}
			s.poll() // an area that ended before this output is told before it
			s.write(b)
			// The next tick draws the live line again: not after every
			// write, which would redraw it once per spec denoter.
		case <-tick.C:
			s.poll()
			s.draw()
		}
	}
}

// poll reads the plan once it exists and the events appended since the
// last poll.
func (s *screen) poll() {
	if s.progress == nil {
		b, err := os.ReadFile(filepath.Join(s.dir, reports.ProgressPlanFile))
		if err != nil {
			return
		}
		var plan reports.ProgressPlan
		if json.Unmarshal(b, &plan) != nil {
			return
		}
		s.progress = reports.NewProgress(plan)
		if !s.live {
			line := fmt.Sprintf("faultline: %d specs to run against %s", plan.Total, plan.Broker)
			if len(plan.Areas) > 0 {
				line = fmt.Sprintf("faultline: %d specs in %d areas to run against %s", plan.Total, len(plan.Areas), plan.Broker)
			}
			s.line(line)
		}
	}
	f, err := os.Open(filepath.Join(s.dir, reports.ProgressEventsFile))
	if err != nil {
		return
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, s.offset, 1<<40))
	if err != nil || len(b) == 0 {
		return
	}
	s.offset += int64(len(b))
	b = append(s.rest, b...)
	end := bytes.LastIndexByte(b, '\n') + 1
	s.rest = bytes.Clone(b[end:])
	for _, l := range strings.SplitAfter(string(b[:end]), "\n") {
		e, ok := reports.ParseProgressEvent(l)
		if !ok {
			continue
		}
		if area := s.progress.Apply(e); area != "" && !s.live {
			s.line("faultline: " + area)
		}
	}
}

// write copies Ginkgo's output.
func (s *screen) write(b []byte) {
	s.erase()
	_, _ = s.out.Write(b)
	s.track(b)
}

// line prints one plain line on a row of its own.
func (s *screen) line(l string) {
	s.erase()
	if s.partial > 0 {
		l = "\n" + l
	}
	_, _ = fmt.Fprintln(s.out, l)
	s.partial = 0
	s.draw()
}

// track follows the visible width of Ginkgo's unfinished last line.
func (s *screen) track(b []byte) {
	for _, c := range b {
		switch {
		case s.inEscape:
			if c >= 0x40 && c <= 0x7e && c != '[' {
				s.inEscape = false
			}
		case c == 0x1b:
			s.inEscape = true
		case c == '\n' || c == '\r':
			s.partial = 0
		case c&0xc0 != 0x80: // the first byte of a character
			s.partial++
		}
	}
}

// draw puts the live line on screen, below Ginkgo's unfinished line if
// there is one.
func (s *screen) draw() {
	if !s.live || s.progress == nil {
		return
	}
	status := s.progress.Live(time.Now(), s.cols()-1)
	if s.shown && status == s.status {
		return
	}
	s.erase()
	s.status = status
	s.below = s.partial > 0
	if s.below {
		_, _ = io.WriteString(s.out, "\n")
	}
	_, _ = io.WriteString(s.out, status)
	s.shown = true
}

// erase removes the live line and puts the cursor back where Ginkgo's
// output goes on.
func (s *screen) erase() {
	if !s.shown {
		return
	}
	seq := "\r\033[K"
	if col := s.partial % s.cols(); s.below && col != 0 {
		// Back up to the end of Ginkgo's unfinished line. (A line that
		// fills the row exactly goes on at the start of the next one,
		// which is where the cursor already is.)
		seq += fmt.Sprintf("\033[A\033[%dG", col+1)
	}
	_, _ = io.WriteString(s.out, seq)
	s.shown = false
}

// width is the terminal's width in columns (80 if it cannot tell).
func width() int {
	var ws struct{ Row, Col, X, Y uint16 }
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, os.Stdout.Fd(), uintptr(syscall.TIOCGWINSZ), uintptr(unsafe.Pointer(&ws)))
	if errno != 0 || ws.Col < 20 {
		return 80
	}
	return int(ws.Col)
}
