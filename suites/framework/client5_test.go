package framework

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline-mqtt/faultline/fixtures/embedded"
	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/suites/history"
)

// client5Env is the embedded broker behind a link server, for the 5.0
// client's own tests.
type client5Env struct {
	t     *testing.T
	links *proxy.Server
	rec   *history.Recorder
	n     int
}

func newClient5Env(t *testing.T) *client5Env {
	t.Helper()
	b, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return client5EnvTo(t, b.URL())
}

// client5EnvTo is a link server in front of the broker at url.
func client5EnvTo(t *testing.T, url string) *client5Env {
	t.Helper()
	up, err := proxy.ParseUpstream(url)
	if err != nil {
		t.Fatal(err)
	}
	links, err := proxy.Start(proxy.Options{Upstream: up})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = links.Close() })
	return &client5Env{t: t, links: links, rec: history.NewRecorder()}
}

func (e *client5Env) client(name string, opts ...Option5) *Client5 {
	e.t.Helper()
	l, err := e.links.Link(name)
	if err != nil {
		e.t.Fatal(err)
	}
	e.n++
	c := newClient5(l, name, fmt.Sprintf("c5test%d%s", e.n, name), e.rec, Settings5{CleanStart: true, KeepAlive: 30})
	for _, o := range opts {
		o(&c.Settings)
	}
	e.t.Cleanup(c.close)
	return c
}

func (e *client5Env) connect(c *Client5, opts ...Option5) wire.Packet {
	e.t.Helper()
	ack, err := c.Connect(context.Background(), opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return ack
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Messages at QoS 0, 1 and 2 cross the embedded broker with their
// properties, both QoS flows complete, and the history and the trace see
// them.
func TestClient5PublishesAndReceivesEveryQoSWithProperties(t *testing.T) {
	e := newClient5Env(t)
	ctx := context.Background()
	sub, pub := e.client("sub"), e.client("pub")
	ack := e.connect(sub)
	if ack.Version != wire.V5 || ack.ReasonCode != 0 {
		t.Fatalf("CONNACK %v", ack)
	}
	if _, ok := sub.Capability(wire.PropReceiveMaximum); !ok {
		t.Errorf("CONNACK properties not visible: %v", ack.Properties)
	}
	e.connect(pub)
	code, err := sub.Subscribe(ctx, "c5/t/#", 2, 0, SubscriptionID(42))
	if err != nil || code != 2 {
		t.Fatalf("SUBSCRIBE: code %d, %v", code, err)
	}
	for qos := range byte(3) {
		payload := fmt.Sprintf("m%d", qos)
		ack, err := pub.Publish(ctx, "c5/t/a", qos, payload, UserProp("k", "v"), Prop(wire.PropContentType, "text/plain"), Prop(wire.PropMessageExpiryInterval, 60))
		if err != nil {
			t.Fatalf("QoS %d: %v", qos, err)
		}
		if qos > 0 && ack.ReasonCode >= 0x80 {
			t.Errorf("QoS %d: ack %v", qos, ack)
		}
	}
	waitFor(t, "three messages", func() bool { return len(sub.Messages()) == 3 })
	for i, m := range sub.Messages() {
		if m.QoS != byte(i) || m.Topic != "c5/t/a" {
			t.Errorf("message %d: %+v", i, m)
		}
		if ct, _ := m.Props.Str(wire.PropContentType); ct != "text/plain" {
			t.Errorf("message %d: content type %q", i, ct)
		}
		if !slices.Equal(m.Props.User(), [][2]string{{"k", "v"}}) {
			t.Errorf("message %d: user properties %v", i, m.Props.User())
		}
		if ids := m.Props.Uints(wire.PropSubscriptionIdentifier); !slices.Equal(ids, []uint32{42}) {
			t.Errorf("message %d: subscription ids %v", i, ids)
		}
		if exp, ok := m.Props.Uint(wire.PropMessageExpiryInterval); !ok || exp > 60 || exp < 58 {
			t.Errorf("message %d: message expiry %d %v", i, exp, ok)
		}
	}
	// The QoS 2 flow ends with the client's PUBCOMP on the wire.
	waitFor(t, "PUBCOMP on sub's link", func() bool {
		for _, p := range sub.Link.Trace().Packets(proxy.ToBroker) {
			if p.Type == wire.PUBCOMP {
				return true
			}
		}
		return false
	})
	h := e.rec.History()
	delivered := 0
	for _, ev := range h.Events {
		if ev.Kind == history.KindDelivered {
			delivered++
		}
	}
	if delivered != 3 {
		t.Errorf("the history has %d deliveries, want 3", delivered)
	}
}

// A session with a Session Expiry Interval is there when the client comes
// back with Clean Start 0; Clean Start 1 discards it.
func TestClient5ResumesSessions(t *testing.T) {
	e := newClient5Env(t)
	c := e.client("c")
	e.connect(c, SessionExpiry(30))
	if err := c.Disconnect(0); err != nil {
		t.Fatal(err)
	}
	if ack := e.connect(c, CleanStart(false)); !ack.SessionPresent {
		t.Errorf("session not present: %v", ack)
	}
	c.Drop()
	if ack := e.connect(c, CleanStart(true)); ack.SessionPresent {
		t.Errorf("session present after Clean Start 1: %v", ack)
	}
}

// Withheld acknowledgements keep the broker's messages in flight: with a
// Receive Maximum of 2 it sends 2 and waits.
func TestClient5HoldsAcks(t *testing.T) {
	e := newClient5Env(t)
	ctx := context.Background()
	sub, pub := e.client("sub"), e.client("pub")
	e.connect(sub, ReceiveMaximum(2))
	e.connect(pub)
	if _, err := sub.Subscribe(ctx, "c5/rm", 1, 0); err != nil {
		t.Fatal(err)
	}
	sub.HoldAcks()
	for i := range 4 {
		if _, err := pub.Publish(ctx, "c5/rm", 1, fmt.Sprint("r", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "two messages", func() bool { return len(sub.Messages()) == 2 })
	time.Sleep(200 * time.Millisecond) // a unit test of the client: a pause shows the broker waits
	if n := len(sub.Messages()); n != 2 || sub.Unacknowledged() != 2 {
		t.Fatalf("%d messages, %d unacknowledged with acks held and Receive Maximum 2", n, sub.Unacknowledged())
	}
	if err := sub.ReleaseAcks(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "four messages", func() bool { return len(sub.Messages()) == 4 })
}

// A topic alias set by the client carries later PUBLISHes with an empty
// topic; subscription options reach the broker.
func TestClient5TopicAliasAndOptions(t *testing.T) {
	e := newClient5Env(t)
	ctx := context.Background()
	c := e.client("c")
	e.connect(c)
	if _, err := c.Subscribe(ctx, "c5/alias", 1, wire.NoLocal); err != nil {
		t.Fatal(err)
	}
	other := e.client("other")
	e.connect(other)
	if _, err := other.Subscribe(ctx, "c5/alias", 1, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublishPacket(ctx, wire.Publish("c5/alias", 1, 0, "a1", wire.Props(Prop(wire.PropTopicAlias, 3)))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublishPacket(ctx, wire.Publish("", 1, 0, "a2", wire.Props(Prop(wire.PropTopicAlias, 3)))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both on other", func() bool { return slices.Equal(other.Payloads(), []string{"a1", "a2"}) })
	if len(c.Messages()) != 0 {
		t.Errorf("No Local ignored: %v", c.Payloads())
	}
	if len(c.Problems()) != 0 || len(other.Problems()) != 0 {
		t.Errorf("problems: %v %v", c.Problems(), other.Problems())
	}
}

// A wait that gets no answer ends within the bound, and its error says
// what never came.
func TestClient5WaitsAreBoundedAndSayWhatNeverCame(t *testing.T) {
	e := newClient5Env(t)
	c := e.client("c")
	e.connect(c)
	c.Link.Blackhole()
	start := time.Now()
	_, err := c.Subscribe(context.Background(), "c5/never", 1, 0)
	if err == nil {
		t.Fatal("a SUBSCRIBE into a black hole was answered")
	}
	if took := time.Since(start); took > AckTimeout()+time.Second {
		t.Errorf("the wait took %v", took)
	}
	if !strings.Contains(err.Error(), "no SUBACK for its SUBSCRIBE c5/never") {
		t.Errorf("the error does not say what never came: %v", err)
	}
}
