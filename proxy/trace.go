package proxy

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// Kind says what a trace entry records.
type Kind int

const (
	// Passed: a whole packet crossed the link.
	Passed Kind = iota
	// Partial: the link was cut inside this packet; only part of it passed.
	Partial
	// Dropped: the packet vanished (blackhole, or bytes after a cut).
	Dropped
	// Injected: a fault was injected here.
	Injected
	// Event: something happened to the connection (opened, closed, refused).
	Event
	// Undecodable: bytes passed that are not MQTT framing.
	Undecodable
)

// Entry is one line of a wire trace.
type Entry struct {
	At     time.Time
	Link   string
	Conn   int // connection number on the link, from 1; 0 for the link itself
	Dir    Direction
	Kind   Kind
	Packet wire.Packet // for Passed, Partial, Dropped
	Bytes  int         // bytes that passed (Partial) or vanished (Dropped, Undecodable)
	Note   string
}

// Trace is the timestamped record of one link: decoded packets in both
// directions and the faults injected. Safe for concurrent use.
type Trace struct {
	mu        sync.Mutex
	chunks    [][]Entry // filled in order; appending never moves entries
	elided    int
	observers []func(Entry)
	// sync brings the trace up to date before it is read (the tap decodes
	// some bytes just after they pass).
	sync func()
}

// A trace keeps at most maxChunks chunks of chunkSize entries; beyond that
// the oldest chunk goes.
const (
	chunkSize = 512
	maxChunks = 32
)

func newTrace() *Trace { return &Trace{} }

func (t *Trace) add(e Entry) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	t.mu.Lock()
	if n := len(t.chunks); n == 0 || len(t.chunks[n-1]) == chunkSize {
		if n == maxChunks {
			t.elided += chunkSize
			t.chunks = append(t.chunks[:0], t.chunks[1:]...)
		}
		t.chunks = append(t.chunks, make([]Entry, 0, chunkSize))
	}
	last := &t.chunks[len(t.chunks)-1]
	*last = append(*last, e)
	observers := t.observers
	t.mu.Unlock()
	for _, o := range observers {
		o(e)
	}
}

// Observe calls o with every entry added from now on, as it is added:
// when a packet crosses the link. o must be quick and must not call into
// the link or read the trace.
func (t *Trace) Observe(o func(Entry)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.observers = append(t.observers, o)
}

// Entries returns a copy of the entries so far.
func (t *Trace) Entries() []Entry {
	t.Sync()
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.chunks {
		n += len(c)
	}
	out := make([]Entry, 0, n)
	for _, c := range t.chunks {
		out = append(out, c...)
	}
	return out
}

// Last returns the latest entry, once the trace is up to date.
func (t *Trace) Last() (Entry, bool) {
	t.Sync()
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.chunks) - 1; i >= 0; i-- {
		if c := t.chunks[i]; len(c) > 0 {
			return c[len(c)-1], true
		}
	}
	return Entry{}, false
}

// Sync brings the trace up to date: packets that have passed are decoded
// and their observers called before Sync returns.
func (t *Trace) Sync() {
	if t.sync != nil {
		t.sync()
	}
}

// Elided is how many of the oldest entries were dropped to bound memory.
func (t *Trace) Elided() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.elided
}

// Packets returns the packets that crossed the link whole in dir, in order.
func (t *Trace) Packets(dir Direction) []wire.Packet {
	var out []wire.Packet
	for _, e := range t.Entries() {
		if e.Kind == Passed && (dir == Both || e.Dir == dir) {
			out = append(out, e.Packet)
		}
	}
	return out
}

// Merge interleaves the entries of several traces in time order.
func Merge(traces ...*Trace) []Entry {
	var all []Entry
	for _, t := range traces {
		if t != nil {
			all = append(all, t.Entries()...)
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].At.Before(all[j].At) })
	return all
}

// Format renders entries as readable lines, times relative to start
// (the first entry when start is zero). At most limit lines (0: all): the
// lines around the faults are kept and the rest summarised.
func Format(entries []Entry, start time.Time, limit int) string {
	if len(entries) == 0 {
		return "  (no traffic)\n"
	}
	if start.IsZero() {
		start = entries[0].At
	}
	width := 4
	for _, e := range entries {
		if len(e.Link) > width {
			width = len(e.Link)
		}
	}
	keep := selectLines(entries, limit)
	var b strings.Builder
	skipped := 0
	for i, e := range entries {
		if !keep[i] {
			skipped++
			continue
		}
		if skipped > 0 {
			fmt.Fprintf(&b, "  … %d more lines …\n", skipped)
			skipped = 0
		}
		fmt.Fprintf(&b, "%9.3fs  %-*s c%-2d %s\n", e.At.Sub(start).Seconds(), width, e.Link, e.Conn, e.line())
	}
	if skipped > 0 {
		fmt.Fprintf(&b, "  … %d more lines …\n", skipped)
	}
	return b.String()
}

// selectLines keeps everything when it fits; otherwise the first lines, the
// last lines, and a window around every fault.
func selectLines(entries []Entry, limit int) []bool {
	keep := make([]bool, len(entries))
	if limit <= 0 || len(entries) <= limit {
		for i := range keep {
			keep[i] = true
		}
		return keep
	}
	mark := func(from, to int) {
		for i := max(from, 0); i < min(to, len(entries)); i++ {
			keep[i] = true
		}
	}
	const around = 6
	mark(0, limit/4)
	mark(len(entries)-limit/4, len(entries))
	for i, e := range entries {
		if e.Kind == Injected {
			mark(i-around, i+around+1)
		}
	}
	return keep
}

func (e Entry) line() string {
	arrow := "→B"
	if e.Dir == FromBroker {
		arrow = "B→"
	}
	switch e.Kind {
	case Passed:
		return arrow + "  " + e.Packet.String()
	case Partial:
		return fmt.Sprintf("%s  %s  [CUT: %d of %d bytes passed]", arrow, e.Packet.String(), e.Bytes, e.Packet.Size())
	case Dropped:
		if e.Packet.Type == 0 {
			return fmt.Sprintf("%s  [%d bytes vanished: %s]", arrow, e.Bytes, e.Note)
		}
		return fmt.Sprintf("%s  [vanished: %s] %s", arrow, e.Note, e.Packet.String())
	case Injected:
		return "✂   FAULT " + e.Note
	case Undecodable:
		return fmt.Sprintf("%s  [%d bytes not MQTT framing: %s]", arrow, e.Bytes, e.Note)
	}
	return "··  " + e.Note
}
