package proxy

import (
	"fmt"
	"strings"

	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// Style is how a cut ends the connection.
type Style int

const (
	// Reset ends the connection with a TCP RST on both sides, once the
	// bytes let through before the cut have left.
	Reset Style = iota
	// Close ends it with a FIN on both sides, after every byte let through.
	Close
	// Blackhole stops forwarding in both directions and keeps both sockets
	// open: bytes vanish, nothing tells either side.
	Blackhole
)

func (s Style) String() string {
	switch s {
	case Reset:
		return "reset"
	case Close:
		return "close"
	case Blackhole:
		return "blackhole"
	}
	return "?"
}

// Match selects packets. Zero fields match anything.
type Match struct {
	Type     wire.Type
	PacketID uint16
	Topic    string
	// QoS matches PUBLISH packets of this QoS when HasQoS is set.
	QoS    byte
	HasQoS bool
	// DUP matches only PUBLISH packets with DUP=1 when set.
	DUP bool
}

// Packet matches packets of type t.
func Packet(t wire.Type) Match { return Match{Type: t} }

// Publish matches PUBLISH packets of the given QoS.
func Publish(qos byte) Match { return Match{Type: wire.PUBLISH, QoS: qos, HasQoS: true} }

// ID narrows m to one packet id.
func (m Match) ID(id uint16) Match { m.PacketID = id; return m }

// On narrows m to one topic.
func (m Match) On(topic string) Match { m.Topic = topic; return m }

// Dup narrows m to PUBLISH packets with DUP=1.
func (m Match) Dup() Match { m.DUP = true; return m }

// needsIdentity says whether m looks past the first byte of a packet.
func (m Match) needsIdentity() bool { return m.PacketID != 0 || m.Topic != "" }

func (m Match) typeMatches(t wire.Type) bool { return m.Type == 0 || m.Type == t }

// Matches says whether packet p is one m selects.
func (m Match) Matches(p wire.Packet) bool { return m.matches(p) }

func (m Match) matches(p wire.Packet) bool {
	switch {
	case !m.typeMatches(p.Type):
		return false
	case m.PacketID != 0 && p.PacketID != m.PacketID:
		return false
	case m.Topic != "" && p.Topic != m.Topic:
		return false
	case m.HasQoS && (p.Type != wire.PUBLISH || p.QoS != m.QoS):
		return false
	case m.DUP && (p.Type != wire.PUBLISH || !p.DUP):
		return false
	}
	return true
}

func (m Match) String() string {
	var b strings.Builder
	if m.Type == 0 {
		b.WriteString("any packet")
	} else {
		b.WriteString(m.Type.String())
	}
	if m.HasQoS {
		fmt.Fprintf(&b, " QoS %d", m.QoS)
	}
	if m.DUP {
		b.WriteString(" DUP")
	}
	if m.PacketID != 0 {
		fmt.Fprintf(&b, " id=%d", m.PacketID)
	}
	if m.Topic != "" {
		fmt.Fprintf(&b, " on %q", m.Topic)
	}
	return b.String()
}

// Cut says where a cut lands. Build it with Before, After, Into or
// AfterBytes, then refine it with Nth and With.
type Cut struct {
	dir   Direction
	match Match
	nth   int // fire on the nth matching packet from now (1-based)
	at    int // bytes of the target packet that pass; -1: all of it
	bytes int // for byte cuts: bytes that pass from now; -1: a packet cut
	style Style
}

// Before cuts dir just before the first packet matching m: none of it passes.
func Before(dir Direction, m Match) Cut { return Cut{dir: dir, match: m, nth: 1, at: 0, bytes: -1} }

// After cuts dir right after the first packet matching m has passed whole.
func After(dir Direction, m Match) Cut { return Cut{dir: dir, match: m, nth: 1, at: -1, bytes: -1} }

// Into cuts dir k bytes into the first packet matching m: a truly
// mid-packet cut.
func Into(dir Direction, m Match, k int) Cut {
	return Cut{dir: dir, match: m, nth: 1, at: k, bytes: -1}
}

// AfterBytes cuts dir once n more bytes have passed.
func AfterBytes(dir Direction, n int) Cut { return Cut{dir: dir, bytes: n} }

// Nth moves the cut to the nth matching packet (1-based).
func (c Cut) Nth(n int) Cut { c.nth = n; return c }

// With sets how the cut ends the connection (Reset by default).
func (c Cut) With(s Style) Cut { c.style = s; return c }

func (c Cut) String() string {
	if c.bytes >= 0 {
		return fmt.Sprintf("%s after %d more bytes %s", c.style, c.bytes, c.dir)
	}
	nth := ""
	if c.nth > 1 {
		nth = fmt.Sprintf(" #%d", c.nth)
	}
	where := "before"
	switch {
	case c.at < 0:
		where = "after"
	case c.at > 0:
		where = fmt.Sprintf("%d bytes into", c.at)
	}
	return fmt.Sprintf("%s %s %s%s %s", c.style, where, c.match, nth, c.dir)
}

func (c Cut) validate() error {
	switch {
	case c.dir != ToBroker && c.dir != FromBroker:
		return fmt.Errorf("cut %s: a cut needs one direction, ToBroker or FromBroker", c)
	case c.bytes < 0 && c.nth < 1:
		return fmt.Errorf("cut %s: Nth counts from 1", c)
	}
	return nil
}
