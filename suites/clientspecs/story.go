package clientspecs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/proxy/wire/topics"
	"github.com/faultline-mqtt/faultline/suites/framework"
)

// What the course's scenarios (scenarios.go) measure on the client's
// wire, to tell a student in plain words what their own client did.

// cutPoint is where a fired cut landed: the connection it ended, the
// index of its Injected entry, and when.
type cutPoint struct {
	conn *conn
	stop int
	at   time.Time
}

// firedCut finds the first fault Faultline injected on the client's link.
func firedCut(es []proxy.Entry) (cutPoint, bool) {
	for _, c := range connections(es) {
		for i, e := range c.entries {
			if e.Kind == proxy.Injected {
				return cutPoint{conn: c, stop: i, at: e.At}, true
			}
		}
	}
	return cutPoint{}, false
}

// victim is the client's PUBLISH the cut caught: the one it vanished
// (or tore) on its way to the broker, else the one whose acknowledgement
// from the broker the cut lost.
func (p cutPoint) victim() (wire.Packet, time.Time, bool) {
	// A torn packet's Partial entry comes just before the cut's.
	for _, e := range p.conn.entries[max(p.stop-1, 0):] {
		if e.Dir == proxy.ToBroker && (e.Kind == proxy.Dropped || e.Kind == proxy.Partial) && e.Packet.Type == wire.PUBLISH {
			return e.Packet, e.At, true
		}
	}
	for _, e := range p.conn.entries[p.stop:] {
		if e.Dir != proxy.FromBroker || e.Kind == proxy.Passed || e.Packet.Type == 0 {
			continue
		}
		for i := p.stop - 1; i >= 0; i-- {
			s := p.conn.entries[i]
			if s.Dir == proxy.ToBroker && s.Kind == proxy.Passed && s.Packet.Type == wire.PUBLISH && s.Packet.PacketID == e.Packet.PacketID {
				return s.Packet, s.At, true
			}
		}
	}
	return wire.Packet{}, time.Time{}, false
}

// reconnection waits for the client's first accepted connection after
// connection n and tells what it did: reconnected (the connection), or
// not, in a sentence the story uses.
func (s *subject) reconnection(ctx context.Context, n int, lost time.Time) (*conn, string) {
	es, _ := s.until(ctx, reconnectBound(), func(es []proxy.Entry) bool {
		return acceptedAfter(es, n) != nil || !s.prog.Running()
	})
	if next := acceptedAfter(es, n); next != nil {
		return next, fmt.Sprintf("Your client reconnected %s after the link dropped, with CleanSession=%d; the broker's CONNACK said session present = %d.",
			ago(lost, next.connectAt), bit(next.connect.CleanStart), bit(next.connack.SessionPresent))
	}
	if !s.prog.Running() {
		return nil, fmt.Sprintf("Your program ended (%s) %s after the link dropped, without reconnecting.", s.prog.Status(), ago(lost, s.prog.Ended()))
	}
	return nil, fmt.Sprintf("Your client did not reconnect within %v of the link dropping, although its program is still running.", reconnectBound())
}

// resent finds, on the client's connections after n, the message p sent
// again: the same identifier, or the same topic and payload under a new
// one. Waits at most answerBound.
func (s *subject) resent(ctx context.Context, n int, p wire.Packet) (proxy.Entry, bool) {
	find := func(es []proxy.Entry) (proxy.Entry, bool) {
		for _, c := range connections(es) {
			if c.n <= n {
				continue
			}
			for _, e := range c.sent() {
				q := e.Packet
				same := q.Topic == p.Topic && string(q.Payload) == string(p.Payload)
				if p.Topic == "" { // only the start of a torn packet was decoded
					same = p.QoS > 0 && q.PacketID == p.PacketID
				}
				if q.Type == wire.PUBLISH && same {
					return e, true
				}
			}
		}
		return proxy.Entry{}, false
	}
	es, _ := s.until(ctx, answerBound, func(es []proxy.Entry) bool { _, ok := find(es); return ok })
	return find(es)
}

// answered is when the broker acknowledged the client's PUBLISH e on the
// same connection (PUBACK or PUBREC with its id), waiting at most
// answerBound.
func (s *subject) answered(ctx context.Context, e proxy.Entry) (wire.Type, time.Time, bool) {
	find := func(es []proxy.Entry) (wire.Type, time.Time, bool) {
		for _, x := range es {
			if x.Conn == e.Conn && x.Dir == proxy.FromBroker && x.Kind == proxy.Passed && x.At.After(e.At) &&
				(x.Packet.Type == wire.PUBACK || x.Packet.Type == wire.PUBREC) && x.Packet.PacketID == e.Packet.PacketID {
				return x.Packet.Type, x.At, true
			}
		}
		return 0, time.Time{}, false
	}
	es, _ := s.until(ctx, answerBound, func(es []proxy.Entry) bool { _, _, ok := find(es); return ok })
	return find(es)
}

// delivered finds the broker's PUBLISH of payload to the client on a
// connection after n, and the client's acknowledgement of it, waiting at
// most bound for both.
func (s *subject) delivered(ctx context.Context, n int, payload string, bound time.Duration) (pub, ack proxy.Entry, got, acked bool) {
	find := func(es []proxy.Entry) (pub, ack proxy.Entry, got, acked bool) {
		for _, c := range connections(es) {
			if c.n <= n {
				continue
			}
			for _, e := range c.entries {
				switch {
				case !got && e.Dir == proxy.FromBroker && e.Kind == proxy.Passed && e.Packet.Type == wire.PUBLISH && string(e.Packet.Payload) == payload:
					pub, got = e, true
					if e.Packet.QoS == 0 {
						return pub, ack, true, true
					}
				case got && !acked && e.Dir == proxy.ToBroker && e.Kind == proxy.Passed && e.Packet.PacketID == pub.Packet.PacketID &&
					(e.Packet.Type == wire.PUBACK || e.Packet.Type == wire.PUBREC):
					ack, acked = e, true
				}
			}
			if got {
				return
			}
		}
		return
	}
	es, _ := s.until(ctx, bound, func(es []proxy.Entry) bool { _, _, _, a := find(es); return a })
	return find(es)
}

// subscribedAgain is when the client subscribed again to every filter of
// filters on a connection from n on, waiting at most answerBound.
func (s *subject) subscribedAgain(ctx context.Context, n int, filters []string) (time.Time, []string) {
	find := func(es []proxy.Entry) (time.Time, []string) {
		again := map[string]time.Time{}
		for _, c := range connections(es) {
			if c.n < n {
				continue
			}
			for _, e := range c.sent() {
				if e.Packet.Type == wire.SUBSCRIBE {
					for _, sub := range e.Packet.Subscriptions {
						if _, ok := again[sub.Filter]; !ok {
							again[sub.Filter] = e.At
						}
					}
				}
			}
		}
		var last time.Time
		var missing []string
		for _, f := range filters {
			at, ok := again[f]
			if !ok {
				missing = append(missing, f)
			}
			if at.After(last) {
				last = at
			}
		}
		return last, missing
	}
	es, _ := s.until(ctx, answerBound, func(es []proxy.Entry) bool { _, m := find(es); return len(m) == 0 })
	return find(es)
}

// endSession ends the client's session on the broker while its link is
// down, as a broker restart or a session expiry would: Faultline connects
// with its client id and CleanSession 1, and disconnects.
func (s *subject) endSession(ctx context.Context, id string) {
	ginkgo.GinkgoHelper()
	if id == "" {
		return // the broker assigned the id: no session outlives the connection
	}
	r := s.f.Raw(ctx, "faultline-session-end")
	hello := framework.ConnectPacket()
	hello.ClientID = id
	if _, err := r.Connect(hello); err != nil {
		ginkgo.Fail(fmt.Sprintf("Faultline could not end the client's session (CONNECT as %q): %v", id, err))
	}
	_ = r.Send(wire.Disconnect())
	_ = r.Close()
}

// printed counts the lines of the program's output holding text that it
// printed at or after t.
func (s *subject) printed(text string, t time.Time) int {
	n := 0
	for _, l := range s.prog.LinesSince(t) {
		if strings.Contains(l, text) {
			n++
		}
	}
	return n
}

// describePublish is a PUBLISH in a student's words.
func describePublish(p wire.Packet) string {
	id := ""
	if p.QoS > 0 {
		id = fmt.Sprintf(" id=%d", p.PacketID)
	}
	return fmt.Sprintf("PUBLISH%s at QoS %d on %q (payload %q)", id, p.QoS, p.Topic, preview(p.Payload))
}

func preview(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// ago renders a measured duration for a student: milliseconds under a
// second, tenths of a second above.
func ago(t0, t time.Time) string {
	d := t.Sub(t0)
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func bit(v bool) int {
	if v {
		return 1
	}
	return 0
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

// echoed counts the messages holding payload that the client published
// onward to its echo topic (CLIENT_ECHO), from the wire: a PUBLISH re-sent
// with DUP=1 under an id already seen for it is the same message, not a
// second delivery to the application.
func (s *subject) echoed(payload string) int {
	seen := map[uint16]bool{}
	n := 0
	for _, e := range s.entries() {
		p := e.Packet
		if e.Dir != proxy.ToBroker || e.Kind != proxy.Passed || p.Type != wire.PUBLISH || !strings.Contains(string(p.Payload), payload) {
			continue
		}
		if !topics.Match(s.echo, p.Topic) && p.Topic != s.echo {
			continue
		}
		if p.QoS > 0 && p.DUP && seen[p.PacketID] {
			continue
		}
		seen[p.PacketID] = true
		n++
	}
	return n
}
