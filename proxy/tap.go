package proxy

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// tap watches one link's MQTT traffic in both directions, records it in
// the link's trace and carries out the cuts armed on the link. It is fed
// by the link's Toxiproxy toxic (embedded Toxiproxy) or by the gateway
// (external Toxiproxy, which does not know Faultline's toxic).
//
// Toxiproxy gives a toxic one direction and no connection identity, so the
// two directions of one connection meet here: Toxiproxy starts a
// connection's upstream link right before its downstream link, on one
// goroutine, so the nth upstream half and the nth downstream half belong
// to the nth connection.
type tap struct {
	link  string
	trace *Trace
	// onEnd asks the gateway to end connection n with a style once its
	// bytes have drained (a reset then reaches the broker as a RST).
	onEnd func(n int, s Style)

	mu        sync.Mutex
	conns     []*tapConn
	cuts      []*Fault
	blackhole bool
}

// Fault is a cut armed on a link. It fires once.
type Fault struct {
	cut   Cut
	seen  int // matching packets counted
	left  int // bytes still to pass, for byte cuts
	fired chan struct{}
	done  bool
	where string
}

// Fired is closed when the cut has happened.
func (f *Fault) Fired() <-chan struct{} { return f.fired }

func (f *Fault) String() string { return f.cut.String() }

type tapConn struct {
	n       int
	version byte
	halves  [2]*tapHalf
	ended   bool // a cut ended it: nothing more passes
	dark    bool // blackholed by a cut
}

type tapHalf struct {
	t   *tap
	c   *tapConn
	dir Direction
	dec wire.Stream

	// the packet in progress
	hdr      []byte // its first bytes, as far as needed to identify it
	head     wire.Header
	size     int // its size once its fixed header is complete; 0 before
	off      int // bytes of it processed
	holding  bool
	identify bool // an armed cut needs its id or topic
	lost     bool // framing lost: no more packet cuts on this half

	fwd      int64 // bytes passed on
	pktStart int64 // fwd at the start of the packet in progress
	target   *Fault
	cutPos   int64

	pending []chunk   // passed on the fast path, not yet framed and decoded
	now     time.Time // when the bytes being decoded passed; zero: now

	out      []byte
	decoded  int    // bytes of out already fed to the decoder
	dropping string // why bytes being decoded vanished; "" while they pass
	skip     bool   // the next decoded frame was already logged as Partial
}

// chunk is a piece of the stream that passed on the fast path.
type chunk struct {
	data []byte
	at   time.Time
}

func newTap(link string, trace *Trace, onEnd func(int, Style)) *tap {
	return &tap{link: link, trace: trace, onEnd: onEnd}
}

// half returns the state for a new connection's half in dir.
func (t *tap) half(dir Direction) *tapHalf {
	t.mu.Lock()
	defer t.mu.Unlock()
	var c *tapConn
	if dir == FromBroker {
		for i := len(t.conns) - 1; i >= 0; i-- {
			if t.conns[i].halves[FromBroker] == nil {
				c = t.conns[i]
				break
			}
		}
	}
	if c == nil {
		c = &tapConn{n: len(t.conns) + 1, version: wire.V311}
		t.conns = append(t.conns, c)
	}
	h := &tapHalf{t: t, c: c, dir: dir}
	if other := c.halves[1-dir]; other != nil {
		h.dec.Version = other.dec.Version
	}
	c.halves[dir] = h
	return h
}

func (t *tap) arm(c Cut) (*Fault, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	f := &Fault{cut: c, left: c.bytes, fired: make(chan struct{})}
	t.mu.Lock()
	t.catchUp() // bytes that passed before the cut was armed are not its to count
	t.cuts = append(t.cuts, f)
	t.mu.Unlock()
	return f, nil
}

// disarm removes f if it has not fired and reports whether it had.
func (t *tap) disarm(f *Fault) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removeCut(f)
	return f.done
}

func (t *tap) removeCut(f *Fault) {
	for i, g := range t.cuts {
		if g == f {
			t.cuts = append(t.cuts[:i], t.cuts[i+1:]...)
			return
		}
	}
}

// endAll marks every connection ended: nothing more passes. It returns,
// per connection, the bytes that had passed in each direction.
func (t *tap) endAll() map[int][2]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.catchUp()
	passed := map[int][2]int64{}
	for _, c := range t.conns {
		c.ended = true
		var p [2]int64
		for dir, h := range c.halves {
			if h != nil {
				p[dir] = h.fwd
			}
		}
		passed[c.n] = p
	}
	return passed
}

// passed returns the bytes connection n has passed in each direction.
func (t *tap) passed(n int) [2]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.catchUp()
	var p [2]int64
	if n < 1 || n > len(t.conns) {
		return p
	}
	for dir, h := range t.conns[n-1].halves {
		if h != nil {
			p[dir] = h.fwd
		}
	}
	return p
}

// setBlackhole turns the link-wide blackhole on or off. Turning it off
// ends the connections that were dark (under the link-wide blackhole or a
// blackhole cut) and returns their numbers for the gateway to close.
func (t *tap) setBlackhole(on bool) []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.catchUp()
	was := t.blackhole
	t.blackhole = on
	if on {
		return nil
	}
	var dark []int
	for _, c := range t.conns {
		if !c.ended && (c.dark || was) {
			c.ended = true
			dark = append(dark, c.n)
		}
	}
	return dark
}

// isDark says whether connection n is blackholed now.
func (t *tap) isDark(n int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n < 1 || n > len(t.conns) {
		return t.blackhole
	}
	c := t.conns[n-1]
	return !c.ended && (c.dark || t.blackhole)
}

// pass is the fast path, taken when nothing armed on the link can change
// what passes in this direction: the chunk goes on untouched, and is framed
// and decoded for the trace right after (settle), off the latency path.
// The caller must pass data on, then call settle.
// at is when the chunk was read off the socket.
func (h *tapHalf) pass(data []byte, at time.Time) bool {
	h.t.mu.Lock()
	defer h.t.mu.Unlock()
	if !h.quick() {
		return false
	}
	h.pending = append(h.pending, chunk{data: data, at: at})
	return true
}

// quick says whether the fast path is safe now.
func (h *tapHalf) quick() bool {
	if h.c.ended || h.c.dark || h.t.blackhole || h.holding || h.target != nil {
		return false
	}
	for _, f := range h.t.cuts {
		if !f.done && f.cut.dir == h.dir {
			return false
		}
	}
	return true
}

// settle frames and decodes what passed on the fast path.
func (h *tapHalf) settle() {
	h.t.mu.Lock()
	defer h.t.mu.Unlock()
	h.catchUp()
}

func (h *tapHalf) catchUp() {
	for i, c := range h.pending {
		h.pending[i] = chunk{}
		h.out, h.decoded, h.now = nil, 0, c.at
		h.process(c.data)
		h.flush()
	}
	h.pending, h.out, h.now = h.pending[:0], nil, time.Time{}
}

// catchUp settles every half of the tap: state that decides what passes
// must not change under bytes that have already passed.
func (t *tap) catchUp() {
	for _, c := range t.conns {
		for _, h := range c.halves {
			if h != nil && len(h.pending) > 0 {
				h.catchUp()
			}
		}
	}
}

// settleAll settles every half; traces call it before they are read.
func (t *tap) settleAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.catchUp()
}

// feed takes a chunk the half received and returns the bytes to pass on,
// and whether the connection must end now.
func (h *tapHalf) feed(data []byte) (out []byte, end bool) {
	h.t.mu.Lock()
	defer h.t.mu.Unlock()
	h.t.catchUp()
	h.out, h.decoded = nil, 0
	h.process(data)
	h.flush()
	return h.out, h.c.ended
}

// eof is called when the half's source closed; held bytes are released.
func (h *tapHalf) eof() []byte {
	h.t.mu.Lock()
	defer h.t.mu.Unlock()
	h.t.catchUp()
	h.out, h.decoded = nil, 0
	if h.holding && len(h.hdr) > 0 && !h.c.ended {
		h.holding = false
		h.emit(h.hdr)
	}
	h.flush()
	return h.out
}

func (h *tapHalf) process(data []byte) {
	for len(data) > 0 {
		if why := h.vanishing(); why != "" {
			h.drop(data, why)
			return
		}
		if h.lost {
			h.emit(data)
			return
		}
		if h.off == 0 {
			h.start(data[0])
		}
		var n int
		switch {
		case h.size == 0:
			n = 1 // the fixed header, a byte at a time (at most 5)
		case h.holding:
			n = min(h.need()-h.off, len(data))
		default:
			n = min(h.size-h.off, len(data))
		}
		chunk := data[:n]
		data = data[n:]
		h.keep(chunk)
		h.off += n
		if h.size == 0 {
			head, ok, err := wire.ParseHeader(h.hdr)
			if err != nil {
				h.loseFraming(chunk, err)
				continue
			}
			if ok {
				h.head, h.size = head, head.Size()
			}
		}
		ok := true
		if !h.holding {
			ok = h.emit(chunk)
		} else if h.size != 0 && h.off >= h.need() {
			ok = h.decide()
		}
		if h.size != 0 && h.off == h.size {
			h.finish()
		}
		if !ok {
			h.drop(data, "after the cut")
			return
		}
	}
}

// need is how many bytes of the held packet must be seen to decide on it.
func (h *tapHalf) need() int {
	if !h.identify {
		return h.head.Len
	}
	return min(wire.IdentityLen(h.head, h.hdr), h.size)
}

// vanishing says why bytes must vanish now, or "".
func (h *tapHalf) vanishing() string {
	switch {
	case h.c.ended:
		return "after the cut"
	case h.c.dark:
		return "blackholed"
	case h.t.blackhole:
		return "blackholed"
	}
	return ""
}

// keepLimit bounds the prefix of a packet kept to describe it.
const keepLimit = 512

// keep records the first bytes of the packet in progress, for the trace.
func (h *tapHalf) keep(b []byte) {
	if h.holding {
		h.hdr = append(h.hdr, b...)
		return
	}
	if room := keepLimit - len(h.hdr); room > 0 && h.off < keepLimit {
		h.hdr = append(h.hdr, b[:min(room, len(b))]...)
	}
}

// start begins a packet: it is held back when an armed cut may target it.
func (h *tapHalf) start(first byte) {
	h.hdr, h.size, h.head = h.hdr[:0], 0, wire.Header{}
	h.pktStart = h.fwd
	h.holding, h.identify = false, false
	typ := wire.Type(first >> 4)
	for _, f := range h.t.cuts {
		if !f.done && f.cut.bytes < 0 && f.cut.dir == h.dir && f.cut.match.typeMatches(typ) {
			h.holding = true
			h.identify = h.identify || f.cut.match.needsIdentity()
		}
	}
}

func (h *tapHalf) finish() {
	h.off, h.size = 0, 0
	h.holding = false
}

// loseFraming gives up on packet boundaries after a malformed fixed
// header: the bytes still pass unchanged, only packet cuts stop working.
func (h *tapHalf) loseFraming(last []byte, err error) {
	h.lost = true
	pending := last
	if h.holding {
		pending = h.hdr
	}
	h.holding = false
	h.t.trace.add(Entry{Link: h.t.link, Conn: h.c.n, Dir: h.dir, Kind: Undecodable, Bytes: len(h.hdr),
		Note: "framing lost: " + err.Error() + "; bytes pass unchanged from here"})
	h.emit(pending)
}

// decide matches the held packet against the armed cuts and releases it.
func (h *tapHalf) decide() bool {
	p, err := wire.Decode(h.hdr, h.c.version)
	if err != nil && !errors.Is(err, wire.ErrIncomplete) {
		p.Malformed = err.Error()
	}
	for _, f := range h.t.cuts {
		if f.done || f.cut.bytes >= 0 || f.cut.dir != h.dir || !f.cut.match.matches(p) {
			continue
		}
		f.seen++
		if f.seen == f.cut.nth && h.target == nil {
			k := f.cut.at
			if k < 0 || k > h.size {
				k = h.size
			}
			h.target, h.cutPos = f, h.pktStart+int64(k)
		}
	}
	h.holding = false
	return h.emit(h.hdr[:h.off])
}

// emit passes b on, up to the point where an armed cut fires. It returns
// false when a cut fired (the rest of b vanishes).
func (h *tapHalf) emit(b []byte) bool {
	for {
		lim := len(b)
		if h.target != nil {
			lim = min(lim, int(h.cutPos-h.fwd))
		}
		var bc *Fault
		for _, f := range h.t.cuts {
			if !f.done && f.cut.bytes >= 0 && f.cut.dir == h.dir {
				if bc == nil || f.left < bc.left {
					bc = f
				}
			}
		}
		if bc != nil {
			lim = min(lim, bc.left)
		}
		if lim > 0 {
			h.out = append(h.out, b[:lim]...)
			h.fwd += int64(lim)
			for _, f := range h.t.cuts {
				if !f.done && f.cut.bytes >= 0 && f.cut.dir == h.dir {
					f.left -= lim
				}
			}
			b = b[lim:]
		}
		switch {
		case h.target != nil && h.fwd == h.cutPos:
			h.fire(h.target)
		case bc != nil && bc.left == 0:
			h.fire(bc)
		case len(b) == 0:
			return true
		default:
			continue
		}
		h.drop(b, "after the cut")
		return false
	}
}

// fire carries out f at the current position.
func (h *tapHalf) fire(f *Fault) {
	h.flush()
	h.t.catchUp() // the other direction's passed bytes are in the trace before the fault
	f.done = true
	h.t.removeCut(f)
	if h.target == f {
		h.target = nil
	}
	passed := int(h.fwd - h.pktStart)
	inPacket := h.size != 0 && h.off > 0 && passed < h.size && passed > 0
	now := time.Now()
	note := fmt.Sprintf("%s (connection %d)", f.cut, h.c.n)
	if inPacket {
		p, _ := wire.Decode(h.hdr, h.c.version)
		h.t.trace.add(Entry{At: now, Link: h.t.link, Conn: h.c.n, Dir: h.dir, Kind: Partial, Packet: p, Bytes: passed})
		h.skip = true
	}
	h.t.trace.add(Entry{At: now, Link: h.t.link, Conn: h.c.n, Dir: h.dir, Kind: Injected, Note: note})
	f.where = note
	close(f.fired)
	switch f.cut.style {
	case Blackhole:
		h.c.dark = true
	default:
		h.c.ended = true
		if h.t.onEnd != nil {
			h.t.onEnd(h.c.n, f.cut.style)
		}
	}
}

// drop decodes vanishing bytes for the trace and discards them.
func (h *tapHalf) drop(b []byte, why string) {
	if len(b) == 0 {
		return
	}
	h.flush()
	h.dropping = why
	h.dec.Feed(b, h.record)
	h.dropping = ""
}

// flush decodes the bytes passed on since the last flush, for the trace:
// once per chunk rather than once per emitted piece.
func (h *tapHalf) flush() {
	if h.decoded < len(h.out) {
		h.dec.Feed(h.out[h.decoded:], h.record)
		h.decoded = len(h.out)
	}
}

func (h *tapHalf) record(f wire.Frame) {
	t := h.t
	if f.Lost {
		t.trace.add(Entry{Link: t.link, Conn: h.c.n, Dir: h.dir, Kind: Undecodable, Bytes: f.Remaining, Note: "no MQTT framing"})
		return
	}
	if h.skip {
		h.skip = false
		return
	}
	if f.Type == wire.CONNECT && h.dir == ToBroker && f.ProtocolLevel != 0 {
		h.c.version = f.ProtocolLevel
		if other := h.c.halves[FromBroker]; other != nil {
			other.dec.Version = f.ProtocolLevel
		}
	}
	e := Entry{At: h.now, Link: t.link, Conn: h.c.n, Dir: h.dir, Kind: Passed, Packet: f.Packet}
	if h.dropping != "" {
		e.Kind, e.Note = Dropped, h.dropping
	}
	t.trace.add(e)
}
