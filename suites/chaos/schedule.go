package chaos

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// Kind is one sort of fault the schedule throws at a link.
type Kind int

const (
	Reset     Kind = iota // cut the link now with a RST
	PacketCut             // cut at a chosen packet
	Blackhole             // bytes vanish for a while, then the link is restored
	Latency               // added delay for a while
	Bandwidth             // a slow link for a while
	Fragment              // tiny TCP segments for a while
	Down                  // cut, and refuse reconnects for a while
)

var kindNames = []string{"reset", "packet cut", "blackhole", "latency", "bandwidth", "fragment", "down"}

func (k Kind) String() string { return kindNames[k] }

// Event is one fault on one link at one moment of the run.
type Event struct {
	At       time.Duration // from the start of the traffic
	For      time.Duration // how long it lasts before the link is restored (0: instant)
	Link     string        // client name
	Kind     Kind
	Cut      proxy.Cut // PacketCut only
	Amount   int       // ms of latency, KB/s, or segment bytes
	describe string
}

func (e Event) String() string {
	return fmt.Sprintf("%7.3fs  %-5s %s", e.At.Seconds(), e.Link, e.describe)
}

// Schedule is the faults of a run: the same seed gives the same schedule.
type Schedule struct {
	Seed   uint64
	Events []Event // in time order per link; links interleave
}

func (s Schedule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, %d faults\n", s.Seed, len(s.Events))
	for _, e := range s.Events {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}

// weights says how often each kind is drawn.
var weights = []struct {
	kind Kind
	w    int
}{{Reset, 3}, {PacketCut, 5}, {Blackhole, 2}, {Latency, 2}, {Bandwidth, 1}, {Fragment, 2}, {Down, 1}}

var cutTypes = []wire.Type{wire.PUBLISH, wire.PUBACK, wire.PUBREC, wire.PUBREL, wire.PUBCOMP, wire.PINGREQ}

// Plan draws a schedule for the links over the run's length: on each link,
// faults follow one another with gaps of 150–900 ms, never overlapping.
func Plan(seed uint64, links []string, length time.Duration) Schedule {
	r := rand.New(rand.NewPCG(seed, 0x6661756c74))
	s := Schedule{Seed: seed}
	for _, link := range links {
		for t := between(r, 100, 600); t < length; {
			e := draw(r, link, t)
			s.Events = append(s.Events, e)
			t += e.For + between(r, 150, 900)
		}
	}
	sortEvents(s.Events)
	return s
}

func between(r *rand.Rand, lo, hi int) time.Duration {
	return time.Duration(lo+r.IntN(hi-lo+1)) * time.Millisecond
}

func draw(r *rand.Rand, link string, at time.Duration) Event {
	total := 0
	for _, w := range weights {
		total += w.w
	}
	n := r.IntN(total)
	var kind Kind
	for _, w := range weights {
		if n < w.w {
			kind = w.kind
			break
		}
		n -= w.w
	}
	e := Event{At: at, Link: link, Kind: kind}
	switch kind {
	case Reset:
		e.describe = "reset now"
	case PacketCut:
		dir := proxy.ToBroker
		if r.IntN(2) == 1 {
			dir = proxy.FromBroker
		}
		m := proxy.Packet(cutTypes[r.IntN(len(cutTypes))])
		var c proxy.Cut
		switch r.IntN(3) {
		case 0:
			c = proxy.Before(dir, m)
		case 1:
			c = proxy.After(dir, m)
		default:
			c = proxy.Into(dir, m, 1+r.IntN(4))
		}
		if r.IntN(3) == 0 {
			c = c.With(proxy.Close)
		}
		e.Cut, e.For = c, between(r, 200, 600) // disarmed if it has not fired by then
		e.describe = c.String()
	case Blackhole:
		e.For = between(r, 150, 500)
		e.describe = fmt.Sprintf("blackhole for %v", e.For)
	case Latency:
		e.For, e.Amount = between(r, 200, 800), 5+r.IntN(60)
		e.describe = fmt.Sprintf("latency %dms both ways for %v", e.Amount, e.For)
	case Bandwidth:
		e.For, e.Amount = between(r, 200, 800), 16+r.IntN(100)
		e.describe = fmt.Sprintf("bandwidth %d KB/s both ways for %v", e.Amount, e.For)
	case Fragment:
		e.For, e.Amount = between(r, 200, 800), 1+r.IntN(8)
		e.describe = fmt.Sprintf("segments of ~%d bytes both ways for %v", e.Amount, e.For)
	case Down:
		e.For = between(r, 150, 600)
		e.describe = fmt.Sprintf("down for %v", e.For)
	}
	return e
}

func sortEvents(es []Event) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].At < es[j-1].At; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}
