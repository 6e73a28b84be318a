package framework

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// A resuming Client5 behaves as a real client with a persistent session:
// when its link is cut it reconnects by itself with Clean Start 0, and on
// a resumed session (Session Present 1) it sends again, in the order they
// began, the PUBLISHes the broker has not acknowledged, with DUP 1 and
// their packet ids, and the PUBRELs whose PUBCOMP has not come
// [MQTT-4.4.0-1]. As a receiver it keeps the ids of the QoS 2 messages it
// has acknowledged with PUBREC until their PUBREL, so a PUBLISH sent again
// reaches the application once (client5.go: unreleased).

// Resume5 makes the client resume its session by itself after its
// connection is lost (not after Drop or Disconnect, which are the spec's
// doing), and makes its Publish wait for the end of the QoS flow across
// reconnects. Without a Session Expiry Interval set before it, it sets
// one of 300 s: a session that ends with the connection cannot resume.
func Resume5() Option5 {
	return func(s *Settings5) {
		s.Resume = true
		if !Props(s.Properties).Has(wire.PropSessionExpiryInterval) {
			s.Properties = setProp(s.Properties, wire.Property{ID: wire.PropSessionExpiryInterval, Value: uint32(300)})
		}
	}
}

// resumeBound bounds how long a resuming client keeps trying to reconnect
// after a loss.
func resumeBound() time.Duration { return max(10*time.Second, 2*AckTimeout()) }

// resumeState is what a resuming client keeps; guarded by Client5.mu.
type resumeState struct {
	flows   []*flow5 // its own QoS 1 and 2 flows not yet ended, in the order they began
	running bool     // a reconnect loop runs
	again   bool     // the connection the loop opened was lost: go on
	stopped bool     // the client is closing: no more reconnects
	cancel  context.CancelFunc
	done    chan struct{} // closed when the running loop ends
	resends int           // PUBLISHes and PUBRELs sent again on resumed sessions
}

// flow5 is one of the client's own QoS 1 or 2 flows.
type flow5 struct {
	p         wire.Packet // the PUBLISH, with its packet id
	pubrel    bool        // its PUBREC came: the PUBREL is owed, not the PUBLISH
	abandoned bool        // the session it belonged to is gone
}

// resumeSession handles, under c.mu, an accepted CONNACK of a resuming
// client: on a resumed session it returns what must be sent again, in
// order; on a new one the client's flows are abandoned, as the session
// that held them is gone.
func (c *Client5) resumeSession(present bool) []wire.Packet {
	r := &c.resume
	if !present {
		for _, f := range r.flows {
			f.abandoned = true
		}
		r.flows = nil
		return nil
	}
	if !c.Settings.Resume {
		return nil
	}
	var out []wire.Packet
	for _, f := range r.flows {
		if f.pubrel {
			out = append(out, wire.PubRel(f.p.PacketID))
			continue
		}
		p := f.p
		p.DUP = true
		out = append(out, p)
	}
	r.resends += len(out)
	return out
}

// settleFlow follows, under c.mu, the broker's acknowledgement p of one of
// the client's flows: a PUBREC moves a QoS 2 flow on to its PUBREL; a
// PUBACK, a PUBCOMP or a refusing PUBREC ends the flow.
func (c *Client5) settleFlow(p wire.Packet) {
	r := &c.resume
	i := slices.IndexFunc(r.flows, func(f *flow5) bool { return f.p.PacketID == p.PacketID })
	if i < 0 {
		return
	}
	switch {
	case p.Type == wire.PUBREC && p.ReasonCode < 0x80 && r.flows[i].p.QoS == 2:
		r.flows[i].pubrel = true
	case p.Type == wire.PUBACK || p.Type == wire.PUBCOMP || p.Type == wire.PUBREC:
		r.flows = slices.Delete(r.flows, i, i+1)
	}
}

// resumeAfterLoss starts reconnecting a resuming client whose connection
// was lost, or tells the running loop to go on.
func (c *Client5) resumeAfterLoss() {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &c.resume
	if !c.Settings.Resume || r.stopped {
		return
	}
	if r.running {
		r.again = true
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), resumeBound())
	r.running, r.again, r.cancel, r.done = true, false, cancel, make(chan struct{})
	go c.reconnect(ctx, cancel, r.done)
}

// reconnect connects again with Clean Start 0 until a connection is up,
// the client closes or the bound passes. Each failed attempt waits a
// little longer before the next.
func (c *Client5) reconnect(ctx context.Context, cancel context.CancelFunc, done chan struct{}) {
	defer close(done)
	defer cancel()
	pause := 20 * time.Millisecond
	for {
		c.mu.Lock()
		s := c.Settings
		c.mu.Unlock()
		s.CleanStart = false
		_, err := c.connect(ctx, s)
		c.mu.Lock()
		r := &c.resume
		switch {
		case r.stopped || ctx.Err() != nil, err == nil && c.open && !r.again:
			r.running = false
			c.mu.Unlock()
			return
		}
		r.again = false
		c.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		pause = min(2*pause, 500*time.Millisecond)
	}
}

// stopResuming ends reconnecting for good and waits (bounded) for a
// running loop to end.
func (c *Client5) stopResuming() {
	c.mu.Lock()
	r := &c.resume
	r.stopped = true
	done, cancel := r.done, r.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if done != nil {
		select {
		case <-done:
		case <-time.After(AckTimeout()):
		}
	}
}

// Resends counts the PUBLISHes and PUBRELs the client sent again when it
// resumed its session.
func (c *Client5) Resends() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resume.resends
}

// Connections counts the connections the client opened.
func (c *Client5) Connections() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns
}

// publishResuming is PublishPacket for a resuming client's QoS 1 or 2
// PUBLISH: it waits (bounded) for a connection to send it on, and then
// for the end of its flow across reconnects, each wait bounded by
// AckTimeout.
func (c *Client5) publishResuming(ctx context.Context, p wire.Packet) (wire.Packet, error) {
	what := fmt.Sprintf("PUBLISH %q QoS %d", p.Payload, p.QoS)
	if err := c.wait(ctx, 0, fmt.Sprintf("%s: no connection to send its %s on", c.Name, what), func() (bool, error) {
		return c.open, nil
	}); err != nil {
		return wire.Packet{}, err
	}
	attempt := c.rec.Publish(c.Name, p.Topic, string(p.Payload), p.QoS, p.Retain)
	if p.Retain && len(p.Payload) > 0 && c.spec != nil {
		c.spec.Retained(p.Topic)
	}
	p.PacketID = c.takeID()
	defer c.freeID(p.PacketID)
	f := &flow5{p: p}
	c.mu.Lock()
	c.resume.flows = append(c.resume.flows, f)
	conn, since := c.conn, len(c.inbox)
	c.mu.Unlock()
	defer c.endFlow(f)
	if conn != nil {
		// A failed write is a lost connection: the flow is sent again
		// when the session resumes.
		_ = c.write(conn, p)
	}
	what = fmt.Sprintf("its %s (packet id %d)", what, p.PacketID)
	first := wire.PUBACK
	if p.QoS == 2 {
		first = wire.PUBREC
	}
	ack, err := c.awaitFlow(ctx, since, f, first, what)
	if err == nil && p.QoS == 2 && ack.ReasonCode < 0x80 {
		_, err = c.awaitFlow(ctx, since, f, wire.PUBCOMP, what+" after its PUBREL")
	}
	switch {
	case err != nil:
		attempt.Unknown()
		return ack, err
	case ack.ReasonCode >= 0x80:
		attempt.Failed(fmt.Errorf("%s %s", first, reason5(first, ack.ReasonCode)))
	default:
		attempt.Acked()
	}
	return ack, nil
}

// awaitFlow waits, across reconnects, for the broker's acknowledgement of
// type t of flow f.
func (c *Client5) awaitFlow(ctx context.Context, since int, f *flow5, t wire.Type, what string) (wire.Packet, error) {
	var ack wire.Packet
	err := c.waitAnswer(ctx, since, t, f.p.PacketID, fmt.Sprintf("%s: no %s for %s", c.Name, t, what), func() (bool, error) {
		for _, p := range c.got[f.p.PacketID] {
			if p.Type == t {
				ack = p
				return true, nil
			}
		}
		if f.abandoned {
			return false, fmt.Errorf("the client reconnected with Clean Start 0 and the broker's CONNACK said Session Present 0: the session holding it is gone")
		}
		if c.resume.stopped {
			return false, fmt.Errorf("the client was closed")
		}
		return false, nil
	})
	return ack, err
}

// endFlow forgets flow f.
func (c *Client5) endFlow(f *flow5) {
	c.mu.Lock()
	c.resume.flows = slices.DeleteFunc(c.resume.flows, func(g *flow5) bool { return g == f })
	c.mu.Unlock()
}

// Drain5 waits until sub has received every payload at least once, is
// connected, has no QoS 2 message waiting for its PUBREL, and its link has
// stayed quiet a while, or DrainTimeout passes; then it marks the
// subscriber drained in the history. It does not fail by itself: the
// checker judges what did or did not arrive.
func (f *Framework) Drain5(ctx context.Context, sub *Client5, payloads ...string) {
	f.drain(ctx, sub.Name, func() bool { return sub.drained(payloads) })
}

// drained says whether sub has every payload and has settled.
func (c *Client5) drained(payloads []string) bool {
	if !hasAll(c.Payloads(), payloads) {
		return false
	}
	if last, ok := c.Link.Trace().Last(); ok && time.Since(last.At) < quiet {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open && len(c.unreleased) == 0 && len(c.resume.flows) == 0
}

// InFlightPeak is the most QoS 1 and 2 PUBLISHes the broker had
// unacknowledged towards the client at any moment of connection conn of
// its link, as the link saw them: a PUBLISH counts from when it crossed
// towards the client until the client's PUBACK, PUBREC or PUBCOMP for its
// id crossed towards the broker. The broker sent each PUBLISH before the
// link saw it and read each acknowledgement after, so the broker's own
// count was never lower.
func (c *Client5) InFlightPeak(conn int) int {
	c.Link.Trace().Sync()
	out := map[uint16]bool{}
	peak := 0
	for _, e := range c.Link.Trace().Entries() {
		if e.Conn != conn || e.Kind != proxy.Passed {
			continue
		}
		p := e.Packet
		switch {
		case e.Dir == proxy.FromBroker && p.Type == wire.PUBLISH && p.QoS > 0:
			out[p.PacketID] = true
			peak = max(peak, len(out))
		case e.Dir == proxy.ToBroker && (p.Type == wire.PUBACK || p.Type == wire.PUBCOMP || p.Type == wire.PUBREC && p.ReasonCode >= 0x80):
			delete(out, p.PacketID)
		}
	}
	return peak
}

// Copies5 lists every PUBLISH of payload the broker sent the client that
// reached it whole, in order, with the connection it came on.
func (c *Client5) Copies5(payload string) []Inbound5 {
	var out []Inbound5
	for _, in := range c.Packets() {
		if in.Packet.Type == wire.PUBLISH && string(in.Packet.Payload) == payload {
			out = append(out, in)
		}
	}
	return out
}

// ExpectResentAsSent checks that every copy of payload that came to sub on
// a later connection than its first whole copy was a retransmission as
// MQTT 5.0 says: DUP 1 and the packet id of the first [MQTT-3.3.1-1,
// MQTT-4.4.0-1].
func ExpectResentAsSent(sub *Client5, payload string) {
	ginkgo.GinkgoHelper()
	copies := sub.Copies5(payload)
	if len(copies) == 0 {
		return // judged by the history: it never came whole
	}
	first := copies[0]
	for _, again := range copies[1:] {
		if again.Conn == first.Conn {
			continue
		}
		gomega.Expect(again.Packet.DUP).To(gomega.BeTrue(),
			"%s: the broker sent %q again on connection %d with DUP 0; a PUBLISH sent again must carry DUP 1 [MQTT-3.3.1-1]", sub.Name, payload, again.Conn)
		gomega.Expect(again.Packet.PacketID).To(gomega.Equal(first.Packet.PacketID),
			"%s: the broker sent %q again on connection %d with packet id %d, not its own %d [MQTT-4.4.0-1]", sub.Name, payload, again.Conn, again.Packet.PacketID, first.Packet.PacketID)
	}
}

// ExpectNoPublishAfterPubrec checks that once sub's PUBREC for payload had
// been answered with the broker's PUBREL, the broker never sent payload's
// PUBLISH again [MQTT-4.3.3-6]: the PUBREL is what it owes on a resumed
// session.
func ExpectNoPublishAfterPubrec(sub *Client5, payload string) {
	ginkgo.GinkgoHelper()
	copies := sub.Copies5(payload)
	if len(copies) == 0 {
		return
	}
	id := copies[0].Packet.PacketID
	var pubrelAt time.Time
	for _, in := range sub.Packets() {
		if in.Packet.Type == wire.PUBREL && in.Packet.PacketID == id && in.At.After(copies[0].At) {
			pubrelAt = in.At
			break
		}
	}
	if pubrelAt.IsZero() {
		return // the PUBREL never came whole: the history judges the rest
	}
	for _, again := range copies[1:] {
		gomega.Expect(again.At.Before(pubrelAt)).To(gomega.BeTrue(),
			"%s: the broker sent %q's PUBLISH again on connection %d after it had sent its PUBREL: after PUBREC it owes only PUBREL [MQTT-4.3.3-6]", sub.Name, payload, again.Conn)
	}
}

// ReleaseOneAck sends the oldest withheld acknowledgement alone and goes
// on withholding the others and those of later PUBLISHes: a client that
// takes its messages one at a time.
func (c *Client5) ReleaseOneAck() error {
	c.mu.Lock()
	if len(c.held) == 0 {
		c.mu.Unlock()
		return fmt.Errorf("%s: no withheld acknowledgement to send", c.Name)
	}
	ack, conn := c.held[0], c.conn
	c.held = c.held[1:]
	c.mu.Unlock()
	if conn == nil {
		return fmt.Errorf("%s: sending a withheld acknowledgement while not connected", c.Name)
	}
	if err := c.write(conn, ack); err != nil {
		return fmt.Errorf("%s: sending its withheld %s: %w", c.Name, ack, err)
	}
	return nil
}
