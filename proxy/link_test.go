package proxy_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/faultline-mqtt/faultline/fixtures/embedded"
	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// rawClient speaks MQTT with hand-built packets, so tests know every byte.
type rawClient struct {
	t    *testing.T
	conn net.Conn
}

func dial(t *testing.T, l *proxy.Link) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", l.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, conn: c}
}

func (r *rawClient) send(p wire.Packet) {
	r.t.Helper()
	if _, err := r.conn.Write(wire.Encode(p)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawClient) read() (wire.Packet, error) {
	_ = r.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, err := wire.ReadPacket(r.conn, 1<<20)
	if err != nil {
		return wire.Packet{}, err
	}
	return wire.Decode(b, wire.V311)
}

func (r *rawClient) expect(t wire.Type) wire.Packet {
	r.t.Helper()
	p, err := r.read()
	if err != nil {
		r.t.Fatalf("waiting for %s: %v", t, err)
	}
	if p.Type != t {
		r.t.Fatalf("got %s, want %s", p, t)
	}
	return p
}

func (r *rawClient) connect(id string) {
	r.send(wire.Packet{Header: wire.Header{Type: wire.CONNECT}, ProtocolName: "MQTT", ProtocolLevel: 4, CleanStart: true, KeepAlive: 30, ClientID: id})
	r.expect(wire.CONNACK)
}

func start(t *testing.T) (*proxy.Server, *embedded.Broker) {
	t.Helper()
	b, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	up, err := proxy.ParseUpstream(b.URL())
	if err != nil {
		t.Fatal(err)
	}
	s, err := proxy.Start(proxy.Options{Upstream: up})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, b
}

func TestCutAfterPacketStopsTheAck(t *testing.T) {
	s, _ := start(t)
	l, err := s.Link("pub")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, l)
	c.connect("pub1")
	f := l.CutAfter(proxy.ToBroker, proxy.Publish(1))
	c.send(wire.Packet{Header: wire.Header{Type: wire.PUBLISH}, QoS: 1, PacketID: 7, Topic: "a/b", Payload: []byte("hello")})
	select {
	case <-f.Fired():
	case <-time.After(2 * time.Second):
		t.Fatal("cut did not fire")
	}
	if p, err := c.read(); err == nil {
		t.Fatalf("read %s after the cut", p)
	}
	out := proxy.Format(l.Trace().Entries(), time.Time{}, 0)
	fmt.Println(out)
	if !strings.Contains(out, "PUBLISH") || !strings.Contains(out, "FAULT") {
		t.Fatalf("trace lacks the publish or the fault:\n%s", out)
	}
}
