package proxy

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Link is one client's own path to the broker. Faults on it touch no other
// client. Faults apply to connections already open and to new ones.
type Link struct {
	name     string
	id       string
	srv      *Server
	upstream Upstream
	h        handle
	pairs    *pairs
	tap      *tap
	trace    *Trace

	mu     sync.Mutex
	toxics []string // names of Toxiproxy toxics added, oldest first
	seq    int
	down   bool
}

// Name is the name the link was given (the client's name in traces).
func (l *Link) Name() string { return l.name }

// Addr is the host:port clients dial to reach the broker through the link.
func (l *Link) Addr() string { return l.h.listen() }

// Trace is the link's wire trace.
func (l *Link) Trace() *Trace { return l.trace }

func (l *Link) note(format string, args ...any) {
	l.trace.add(Entry{Link: l.name, Kind: Injected, Note: fmt.Sprintf(format, args...)})
}

func (l *Link) log(e Entry) {
	e.Link = l.name
	l.trace.add(e)
}

// Arm sets a cut that fires when the traffic reaches its point: before,
// after or inside a given packet, or after a number of bytes. It fires once.
func (l *Link) Arm(c Cut) (*Fault, error) {
	f, err := l.tap.arm(c)
	if err != nil {
		return nil, err
	}
	l.trace.add(Entry{Link: l.name, Kind: Event, Note: "armed: " + c.String()})
	return f, nil
}

// CutBefore cuts the link (reset) just before the next packet matching m
// in dir: none of it passes.
func (l *Link) CutBefore(dir Direction, m Match) *Fault { return l.mustArm(Before(dir, m)) }

// CutAfter cuts the link (reset) right after the next packet matching m
// has passed in dir.
func (l *Link) CutAfter(dir Direction, m Match) *Fault { return l.mustArm(After(dir, m)) }

// CutInto cuts the link (reset) k bytes into the next packet matching m.
func (l *Link) CutInto(dir Direction, m Match, k int) *Fault { return l.mustArm(Into(dir, m, k)) }

// CutAfterBytes cuts the link (reset) once n more bytes have passed in dir:
// a cut in the middle of a packet when n falls inside one.
func (l *Link) CutAfterBytes(dir Direction, n int) *Fault { return l.mustArm(AfterBytes(dir, n)) }

func (l *Link) mustArm(c Cut) *Fault {
	f, err := l.Arm(c)
	if err != nil {
		panic(err) // a malformed cut is a bug in the spec
	}
	return f
}

// Disarm withdraws a cut that has not fired and reports whether it had.
func (l *Link) Disarm(f *Fault) bool { return l.tap.disarm(f) }

// Cut ends the link's open connections now with a TCP RST to both the
// client and the broker: nothing more passes, and what had passed is sent
// before the RST. New connections are let through.
func (l *Link) Cut() {
	n := l.pairs.end(nil, Reset, l.tap.endAll())
	l.note("reset now: %d open connection(s) cut", n)
}

// Blackhole makes every byte vanish in both directions while both TCP
// connections stay open, as when a cable is pulled: neither side is told.
// Restore ends the blackholed connections (their byte streams are broken).
func (l *Link) Blackhole() {
	l.tap.setBlackhole(true)
	l.note("blackhole: bytes vanish in both directions, sockets stay open")
}

// Latency delays every chunk travelling in dir by d, plus or minus jitter.
func (l *Link) Latency(dir Direction, d, jitter time.Duration) error {
	return l.add("latency", dir, map[string]any{"latency": d.Milliseconds(), "jitter": jitter.Milliseconds()},
		fmt.Sprintf("latency %v±%v %s", d, jitter, dir))
}

// Bandwidth limits dir to kbps kilobytes per second.
func (l *Link) Bandwidth(dir Direction, kbps int) error {
	if kbps <= 0 {
		return fmt.Errorf("bandwidth %d KB/s: use Blackhole to stop traffic", kbps)
	}
	return l.add("bandwidth", dir, map[string]any{"rate": kbps}, fmt.Sprintf("bandwidth %d KB/s %s", kbps, dir))
}

// Fragment splits the bytes travelling in dir into small TCP segments of
// about size bytes (± variation), with delay between them.
func (l *Link) Fragment(dir Direction, size, variation int, delay time.Duration) error {
	if size < 1 {
		return fmt.Errorf("fragment size %d: must be at least 1 byte", size)
	}
	return l.add("slicer", dir, map[string]any{"average_size": size, "size_variation": variation, "delay": delay.Microseconds()},
		fmt.Sprintf("fragments of %d±%d bytes every %v %s", size, variation, delay, dir))
}

func (l *Link) add(kind string, dir Direction, attrs map[string]any, what string) error {
	for _, stream := range dir.streams() {
		l.mu.Lock()
		l.seq++
		name := fmt.Sprintf("%s_%s_%d", kind, stream, l.seq)
		l.mu.Unlock()
		if err := l.h.add(toxic{Name: name, Type: kind, Stream: stream, Toxicity: 1, Attributes: attrs}); err != nil {
			return fmt.Errorf("link %s: %w", l.name, err)
		}
		l.mu.Lock()
		l.toxics = append(l.toxics, name)
		l.mu.Unlock()
	}
	l.note("%s", what)
	return nil
}

// Down cuts the link and refuses new connections until Restore, as when
// the broker is unreachable.
func (l *Link) Down() error {
	l.mu.Lock()
	l.down = true
	l.mu.Unlock()
	passed := l.tap.endAll()
	l.pairs.refuse(true)
	if err := l.h.enable(false); err != nil {
		return fmt.Errorf("link %s: %w", l.name, err)
	}
	n := l.pairs.end(nil, Reset, passed)
	l.note("down: %d open connection(s) reset, new connections refused", n)
	return nil
}

// Restore removes every fault: toxics go, cuts not yet fired are disarmed,
// a down link comes back up, and blackholed connections end.
func (l *Link) Restore() error {
	var errs []string
	l.mu.Lock()
	names := l.toxics
	l.toxics = nil
	down := l.down
	l.down = false
	l.mu.Unlock()
	for i := len(names) - 1; i >= 0; i-- {
		if err := l.h.remove(names[i]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	l.tap.mu.Lock()
	l.tap.cuts = nil
	l.tap.mu.Unlock()
	if dark := l.tap.setBlackhole(false); len(dark) > 0 {
		l.pairs.end(dark, Reset)
	}
	if down {
		l.pairs.refuse(false)
		if err := l.h.enable(true); err != nil {
			errs = append(errs, err.Error())
		}
	}
	l.note("restored")
	if len(errs) > 0 {
		return fmt.Errorf("link %s: restore: %s", l.name, strings.Join(errs, "; "))
	}
	return nil
}

// Close removes the link and ends its connections.
func (l *Link) Close() error {
	l.srv.forget(l)
	err := l.h.delete()
	l.pairs.close()
	unregisterTap(l.id)
	return err
}
