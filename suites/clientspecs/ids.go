package clientspecs

import (
	"fmt"
	"slices"
	"time"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// pending is a packet of the client's whose identifier is in use: a QoS 1
// or 2 PUBLISH not yet finished, a SUBSCRIBE or UNSUBSCRIBE not yet
// acknowledged.
type pending struct {
	kind     wire.Type
	id       uint16
	qos      byte
	topic    string
	released bool // QoS 2: PUBREL sent; only the PUBREL may be re-sent
	at       time.Time
	order    int
}

func (p *pending) String() string {
	switch {
	case p.kind != wire.PUBLISH:
		return fmt.Sprintf("%s id=%d", p.kind, p.id)
	case p.released:
		return fmt.Sprintf("QoS 2 PUBLISH id=%d on %q, released (PUBREL sent, no PUBCOMP yet)", p.id, p.topic)
	}
	return fmt.Sprintf("QoS %d PUBLISH id=%d on %q", p.qos, p.id, p.topic)
}

// idTracker replays one connection and follows the identifiers the client
// has in use, noting every misuse.
type idTracker struct {
	start    time.Time
	inUse    map[uint16]*pending
	seq      int
	problems []string
	carrying int // packets that carried an identifier
}

func newIDTracker(start time.Time) *idTracker {
	return &idTracker{start: start, inUse: map[uint16]*pending{}}
}

// replay feeds the tracker a connection's entries, up to (not including)
// the entry at index stop (-1: all).
func (t *idTracker) replay(c *conn, stop int) {
	for i, e := range c.entries {
		if stop >= 0 && i >= stop {
			break
		}
		switch {
		case e.Dir == proxy.ToBroker && (e.Kind == proxy.Passed || e.Kind == proxy.Dropped && e.Packet.Type != 0):
			t.sent(e)
		case e.Dir == proxy.FromBroker && e.Kind == proxy.Passed:
			t.received(e.Packet)
		}
	}
}

func (t *idTracker) at(e proxy.Entry) string { return since(t.start, e.At) }

func (t *idTracker) sent(e proxy.Entry) {
	p := e.Packet
	switch p.Type {
	case wire.PUBLISH, wire.SUBSCRIBE, wire.UNSUBSCRIBE:
	case wire.PUBREL:
		if q := t.inUse[p.PacketID]; q != nil && q.kind == wire.PUBLISH && q.qos == 2 {
			q.released = true
		}
		return
	default:
		return
	}
	if p.Type == wire.PUBLISH && p.QoS == 0 {
		return
	}
	t.carrying++
	what := p.Type.String()
	if p.Type == wire.PUBLISH {
		what = fmt.Sprintf("QoS %d PUBLISH on %q", p.QoS, p.Topic)
	}
	if p.PacketID == 0 {
		t.problems = append(t.problems, fmt.Sprintf("at %s it sent a %s with packet identifier 0 [MQTT-2.3.1-1]", t.at(e), what))
		return
	}
	if q := t.inUse[p.PacketID]; q != nil {
		if p.Type == wire.PUBLISH && p.DUP && q.kind == wire.PUBLISH && !q.released && q.topic == p.Topic {
			return // a re-send of the same message
		}
		t.problems = append(t.problems, fmt.Sprintf("at %s it sent a new %s with id %d while its %s, sent at %s, was still unacknowledged [MQTT-2.3.1-2]",
			t.at(e), what, p.PacketID, q, since(t.start, q.at)))
		return
	}
	t.seq++
	t.inUse[p.PacketID] = &pending{kind: p.Type, id: p.PacketID, qos: p.QoS, topic: p.Topic, at: e.At, order: t.seq}
}

func (t *idTracker) received(p wire.Packet) {
	q := t.inUse[p.PacketID]
	if q == nil {
		return
	}
	switch {
	case p.Type == wire.PUBACK && q.kind == wire.PUBLISH && q.qos == 1,
		p.Type == wire.PUBCOMP && q.kind == wire.PUBLISH && q.qos == 2,
		p.Type == wire.SUBACK && q.kind == wire.SUBSCRIBE,
		p.Type == wire.UNSUBACK && q.kind == wire.UNSUBSCRIBE:
		delete(t.inUse, p.PacketID)
	}
}

// unfinished are the client's unfinished messages, in the order it sent them.
func (t *idTracker) unfinished() []*pending {
	var out []*pending
	for _, q := range t.inUse {
		if q.kind == wire.PUBLISH {
			out = append(out, q)
		}
	}
	slices.SortFunc(out, func(a, b *pending) int { return a.order - b.order })
	return out
}
