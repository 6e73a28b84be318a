package framework

import (
	"context"
	"testing"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/suites/history"
)

// sentOn lists the packets of type t the client sent on connection conn
// of its link.
func sentOn(c *Client5, conn int, t wire.Type) []wire.Packet {
	c.Link.Trace().Sync()
	var out []wire.Packet
	for _, e := range c.Link.Trace().Entries() {
		if e.Conn == conn && e.Dir == proxy.ToBroker && e.Kind == proxy.Passed && e.Packet.Type == t {
			out = append(out, e.Packet)
		}
	}
	return out
}

// A resuming publisher whose link is cut right after its QoS 1 PUBLISH
// reconnects with Clean Start 0, sends the PUBLISH again with DUP 1 and
// the same packet id, and its Publish returns once the PUBACK came.
func TestClient5ResumesAndResendsAPublish(t *testing.T) {
	e := newClient5Env(t)
	ctx := context.Background()
	pub := e.client("pub", Resume5())
	e.connect(pub)
	if _, err := pub.Link.Arm(proxy.After(proxy.ToBroker, proxy.Publish(1))); err != nil {
		t.Fatal(err)
	}
	ack, err := pub.Publish(ctx, "c5/resume/a", 1, "r1")
	if err != nil || ack.Type != wire.PUBACK {
		t.Fatalf("Publish across the cut: %v, %v", ack, err)
	}
	if pub.Connections() < 2 || pub.Resends() < 1 {
		t.Fatalf("connections %d, resends %d: the client did not resume", pub.Connections(), pub.Resends())
	}
	first, again := sentOn(pub, 1, wire.PUBLISH), sentOn(pub, 2, wire.PUBLISH)
	if len(first) != 1 || len(again) != 1 {
		t.Fatalf("PUBLISHes on connection 1: %v, on connection 2: %v", first, again)
	}
	if !again[0].DUP || again[0].PacketID != first[0].PacketID || first[0].DUP {
		t.Errorf("sent %v, then again %v: want DUP 0 then DUP 1 with the same id", first[0], again[0])
	}
	connects := sentOn(pub, 2, wire.CONNECT)
	if len(connects) != 1 || connects[0].CleanStart {
		t.Errorf("the reconnect's CONNECT: %v, want Clean Start 0", connects)
	}
	for _, ev := range e.rec.History().Events {
		if ev.Kind == history.KindPublish && ev.Outcome != history.OutcomeAcked {
			t.Errorf("the history's publish: %+v, want acknowledged", ev)
		}
	}
}

// A resuming publisher whose link is cut after the broker's PUBREC sends
// the PUBREL again, not the PUBLISH, when it resumes.
func TestClient5ResumesAndResendsAPubrel(t *testing.T) {
	e := newClient5Env(t)
	ctx := context.Background()
	pub := e.client("pub", Resume5())
	e.connect(pub)
	if _, err := pub.Link.Arm(proxy.After(proxy.ToBroker, proxy.Match{Type: wire.PUBREL})); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(ctx, "c5/resume/b", 2, "r2"); err != nil {
		t.Fatal(err)
	}
	if got := sentOn(pub, 2, wire.PUBLISH); len(got) != 0 {
		t.Errorf("the PUBLISH was sent again after its PUBREC: %v", got)
	}
	if got := sentOn(pub, 2, wire.PUBREL); len(got) != 1 {
		t.Errorf("PUBRELs on the resumed connection: %v, want 1", got)
	}
}

// A resuming subscriber keeps its QoS 2 state across the cut: a PUBLISH
// the broker sends again after the PUBREC was lost reaches the
// application once.
func TestClient5DeliversAResentQoS2MessageOnce(t *testing.T) {
	e := newClient5Env(t)
	ctx := context.Background()
	sub, pub := e.client("sub", Resume5()), e.client("pub")
	e.connect(sub)
	e.connect(pub)
	if _, err := sub.Subscribe(ctx, "c5/resume/c", 2, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Link.Arm(proxy.Before(proxy.ToBroker, proxy.Match{Type: wire.PUBREC})); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(ctx, "c5/resume/c", 2, "r3"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the PUBLISH sent again", func() bool { return sub.Duplicates() == 1 })
	waitFor(t, "the PUBCOMP", func() bool { return len(sentOn(sub, 2, wire.PUBCOMP)) == 1 })
	if got := sub.Payloads(); len(got) != 1 {
		t.Errorf("delivered %v, want r3 once", got)
	}
}

// A resuming client that the spec closes does not come back.
func TestClient5StopsResumingWhenClosed(t *testing.T) {
	e := newClient5Env(t)
	c := e.client("c", Resume5())
	e.connect(c)
	c.close()
	c.Link.Cut()
	if c.Connections() != 1 || c.Connected() {
		t.Errorf("connections %d, connected %v after close", c.Connections(), c.Connected())
	}
}
