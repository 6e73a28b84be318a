// Package program starts a program under test (any command line, in any
// language), keeps what it prints, and bounds it: whatever it does, Stop
// ends it (SIGTERM to its process group, then SIGKILL after a grace
// period) and returns within a known time.
package program

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options says what to run and how.
type Options struct {
	// Command is a shell command line, run by /bin/sh -c.
	Command string
	// Vars are substituted for {name} in Command before it runs.
	Vars map[string]string
	// Env is added to the program's environment (KEY=VALUE).
	Env []string
	// Dir is the working directory ("": the current one).
	Dir string
	// MaxOutput bounds what is kept of each of stdout and stderr: the
	// first and the last MaxOutput/2 bytes (0: 64 KiB).
	MaxOutput int
}

// Program is a started program.
type Program struct {
	Command string // the command line that ran, after substitution
	cmd     *exec.Cmd
	start   time.Time
	stdout  *capture
	stderr  *capture
	done    chan struct{}

	mu      sync.Mutex
	ended   time.Time
	status  string
	signals []string // signals Faultline sent, in order
}

// Substitute replaces each {name} in s by vars[name].
func Substitute(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

// Start runs the command in a process group of its own, with stdin from
// /dev/null.
func Start(o Options) (*Program, error) {
	if strings.TrimSpace(o.Command) == "" {
		return nil, errors.New("program: no command")
	}
	max := o.MaxOutput
	if max <= 0 {
		max = 64 << 10
	}
	p := &Program{Command: Substitute(o.Command, o.Vars), done: make(chan struct{})}
	line := p.Command
	if simple(line) {
		// The program itself, not a shell waiting for it, gets the
		// signals and is the process waited for. Assignments in front
		// (NAME=value cmd) stay in front: "NAME=value exec cmd".
		prefix := assignments.FindString(line)
		line = prefix + "exec " + line[len(prefix):]
	}
	p.cmd = exec.Command("/bin/sh", "-c", line)
	p.cmd.Dir = o.Dir
	p.cmd.Env = append(os.Environ(), o.Env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A child that leaves the group and keeps the pipes open must not
	// hold Wait: the pipes close this long after the program ends.
	p.cmd.WaitDelay = 2 * time.Second
	p.start = time.Now()
	p.stdout = newCapture(p.start, max)
	p.stderr = newCapture(p.start, max)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("program: starting %q: %w", p.Command, err)
	}
	go p.wait()
	return p, nil
}

// simple says whether a command line is one command with arguments,
// which the shell can replace by exec.
func simple(line string) bool {
	return !strings.ContainsAny(line, ";&|<>()`$\n\\") && !strings.HasPrefix(strings.TrimSpace(line), "exec ")
}

// assignments matches the NAME=value words (unquoted) in front of a
// command line.
var assignments = regexp.MustCompile(`^\s*(?:[A-Za-z_][A-Za-z0-9_]*=[^\s'"]*\s+)*`)

// orphanWait bounds how long the program counts as running after its
// shell ended while other processes of its group live on.
const orphanWait = 10 * time.Second

func (p *Program) wait() {
	err := p.cmd.Wait()
	// A shell killed by a signal leaves its children running: the program
	// has ended when its whole process group has (bounded: processes the
	// system does not reap would hold it for ever).
	pgid := p.cmd.Process.Pid
	for deadline := time.Now().Add(orphanWait); time.Now().Before(deadline); {
		if syscall.Kill(-pgid, 0) != nil {
			break
		}
		time.Sleep(20 * time.Millisecond) // no event tells when a non-child ends
	}
	p.mu.Lock()
	p.ended = time.Now()
	p.status = describe(p.cmd.ProcessState, err)
	p.mu.Unlock()
	close(p.done)
}

// Kill ends the whole process group at once (SIGKILL) and waits, at most
// five seconds, for it to be gone.
func (p *Program) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.Wait(5 * time.Second)
}

func describe(st *os.ProcessState, err error) string {
	if st == nil {
		return "ended: " + err.Error()
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", st.ExitCode())
}

// Started is when the program started.
func (p *Program) Started() time.Time { return p.start }

// Done is closed once the program has ended.
func (p *Program) Done() <-chan struct{} { return p.done }

// Running says whether the program is still running.
func (p *Program) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Status says how the program ended ("exit status 0", "killed by
// terminated"), or "running".
func (p *Program) Status() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.status == "" {
		return "running"
	}
	return p.status
}

// Ended is when the program ended (zero while it runs).
func (p *Program) Ended() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ended
}

// Signal sends sig to the program's whole process group.
func (p *Program) Signal(sig syscall.Signal) {
	if !p.Running() {
		return
	}
	p.mu.Lock()
	p.signals = append(p.signals, fmt.Sprintf("%s at %.3fs", sig, time.Since(p.start).Seconds()))
	p.mu.Unlock()
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// Wait waits at most d for the program to end and says whether it did.
func (p *Program) Wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// Stop ends the program: SIGTERM, then SIGKILL when it is still running
// after grace. It returns once the program has ended (or, should even
// SIGKILL not end it, after grace plus five seconds) and says whether it
// ended by itself after SIGTERM.
func (p *Program) Stop(grace time.Duration) (gentle bool) {
	if !p.Running() {
		return true
	}
	p.Signal(syscall.SIGTERM)
	if p.Wait(grace) {
		return true
	}
	p.mu.Lock()
	p.signals = append(p.signals, fmt.Sprintf("SIGKILL at %.3fs", time.Since(p.start).Seconds()))
	p.mu.Unlock()
	p.Kill()
	return false
}

// Stdout is what the program printed on its standard output, each line
// prefixed with the time since it started.
func (p *Program) Stdout() string { return p.stdout.String() }

// Stderr is what it printed on its standard error, likewise.
func (p *Program) Stderr() string { return p.stderr.String() }

// Lines are its standard output lines, without the time prefixes.
func (p *Program) Lines() []string { return p.stdout.Lines() }

// Report is a readable account of the run: the command, how it ended,
// the signals Faultline sent, and its output.
func (p *Program) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "command: %s\n", p.Command)
	status := p.Status()
	if end := p.Ended(); !end.IsZero() {
		status += fmt.Sprintf(" after %.3fs", end.Sub(p.start).Seconds())
	}
	fmt.Fprintf(&b, "status:  %s\n", status)
	p.mu.Lock()
	if len(p.signals) > 0 {
		fmt.Fprintf(&b, "signals: %s\n", strings.Join(p.signals, ", "))
	}
	p.mu.Unlock()
	for _, s := range []struct {
		name string
		c    *capture
	}{{"stdout", p.stdout}, {"stderr", p.stderr}} {
		text := s.c.String()
		if text == "" {
			fmt.Fprintf(&b, "%s: (nothing)\n", s.name)
			continue
		}
		fmt.Fprintf(&b, "%s:\n%s", s.name, text)
		if !strings.HasSuffix(text, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// capture keeps the first and last bytes a program writes, split into
// lines stamped with the time they began, and counts what it leaves out.
type capture struct {
	start time.Time
	half  int

	mu      sync.Mutex
	head    []line
	headLen int
	tail    []line
	tailLen int
	skipped int  // bytes left out between head and tail
	open    bool // the last line has not ended yet
}

type line struct {
	at   time.Duration
	text []byte
}

func newCapture(start time.Time, max int) *capture { return &capture{start: start, half: max / 2} }

func (c *capture) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(b)
	at := time.Since(c.start)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		piece := b
		if i >= 0 {
			piece = b[:i+1]
		}
		b = b[len(piece):]
		c.add(at, piece)
		c.open = piece[len(piece)-1] != '\n'
	}
	return n, nil
}

// add appends piece to the open line or starts a new one.
func (c *capture) add(at time.Duration, piece []byte) {
	if c.headLen < c.half && c.tail == nil {
		if c.open && len(c.head) > 0 {
			l := &c.head[len(c.head)-1]
			l.text = append(l.text, piece...)
		} else {
			c.head = append(c.head, line{at: at, text: append([]byte(nil), piece...)})
		}
		c.headLen += len(piece)
		return
	}
	if c.open && len(c.tail) > 0 {
		l := &c.tail[len(c.tail)-1]
		l.text = append(l.text, piece...)
	} else {
		c.tail = append(c.tail, line{at: at, text: append([]byte(nil), piece...)})
	}
	c.tailLen += len(piece)
	for c.tailLen > c.half && len(c.tail) > 1 {
		c.skipped += len(c.tail[0].text)
		c.tailLen -= len(c.tail[0].text)
		c.tail = c.tail[1:]
	}
	if c.tailLen > c.half { // one huge line: keep its end
		l := &c.tail[0]
		cut := c.tailLen - c.half
		c.skipped += cut
		c.tailLen -= cut
		l.text = l.text[cut:]
	}
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	write := func(ls []line) {
		for _, l := range ls {
			text := strings.TrimRight(string(l.text), "\n")
			fmt.Fprintf(&b, "  [%8.3fs] %s\n", l.at.Seconds(), text)
		}
	}
	write(c.head)
	if c.skipped > 0 {
		fmt.Fprintf(&b, "  … %d bytes left out …\n", c.skipped)
	}
	write(c.tail)
	return b.String()
}

func (c *capture) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, ls := range [][]line{c.head, c.tail} {
		for _, l := range ls {
			out = append(out, strings.TrimRight(string(l.text), "\n"))
		}
	}
	return out
}

// LinesSince are the lines of stdout the program began at or after t.
func (p *Program) LinesSince(t time.Time) []string {
	c := p.stdout
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, ls := range [][]line{c.head, c.tail} {
		for _, l := range ls {
			if !c.start.Add(l.at).Before(t) {
				out = append(out, strings.TrimRight(string(l.text), "\n"))
			}
		}
	}
	return out
}
