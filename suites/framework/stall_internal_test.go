package framework

import (
	"strings"
	"testing"
	"time"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
)

func TestOwedAnswers(t *testing.T) {
	t.Setenv(EnvAckTimeout, "2s")
	t0 := time.Now()
	pass := func(o *owed, dir proxy.Direction, conn int, at time.Duration, p wire.Packet) {
		o.track(proxy.Entry{At: t0.Add(at), Conn: conn, Dir: dir, Kind: proxy.Passed, Packet: p})
	}
	pkt := func(typ wire.Type, id uint16, qos byte) wire.Packet {
		return wire.Packet{Header: wire.Header{Type: typ}, QoS: qos, PacketID: id}
	}
	pubcomp := answerKey{wire.PUBCOMP, 7}

	var o owed
	pass(&o, proxy.ToBroker, 1, 0, pkt(wire.PUBLISH, 7, 2))
	pass(&o, proxy.FromBroker, 1, 10*time.Millisecond, pkt(wire.PUBREC, 7, 0))
	pass(&o, proxy.ToBroker, 1, 20*time.Millisecond, pkt(wire.PUBREL, 7, 0))
	if _, _, late := o.overdue(t0.Add(time.Second), pubcomp, answerKey{wire.PUBREC, 7}); late {
		t.Fatal("overdue within the bound")
	}
	_, text, late := o.overdue(t0.Add(3*time.Second), pubcomp, answerKey{wire.PUBREC, 7})
	if want := "the broker never sent PUBCOMP for packet id 7 (PUBREL sent 3.0 s ago)"; !late || text != want {
		t.Fatalf("overdue: %q %v, want %q", text, late, want)
	}
	pass(&o, proxy.FromBroker, 1, 2500*time.Millisecond, pkt(wire.PUBCOMP, 7, 0))
	if _, _, late := o.overdue(t0.Add(3*time.Second), pubcomp); late {
		t.Fatal("overdue once answered")
	}

	// Once one PUBCOMP is overdue, another is not waited for.
	var two owed
	pass(&two, proxy.ToBroker, 1, 0, pkt(wire.PUBREL, 1, 0))
	pass(&two, proxy.ToBroker, 1, 2500*time.Millisecond, pkt(wire.PUBLISH, 2, 2))
	_, text, late = two.overdue(t0.Add(2600*time.Millisecond), answerKey{wire.PUBCOMP, 2}, answerKey{wire.PUBREC, 2})
	if want := "the broker never sent PUBCOMP for packet id 1 (PUBREL sent 2.6 s ago); not waited for its own PUBCOMP"; !late || text != want {
		t.Fatalf("second PUBCOMP: %q %v, want %q", text, late, want)
	}

	// An answer a fault kept away is not missing.
	var cut owed
	pass(&cut, proxy.ToBroker, 1, 0, pkt(wire.PUBLISH, 3, 1))
	cut.track(proxy.Entry{At: t0.Add(time.Second), Conn: 1, Kind: proxy.Injected, Note: "cut"})
	if _, _, late := cut.overdue(t0.Add(5*time.Second), answerKey{wire.PUBACK, 3}); late {
		t.Fatal("overdue on a connection a fault cut")
	}
	var dropped owed
	pass(&dropped, proxy.ToBroker, 1, 0, pkt(wire.SUBSCRIBE, 4, 0))
	dropped.track(proxy.Entry{At: t0.Add(time.Second), Conn: 1, Dir: proxy.FromBroker, Kind: proxy.Dropped, Packet: pkt(wire.SUBACK, 4, 0)})
	if _, _, late := dropped.overdue(t0.Add(5*time.Second), answerKey{wire.SUBACK, 4}); late {
		t.Fatal("overdue though the broker sent it")
	}

	// A connection that ended after the answer was overdue excuses
	// nothing: a client that reconnected does not wait out the bound
	// again for the same answer.
	var again owed
	again.follow(func(conn int) bool { return conn == 2 })
	pass(&again, proxy.ToBroker, 1, 0, pkt(wire.PUBREL, 1, 0))
	again.track(proxy.Entry{At: t0.Add(2500 * time.Millisecond), Conn: 1, Kind: proxy.Injected, Note: "reset"})
	pass(&again, proxy.ToBroker, 2, 2600*time.Millisecond, pkt(wire.PUBREL, 2, 0))
	_, text, late = again.overdue(t0.Add(2700*time.Millisecond), answerKey{wire.PUBCOMP, 2})
	if want := "the broker never sent PUBCOMP for packet id 1 (PUBREL sent 2.7 s ago); not waited for its own PUBCOMP"; !late || text != want {
		t.Fatalf("after a reconnect: %q %v, want %q", text, late, want)
	}
	var early owed
	early.follow(func(conn int) bool { return conn == 2 })
	pass(&early, proxy.ToBroker, 1, 0, pkt(wire.PUBREL, 1, 0))
	early.track(proxy.Entry{At: t0.Add(time.Second), Conn: 1, Kind: proxy.Injected, Note: "reset"})
	pass(&early, proxy.ToBroker, 2, 2600*time.Millisecond, pkt(wire.PUBREL, 2, 0))
	if _, text, late := early.overdue(t0.Add(2700*time.Millisecond), answerKey{wire.PUBCOMP, 2}); late {
		t.Fatalf("a connection cut while the answer was due counted: %q", text)
	}

	// A client that gives up on a CONNACK does not excuse the broker; a
	// broker that closes the connection is no stall.
	var conn owed
	pass(&conn, proxy.ToBroker, 1, 0, wire.Connect(""))
	conn.track(proxy.Entry{At: t0.Add(1900 * time.Millisecond), Conn: 1, Kind: proxy.Event, Note: "client closed the connection"})
	if _, text, late := conn.overdue(t0.Add(2*time.Second), answerKey{wire.CONNACK, 0}); !late || !strings.HasPrefix(text, "the broker never sent CONNACK (CONNECT sent 2.0 s ago)") {
		t.Fatalf("CONNACK: %q %v", text, late)
	}
	var refused owed
	pass(&refused, proxy.ToBroker, 1, 0, wire.Connect(""))
	refused.track(proxy.Entry{At: t0.Add(time.Second), Conn: 1, Kind: proxy.Event, Note: "broker closed the connection"})
	if _, _, late := refused.overdue(t0.Add(3*time.Second), answerKey{wire.CONNACK, 0}); late {
		t.Fatal("overdue CONNACK on a connection the broker closed")
	}
}

func TestAckTimeout(t *testing.T) {
	for v, want := range map[string]time.Duration{"": defaultAckTimeout, "1500ms": 1500 * time.Millisecond, "7": 7 * time.Second, "2.5": 2500 * time.Millisecond} {
		t.Setenv(EnvAckTimeout, v)
		t.Setenv(EnvPublic, "0")
		if got := ackTimeout(); got != want {
			t.Errorf("%s=%q: %v, want %v", EnvAckTimeout, v, got, want)
		}
	}
	t.Setenv(EnvAckTimeout, "")
	t.Setenv(EnvPublic, "1")
	if got := ackTimeout(); got != publicAckTimeout {
		t.Errorf("public mode: %v, want %v", got, publicAckTimeout)
	}
}
