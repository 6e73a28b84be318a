package history

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Wire helpers. Times are in milliseconds; flags may contain "dup", "cut",
// and for CONNACK "present" (session present) and "refused" (return code 5).

func (b *hb) wire(c string, conn, at int, fromBroker bool, typ string, id uint16, qos byte, flags ...string) *hb {
	e := Event{Kind: KindWire, Client: c, At: ms(at), Conn: conn, FromBroker: fromBroker, Packet: typ, PacketID: id, QoS: qos,
		Dup: slices.Contains(flags, "dup"), Cut: slices.Contains(flags, "cut"), SessionPresent: slices.Contains(flags, "present")}
	if slices.Contains(flags, "refused") {
		e.ReturnCode = 5
	}
	return b.add(e)
}

// connack records an accepted CONNACK (with CONNECT before it) on conn.
func (b *hb) connack(c string, conn, at int, present bool) *hb {
	flags := []string{}
	if present {
		flags = append(flags, "present")
	}
	return b.wire(c, conn, at-1, false, "CONNECT", 0, 0).wire(c, conn, at, true, "CONNACK", 0, 0, flags...)
}

// bpub records a PUBLISH from the broker.
func (b *hb) bpub(c string, conn, at int, id uint16, qos byte, flags ...string) *hb {
	return b.wire(c, conn, at, true, "PUBLISH", id, qos, flags...)
}

// bk records another packet from the broker (PUBREL, CONNACK, ...).
func (b *hb) bk(c string, conn, at int, typ string, id uint16, flags ...string) *hb {
	return b.wire(c, conn, at, true, typ, id, 0, flags...)
}

// cl records a packet from the client (PUBACK, PUBREC, PUBCOMP, ...).
func (b *hb) cl(c string, conn, at int, typ string, id uint16, flags ...string) *hb {
	return b.wire(c, conn, at, false, typ, id, 0, flags...)
}

// link starts the subscriber's link: connection 1 accepted at 1, new session.
func link() *hb { return build().connack("sub", 1, 1, false) }

// wantWire checks the violation of rule names sub, the connection and the
// packet id.
func wantWire(rule string, conn int, id uint16) func(t *testing.T, v Verdict) {
	return func(t *testing.T, v Verdict) {
		t.Helper()
		for _, x := range v.ByRule(rule) {
			if x.Subscriber == "sub" && x.Conn == conn && strings.Contains(x.Detail, fmt.Sprintf("packet id %d", id)) &&
				strings.Contains(x.Detail, fmt.Sprintf("connection %d", conn)) && len(x.Statements) > 0 {
				return
			}
		}
		t.Errorf("no %s naming sub, connection %d and packet id %d:\n%s", rule, conn, id, dump(v))
	}
}

func TestWireRedeliveryWithoutDup(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "QoS 1 re-sent after a session-present reconnect with DUP=0", rule: RuleWireRedeliveryWithoutDup,
			h: link().bpub("sub", 1, 10, 7, 1).cl("sub", 1, 20, "PUBACK", 7, "cut").
				connack("sub", 2, 100, true).bpub("sub", 2, 110, 7, 1),
			check: wantWire(RuleWireRedeliveryWithoutDup, 2, 7)},
		{name: "cut PUBLISH re-sent with DUP=0", rule: RuleWireRedeliveryWithoutDup,
			h: link().bpub("sub", 1, 10, 7, 1, "cut").connack("sub", 2, 100, true).bpub("sub", 2, 110, 7, 1),
			check: func(t *testing.T, v Verdict) {
				wantWire(RuleWireRedeliveryWithoutDup, 2, 7)(t, v)
				if d := v.Violations[0].Detail; !strings.Contains(d, "first sent on connection 1 at 10ms (cut)") {
					t.Errorf("detail %q does not say the first send was cut", d)
				}
			}},
		{name: "QoS 2 re-sent before PUBREC with DUP=0", rule: RuleWireRedeliveryWithoutDup,
			h: link().bpub("sub", 1, 10, 3, 2).cl("sub", 1, 20, "PUBREC", 3, "cut").
				connack("sub", 2, 100, true).bpub("sub", 2, 110, 3, 2),
			check: wantWire(RuleWireRedeliveryWithoutDup, 2, 3)},
		{name: "re-sent on the same connection with DUP=0", rule: RuleWireRedeliveryWithoutDup,
			h:     link().bpub("sub", 1, 10, 5, 1).bpub("sub", 1, 20, 5, 1),
			check: wantWire(RuleWireRedeliveryWithoutDup, 1, 5)},
		{name: "a refused connection keeps the session", rule: RuleWireRedeliveryWithoutDup,
			h: link().bpub("sub", 1, 10, 7, 1, "cut").
				cl("sub", 2, 50, "CONNECT", 0).bk("sub", 2, 51, "CONNACK", 0, "refused").
				connack("sub", 3, 100, true).bpub("sub", 3, 110, 7, 1),
			check: wantWire(RuleWireRedeliveryWithoutDup, 3, 7)},
		{name: "a cut CONNECT in between does not touch the session", rule: RuleWireRedeliveryWithoutDup,
			h: link().bpub("sub", 1, 10, 7, 1, "cut").cl("sub", 2, 50, "CONNECT", 0, "cut").
				connack("sub", 3, 100, true).bpub("sub", 3, 110, 7, 1),
			check: wantWire(RuleWireRedeliveryWithoutDup, 3, 7)},
		{name: "second copy without DUP after a DUP copy", rule: RuleWireRedeliveryWithoutDup,
			h: link().bpub("sub", 1, 10, 7, 1, "cut").connack("sub", 2, 100, true).bpub("sub", 2, 110, 7, 1, "dup", "cut").
				connack("sub", 3, 200, true).bpub("sub", 3, 210, 7, 1),
			check: wantWire(RuleWireRedeliveryWithoutDup, 3, 7)},

		{name: "re-sent with DUP=1 after a session-present reconnect",
			h: link().bpub("sub", 1, 10, 7, 1).cl("sub", 1, 20, "PUBACK", 7, "cut").
				connack("sub", 2, 100, true).bpub("sub", 2, 110, 7, 1, "dup").cl("sub", 2, 120, "PUBACK", 7)},
		{name: "cut PUBLISH re-sent with DUP=1",
			h: link().bpub("sub", 1, 10, 7, 2, "cut").connack("sub", 2, 100, true).bpub("sub", 2, 110, 7, 2, "dup")},
		{name: "clean reconnect reuses the id with DUP=0",
			h: link().bpub("sub", 1, 10, 7, 1).cl("sub", 1, 20, "PUBACK", 7, "cut").
				connack("sub", 2, 100, false).bpub("sub", 2, 110, 7, 1)},
		{name: "cut CONNACK in between: the session may have been replaced",
			h: link().bpub("sub", 1, 10, 7, 1, "cut").
				cl("sub", 2, 50, "CONNECT", 0).bk("sub", 2, 51, "CONNACK", 0, "cut").
				connack("sub", 3, 100, true).bpub("sub", 3, 110, 7, 1)},
		{name: "CONNECT answered unseen in between: the session may have been replaced",
			h: link().bpub("sub", 1, 10, 7, 1, "cut").cl("sub", 2, 50, "CONNECT", 0).
				connack("sub", 3, 100, true).bpub("sub", 3, 110, 7, 1)},
		{name: "first accepted connection says session present",
			h: build().connack("sub", 1, 1, true).bpub("sub", 1, 10, 7, 1, "dup").cl("sub", 1, 20, "PUBACK", 7).
				bpub("sub", 1, 30, 7, 1)},
		{name: "packets before any CONNACK are not judged",
			h: build().bpub("sub", 1, 10, 7, 1).bpub("sub", 1, 20, 7, 1),
			check: func(t *testing.T, v Verdict) {
				if len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], "no accepted CONNACK") {
					t.Errorf("warnings %q", v.Warnings)
				}
			}},
		{name: "another client's link has its own ids",
			h: link().connack("other", 1, 1, false).bpub("sub", 1, 10, 7, 1).bpub("other", 1, 11, 7, 1)},
	})
}

func TestWirePublishAfterPubrec(t *testing.T) {
	// flow: QoS 2 PUBLISH 3 on connection 1, PUBREC 3 from the client.
	flow := func() *hb { return link().bpub("sub", 1, 10, 3, 2).cl("sub", 1, 20, "PUBREC", 3) }
	runCases(t, []ruleCase{
		{name: "PUBLISH instead of PUBREL after a DISCONNECT and a reconnect", rule: RuleWirePublishAfterPubrec,
			h:     flow().cl("sub", 1, 30, "DISCONNECT", 0).connack("sub", 2, 100, true).bpub("sub", 2, 110, 3, 2, "dup"),
			check: wantWire(RuleWirePublishAfterPubrec, 2, 3)},
		{name: "PUBLISH instead of PUBREL after a DISCONNECT and a reconnect, drained", rule: RuleWirePublishAfterPubrec,
			h:     flow().cl("sub", 1, 30, "DISCONNECT", 0).connack("sub", 2, 100, true).bpub("sub", 2, 110, 3, 2, "dup").drain("sub", 1000),
			also:  []string{RuleWirePubrelNotResent},
			check: wantWire(RuleWirePubrelNotResent, 2, 3)},
		{name: "PUBLISH instead of PUBREL after the broker had sent PUBREL on a connection that was cut", rule: RuleWirePublishAfterPubrec,
			h:     flow().bk("sub", 1, 30, "PUBREL", 3).lost("sub", 40).connack("sub", 2, 100, true).bpub("sub", 2, 110, 3, 2, "dup"),
			check: wantWire(RuleWirePublishAfterPubrec, 2, 3)},
		{name: "the PUBREC's connection was cut before any PUBREL: the broker may not have read it and rightly re-sends the PUBLISH",
			h: flow().lost("sub", 30).connack("sub", 2, 100, true).bpub("sub", 2, 110, 3, 2, "dup").
				cl("sub", 2, 120, "PUBREC", 3).bk("sub", 2, 130, "PUBREL", 3).cl("sub", 2, 140, "PUBCOMP", 3).drain("sub", 1000)},
		{name: "the PUBREC's connection was cut and the broker re-sent neither PUBLISH nor PUBREL", rule: RuleWirePubrelNotResent,
			h:     flow().lost("sub", 30).connack("sub", 2, 100, true).drain("sub", 1000),
			check: wantWire(RuleWirePubrelNotResent, 2, 3)},
		{name: "PUBLISH after PUBREL on the same connection", rule: RuleWirePublishAfterPubrec,
			h:     flow().bk("sub", 1, 30, "PUBREL", 3).bpub("sub", 1, 40, 3, 2, "dup"),
			check: wantWire(RuleWirePublishAfterPubrec, 1, 3)},
		{name: "cut PUBLISH after PUBREL", rule: RuleWirePublishAfterPubrec,
			h:     flow().bk("sub", 1, 30, "PUBREL", 3, "cut").connack("sub", 2, 100, true).bpub("sub", 2, 110, 3, 2, "dup", "cut"),
			check: wantWire(RuleWirePublishAfterPubrec, 2, 3)},

		{name: "PUBREL re-sent after a reconnect",
			h: flow().connack("sub", 2, 100, true).bk("sub", 2, 110, "PUBREL", 3).cl("sub", 2, 120, "PUBCOMP", 3).
				bpub("sub", 2, 130, 3, 2).drain("sub", 1000)},
		{name: "PUBLISH on the same connection before PUBREL may have crossed the PUBREC",
			h: flow().bpub("sub", 1, 21, 3, 2, "dup")},
		{name: "PUBREC was cut: the PUBLISH is still unacknowledged",
			h: link().bpub("sub", 1, 10, 3, 2).cl("sub", 1, 20, "PUBREC", 3, "cut").
				connack("sub", 2, 100, true).bpub("sub", 2, 110, 3, 2, "dup").drain("sub", 1000)},
		{name: "after PUBCOMP the id is free",
			h: flow().bk("sub", 1, 30, "PUBREL", 3).cl("sub", 1, 40, "PUBCOMP", 3).bpub("sub", 1, 50, 3, 2)},
		{name: "a new session forgets the flow",
			h: flow().connack("sub", 2, 100, false).bpub("sub", 2, 110, 3, 2, "dup").drain("sub", 1000)},
	})
}

func TestWirePubrelNotResent(t *testing.T) {
	flow := func() *hb { return link().bpub("sub", 1, 10, 4, 2).cl("sub", 1, 20, "PUBREC", 4) }
	runCases(t, []ruleCase{
		{name: "reconnect into the session, no PUBREL by the drain", rule: RuleWirePubrelNotResent,
			h: flow().lost("sub", 30).connack("sub", 2, 100, true).drain("sub", 1000),
			check: func(t *testing.T, v Verdict) {
				wantWire(RuleWirePubrelNotResent, 2, 4)(t, v)
				if at := v.Violations[0].At; at != ms(1000) {
					t.Errorf("violation at %v, want the drain", at)
				}
			}},
		{name: "PUBREL sent before the reconnect but not after", rule: RuleWirePubrelNotResent,
			h: flow().bk("sub", 1, 30, "PUBREL", 4).cl("sub", 1, 40, "PUBCOMP", 4, "cut").
				connack("sub", 2, 100, true).drain("sub", 1000),
			check: wantWire(RuleWirePubrelNotResent, 2, 4)},
		{name: "PUBREL re-sent on an earlier reconnect, not on the last", rule: RuleWirePubrelNotResent,
			h: flow().connack("sub", 2, 100, true).bk("sub", 2, 110, "PUBREL", 4, "cut").
				connack("sub", 3, 200, true).drain("sub", 1000),
			check: wantWire(RuleWirePubrelNotResent, 3, 4)},
		{name: "reported once over several drains", rule: RuleWirePubrelNotResent,
			h: flow().connack("sub", 2, 100, true).drain("sub", 1000).drain("sub", 2000),
			check: func(t *testing.T, v Verdict) {
				if n := len(v.Violations); n != 1 {
					t.Errorf("%d violations, want 1:\n%s", n, dump(v))
				}
			}},
		{name: "several flows owed", rule: RuleWirePubrelNotResent,
			h: flow().bpub("sub", 1, 21, 5, 2).cl("sub", 1, 22, "PUBREC", 5).
				connack("sub", 2, 100, true).bk("sub", 2, 110, "PUBREL", 5).drain("sub", 1000),
			check: func(t *testing.T, v Verdict) {
				wantWire(RuleWirePubrelNotResent, 2, 4)(t, v)
				if n := len(v.Violations); n != 1 {
					t.Errorf("%d violations, want 1 (PUBREL 5 was re-sent):\n%s", n, dump(v))
				}
			}},

		{name: "PUBREL re-sent after the reconnect",
			h: flow().connack("sub", 2, 100, true).bk("sub", 2, 110, "PUBREL", 4).drain("sub", 1000)},
		{name: "cut PUBREL re-sent after the reconnect",
			h: flow().connack("sub", 2, 100, true).bk("sub", 2, 110, "PUBREL", 4, "cut").
				connack("sub", 3, 200, true).bk("sub", 3, 210, "PUBREL", 4).drain("sub", 1000)},
		{name: "no reconnect: the link may be slow",
			h: flow().drain("sub", 1000)},
		{name: "reconnect into a new session",
			h: flow().connack("sub", 2, 100, false).drain("sub", 1000)},
		{name: "flow completed before the reconnect",
			h: flow().bk("sub", 1, 30, "PUBREL", 4).cl("sub", 1, 40, "PUBCOMP", 4).
				connack("sub", 2, 100, true).drain("sub", 1000)},
		{name: "connection lost again before the drain",
			h: flow().connack("sub", 2, 100, true).lost("sub", 101).drain("sub", 1000)},
		{name: "connection cut again before the drain",
			h: flow().connack("sub", 2, 100, true).cl("sub", 2, 101, "PINGREQ", 0, "cut").drain("sub", 1000)},
		{name: "client sent DISCONNECT before the drain",
			h: flow().connack("sub", 2, 100, true).cl("sub", 2, 101, "DISCONNECT", 0).drain("sub", 1000)},
		{name: "a later connection was refused before the drain",
			h: flow().connack("sub", 2, 100, true).cl("sub", 3, 200, "CONNECT", 0).bk("sub", 3, 201, "CONNACK", 0, "refused").
				drain("sub", 1000)},
		{name: "drained before the reconnect",
			h: flow().drain("sub", 50).connack("sub", 2, 100, true)},
		{name: "PUBREC recorded only after the reconnect",
			h: link().bpub("sub", 1, 10, 4, 2).connack("sub", 2, 100, true).cl("sub", 1, 101, "PUBREC", 4).drain("sub", 1000)},
	})
}

func TestWirePublishNotResent(t *testing.T) {
	// QoS 1 PUBLISH 6 on connection 1; the client's PUBACK never reached the broker.
	sent := func(qos byte) *hb {
		ack := "PUBACK"
		if qos == 2 {
			ack = "PUBREC"
		}
		return link().bpub("sub", 1, 10, 6, qos).cl("sub", 1, 20, ack, 6, "cut")
	}
	runCases(t, []ruleCase{
		{name: "QoS 1: reconnect into the session, no PUBLISH by the drain", rule: RuleWirePublishNotResent,
			h: sent(1).connack("sub", 2, 100, true).drain("sub", 1000),
			check: func(t *testing.T, v Verdict) {
				wantWire(RuleWirePublishNotResent, 2, 6)(t, v)
				if d := v.Violations[0].Detail; !strings.Contains(d, "no PUBACK 6") {
					t.Errorf("detail %q", d)
				}
			}},
		{name: "QoS 2: reconnect into the session, no PUBLISH by the drain", rule: RuleWirePublishNotResent,
			h:     sent(2).connack("sub", 2, 100, true).drain("sub", 1000),
			check: wantWire(RuleWirePublishNotResent, 2, 6)},
		{name: "the PUBACK never sent at all", rule: RuleWirePublishNotResent,
			h:     link().bpub("sub", 1, 10, 6, 1).lost("sub", 30).connack("sub", 2, 100, true).drain("sub", 1000),
			check: wantWire(RuleWirePublishNotResent, 2, 6)},
		{name: "re-sent on an earlier reconnect, not on the last", rule: RuleWirePublishNotResent,
			h: sent(1).connack("sub", 2, 100, true).bpub("sub", 2, 110, 6, 1, "dup", "cut").
				connack("sub", 3, 200, true).drain("sub", 1000),
			check: wantWire(RuleWirePublishNotResent, 3, 6)},

		{name: "a PUBLISH cut before its packet identifier is not owed",
			h: link().bpub("sub", 1, 10, 0, 1, "cut").connack("sub", 2, 100, true).drain("sub", 1000)},
		{name: "re-sent with DUP=1 after the reconnect",
			h: sent(1).connack("sub", 2, 100, true).bpub("sub", 2, 110, 6, 1, "dup").drain("sub", 1000)},
		{name: "re-sent, then acknowledged",
			h: sent(2).connack("sub", 2, 100, true).bpub("sub", 2, 110, 6, 2, "dup").cl("sub", 2, 120, "PUBREC", 6).
				bk("sub", 2, 130, "PUBREL", 6).cl("sub", 2, 140, "PUBCOMP", 6).drain("sub", 1000)},
		{name: "acknowledged whole before the cut",
			h: link().bpub("sub", 1, 10, 6, 1).cl("sub", 1, 20, "PUBACK", 6).lost("sub", 30).
				connack("sub", 2, 100, true).drain("sub", 1000)},
		{name: "reconnect into a new session",
			h: sent(1).connack("sub", 2, 100, false).drain("sub", 1000)},
		{name: "drained before the reconnect",
			h: sent(1).drain("sub", 50).connack("sub", 2, 100, true)},
		{name: "connection lost again before the drain",
			h: sent(1).connack("sub", 2, 100, true).lost("sub", 101).drain("sub", 1000)},
		{name: "a CONNECT answered unseen in between",
			h: sent(1).cl("sub", 2, 50, "CONNECT", 0).connack("sub", 3, 100, true).drain("sub", 1000)},
	})
}

func TestWireQoS0Dup(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "QoS 0 PUBLISH with DUP=1", rule: RuleWireQoS0Dup,
			h: link().bpub("sub", 1, 10, 0, 0, "dup"),
			check: func(t *testing.T, v Verdict) {
				x := v.Violations[0]
				if x.Subscriber != "sub" || x.Conn != 1 || !strings.Contains(x.Detail, "connection 1") {
					t.Errorf("violation %+v", x)
				}
			}},
		{name: "cut QoS 0 PUBLISH with DUP=1", rule: RuleWireQoS0Dup,
			h: link().connack("sub", 2, 100, true).bpub("sub", 2, 110, 0, 0, "dup", "cut")},
		{name: "QoS 0 PUBLISH with DUP=0, twice",
			h: link().bpub("sub", 1, 10, 0, 0).bpub("sub", 1, 20, 0, 0)},
		{name: "QoS 0 PUBLISH does not touch QoS 1 flows",
			h: link().bpub("sub", 1, 10, 1, 1).bpub("sub", 1, 20, 0, 0).cl("sub", 1, 30, "PUBACK", 1).bpub("sub", 1, 40, 1, 1)},
	})
}

func TestWirePacketIDReuse(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "new QoS 2 PUBLISH after PUBREC, before PUBCOMP", rule: RuleWirePacketIDReuse,
			h:     link().bpub("sub", 1, 10, 9, 2).cl("sub", 1, 20, "PUBREC", 9).bpub("sub", 1, 30, 9, 2),
			check: wantWire(RuleWirePacketIDReuse, 1, 9)},
		{name: "new QoS 1 PUBLISH after PUBREL, before PUBCOMP", rule: RuleWirePacketIDReuse,
			h: link().bpub("sub", 1, 10, 9, 2).cl("sub", 1, 20, "PUBREC", 9).bk("sub", 1, 25, "PUBREL", 9).
				bpub("sub", 1, 30, 9, 1),
			check: wantWire(RuleWirePacketIDReuse, 1, 9)},
		{name: "new QoS 2 PUBLISH while a QoS 1 one is unacknowledged", rule: RuleWirePacketIDReuse,
			h:     link().bpub("sub", 1, 10, 9, 1).bpub("sub", 1, 20, 9, 2),
			check: wantWire(RuleWirePacketIDReuse, 1, 9)},
		{name: "reuse across a session-present reconnect", rule: RuleWirePacketIDReuse,
			h: link().bpub("sub", 1, 10, 9, 2).cl("sub", 1, 20, "PUBREC", 9).
				connack("sub", 2, 100, true).bk("sub", 2, 110, "PUBREL", 9).bpub("sub", 2, 120, 9, 2),
			check: wantWire(RuleWirePacketIDReuse, 2, 9)},
		{name: "the reused id opens a new flow", rule: RuleWirePacketIDReuse,
			h: link().bpub("sub", 1, 10, 9, 1).bpub("sub", 1, 20, 9, 2).cl("sub", 1, 30, "PUBREC", 9).
				bk("sub", 1, 40, "PUBREL", 9).cl("sub", 1, 50, "PUBCOMP", 9).bpub("sub", 1, 60, 9, 1),
			check: func(t *testing.T, v Verdict) {
				if n := len(v.Violations); n != 1 {
					t.Errorf("%d violations, want 1:\n%s", n, dump(v))
				}
			}},

		{name: "reuse after PUBACK",
			h: link().bpub("sub", 1, 10, 9, 1).cl("sub", 1, 20, "PUBACK", 9).bpub("sub", 1, 30, 9, 2)},
		{name: "reuse after PUBCOMP",
			h: link().bpub("sub", 1, 10, 9, 2).cl("sub", 1, 20, "PUBREC", 9).bk("sub", 1, 25, "PUBREL", 9).
				cl("sub", 1, 30, "PUBCOMP", 9).bpub("sub", 1, 40, 9, 2)},
		{name: "reuse after a clean reconnect",
			h: link().bpub("sub", 1, 10, 9, 2).cl("sub", 1, 20, "PUBREC", 9).connack("sub", 2, 100, false).bpub("sub", 2, 110, 9, 1)},
		{name: "distinct ids in flight",
			h: link().bpub("sub", 1, 10, 1, 1).bpub("sub", 1, 11, 2, 2).bpub("sub", 1, 12, 3, 1).
				cl("sub", 1, 20, "PUBACK", 3).cl("sub", 1, 21, "PUBREC", 2).cl("sub", 1, 22, "PUBACK", 1)},
		{name: "PUBACK with a wrong id frees nothing, DUP=1 re-send is fine",
			h: link().bpub("sub", 1, 10, 9, 1).cl("sub", 1, 20, "PUBACK", 8).bpub("sub", 1, 30, 9, 1, "dup")},
	})
}

func TestWireRulesSelection(t *testing.T) {
	h := link().bpub("sub", 1, 10, 0, 0, "dup").bpub("sub", 1, 20, 9, 1).bpub("sub", 1, 30, 9, 1).h
	all := Check(h)
	wantViolation(t, all, RuleWireQoS0Dup)
	wantViolation(t, all, RuleWireRedeliveryWithoutDup)
	for _, r := range wireRules {
		if !slices.Contains(all.Rules, r) {
			t.Errorf("default rules lack %s", r)
		}
	}
	only := Check(h, Rules(RuleWireQoS0Dup))
	if len(only.Violations) != 1 || only.Violations[0].Rule != RuleWireQoS0Dup {
		t.Errorf("Rules(%s) reported:\n%s", RuleWireQoS0Dup, dump(only))
	}
	if v := Check(h, Rules(RuleQoS1Lost)); !v.OK() {
		t.Errorf("wire rules ran although not selected:\n%s", dump(v))
	}
	if all.Stats != (Check(build().h).Stats) {
		t.Errorf("wire events changed the stats: %+v", all.Stats)
	}
}

// TestWireWithApplicationEvents mixes wire and application events of one
// run: each set of rules judges its own.
func TestWireWithApplicationEvents(t *testing.T) {
	b := setup(false, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100)
	b.wire("sub", 1, 0, false, "CONNECT", 0, 0).wire("sub", 1, 0, true, "CONNACK", 0, 0).
		bpub("sub", 1, 105, 1, 1).recv("sub", "t/a", "p1-1", 1, 106).cl("sub", 1, 107, "PUBACK", 1).
		acked("pub", "t/a", "p1-2", 1, 200).bpub("sub", 1, 205, 1, 1).recv("sub", "t/a", "p1-2", 1, 206).
		cl("sub", 1, 207, "PUBACK", 1).drain("sub", 1000)
	wantOK(t, Check(b.h))
}

func TestWireRecorder(t *testing.T) {
	var now time.Duration
	r := NewRecorderWithClock(func() time.Duration { return now })
	r.Connected("sub", false, false)
	r.Wire("sub", 1, true, "CONNACK", 0, 0, false, true, 0)
	now = ms(10)
	r.Wire("sub", 1, true, "PUBLISH", 7, 2, false, false, 0)
	now = ms(20)
	r.WireCut("sub", 1, false, "PUBREC", 7, 0, false)
	r.Lost("sub", nil)
	now = ms(30)
	r.Wire("sub", 2, true, "CONNACK", 0, 0, false, true, 0)
	r.Wire("sub", 2, true, "PUBLISH", 7, 2, true, false, 0)
	r.Drained("sub")
	h := r.History()

	want := []Event{
		{Seq: 1, Kind: KindWire, Client: "sub", Conn: 1, FromBroker: true, Packet: "CONNACK", SessionPresent: true},
		{Seq: 2, Kind: KindWire, Client: "sub", At: ms(10), Conn: 1, FromBroker: true, Packet: "PUBLISH", PacketID: 7, QoS: 2},
		{Seq: 3, Kind: KindWire, Client: "sub", At: ms(20), Conn: 1, Packet: "PUBREC", PacketID: 7, Cut: true},
	}
	if got := h.Events[1:4]; !reflect.DeepEqual(got, want) {
		t.Errorf("recorded\n%+v\nwant\n%+v", got, want)
	}
	if err := h.Validate(); err != nil {
		t.Error(err)
	}
	wantOK(t, Check(h))

	var buf bytes.Buffer
	if err := h.Save(&buf); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"kind":"wire"`, `"conn":2`, `"from_broker":true`, `"packet":"PUBREC"`, `"packet_id":7`, `"cut":true`} {
		if !strings.Contains(buf.String(), field) {
			t.Errorf("saved history lacks %s:\n%s", field, buf.String())
		}
	}
	got, err := Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != FormatVersion || !reflect.DeepEqual(got.Events, h.Events) {
		t.Errorf("round trip changed the history:\n got %+v\nwant %+v", got.Events, h.Events)
	}
}

func TestWireSaveLoadRoundTrip(t *testing.T) {
	h := link().bpub("sub", 1, 10, 3, 2).cl("sub", 1, 20, "PUBREC", 3).bk("sub", 1, 25, "PUBREL", 3, "cut").
		connack("sub", 2, 100, true).bpub("sub", 2, 110, 0, 0, "dup").drain("sub", 1000).h
	h.Events = append(h.Events, Event{Seq: int64(len(h.Events)), Kind: KindWire, Client: "sub", At: ms(1001), Conn: 3,
		FromBroker: true, Packet: "CONNACK", ReturnCode: 5})
	var buf bytes.Buffer
	if err := h.Save(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h) {
		t.Errorf("round trip changed the history:\n got %+v\nwant %+v", got, h)
	}
	a, b := Check(got), Check(h)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("verdict changed after the round trip")
	}
	wantViolation(t, a, RuleWirePubrelNotResent)
	wantViolation(t, a, RuleWireQoS0Dup)
}

func TestWireLoad(t *testing.T) {
	v1 := `{"version":1,"events":[{"seq":0,"kind":"connected","client":"sub","at":0},{"seq":1,"kind":"drained","client":"sub","at":5}]}`
	if h, err := Load(strings.NewReader(v1)); err != nil || h.Version != 1 || len(h.Events) != 2 {
		t.Errorf("Load of a version 1 history: %+v, %v", h, err)
	}
	wire := `{"version":2,"events":[{"kind":"wire","client":"sub","at":1,"conn":1,"from_broker":true,"packet":"PUBLISH","packet_id":7,"qos":1,"dup":true}]}`
	h, err := Load(strings.NewReader(wire))
	if err != nil {
		t.Fatal(err)
	}
	if e := h.Events[0]; e.Kind != KindWire || e.Conn != 1 || !e.FromBroker || e.Packet != "PUBLISH" || e.PacketID != 7 || e.QoS != 1 || !e.Dup || e.Cut {
		t.Errorf("loaded %+v", e)
	}
	for name, doc := range map[string]string{
		"no connection":  `{"version":2,"events":[{"kind":"wire","client":"a","at":1,"packet":"PUBACK","packet_id":1}]}`,
		"no packet type": `{"version":2,"events":[{"kind":"wire","client":"a","at":1,"conn":1}]}`,
		"bad QoS":        `{"version":2,"events":[{"kind":"wire","client":"a","at":1,"conn":1,"packet":"PUBLISH","qos":3}]}`,
		"no client":      `{"version":2,"events":[{"kind":"wire","at":1,"conn":1,"packet":"PUBACK"}]}`,
	} {
		if _, err := Load(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: Load accepted %s", name, doc)
		}
	}
}

func TestWireUnknownPacketType(t *testing.T) {
	v := Check(link().bk("sub", 1, 10, "TELEPORT", 1).bk("sub", 1, 11, "TELEPORT", 2).h)
	wantOK(t, v)
	if len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], `"TELEPORT"`) {
		t.Errorf("warnings %q", v.Warnings)
	}
}

// connect records a whole CONNECT asking for protocol level level and an
// accepting CONNACK on conn.
func (b *hb) connect(c string, conn, at int, level byte) *hb {
	b.add(Event{Kind: KindWire, Client: c, At: ms(at - 1), Conn: conn, Packet: "CONNECT", ProtocolLevel: level})
	return b.wire(c, conn, at, true, "CONNACK", 0, 0)
}

// suback records a SUBACK from the broker with return codes.
func (b *hb) suback(c string, conn, at int, id uint16, codes ...byte) *hb {
	return b.add(Event{Kind: KindWire, Client: c, At: ms(at), Conn: conn, FromBroker: true, Packet: "SUBACK", PacketID: id, Codes: FormatCodes(codes)})
}

// connackCode records a CONNACK from the broker with a return code.
func (b *hb) connackCode(c string, conn, at int, code byte) *hb {
	return b.add(Event{Kind: KindWire, Client: c, At: ms(at), Conn: conn, FromBroker: true, Packet: "CONNACK", ReturnCode: code})
}

// wantForbidden checks the violation names sub, the connection and words
// of the packet.
func wantForbidden(conn int, words ...string) func(t *testing.T, v Verdict) {
	return func(t *testing.T, v Verdict) {
		t.Helper()
		for _, x := range v.ByRule(RuleWireForbiddenToV311) {
			ok := x.Subscriber == "sub" && x.Conn == conn && len(x.Statements) > 0
			for _, w := range words {
				ok = ok && strings.Contains(x.Detail, w)
			}
			if ok {
				return
			}
		}
		t.Errorf("no %s naming sub, connection %d and %q:\n%s", RuleWireForbiddenToV311, conn, words, dump(v))
	}
}

func TestWireForbiddenToV311(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "DISCONNECT to a 3.1.1 client", rule: RuleWireForbiddenToV311,
			h:     build().connect("sub", 1, 1, 4).bk("sub", 1, 10, "DISCONNECT", 0),
			check: wantForbidden(1, "broker sent DISCONNECT", "MQTT 3.1.1 (protocol level 4)")},
		{name: "DISCONNECT to a 3.1 client", rule: RuleWireForbiddenToV311,
			h:     build().connect("sub", 1, 1, 3).bk("sub", 1, 10, "DISCONNECT", 0),
			check: wantForbidden(1, "DISCONNECT", "MQTT 3.1 (protocol level 3)")},
		{name: "DISCONNECT cut on its way: the broker sent it", rule: RuleWireForbiddenToV311,
			h:     build().connect("sub", 1, 1, 4).bk("sub", 1, 10, "DISCONNECT", 0, "cut"),
			check: wantForbidden(1, "DISCONNECT (cut")},
		{name: "AUTH to a 3.1.1 client", rule: RuleWireForbiddenToV311,
			h:     build().connect("sub", 1, 1, 4).bk("sub", 1, 10, "AUTH", 0),
			check: wantForbidden(1, "broker sent AUTH")},
		{name: "a client's packet from the broker", rule: RuleWireForbiddenToV311,
			h:     build().connect("sub", 1, 1, 4).bk("sub", 1, 10, "PINGREQ", 0),
			check: wantForbidden(1, "broker sent PINGREQ")},
		{name: "a reserved packet type", rule: RuleWireForbiddenToV311,
			h:     build().connect("sub", 1, 1, 4).bk("sub", 1, 10, "Reserved(0)", 0),
			check: wantForbidden(1, "Reserved(0)")},
		{name: "CONNACK return code 0x86 (a 5.0 reason code)", rule: RuleWireForbiddenToV311,
			h:     build().add(Event{Kind: KindWire, Client: "sub", Conn: 1, Packet: "CONNECT", ProtocolLevel: 4}).connackCode("sub", 1, 1, 0x86),
			check: wantForbidden(1, "return code 0x86", "MQTT-3.2.2-6")},
		{name: "SUBACK return code 0x87 (a 5.0 reason code)", rule: RuleWireForbiddenToV311,
			h:     build().connect("sub", 1, 1, 4).suback("sub", 1, 10, 3, 0x00, 0x87),
			check: wantForbidden(1, "[00 87] include 0x87", "MQTT-3.9.3-2")},
		{name: "only the second connection, a 3.1.1 one, is judged", rule: RuleWireForbiddenToV311,
			h: build().connect("sub", 1, 1, 5).bk("sub", 1, 10, "DISCONNECT", 0).
				connect("sub", 2, 20, 4).bk("sub", 2, 30, "DISCONNECT", 0),
			check: func(t *testing.T, v Verdict) {
				wantForbidden(2, "DISCONNECT")(t, v)
				if n := len(v.ByRule(RuleWireForbiddenToV311)); n != 1 {
					t.Errorf("%d violations, want 1 (connection 2):\n%s", n, dump(v))
				}
			}},

		{name: "DISCONNECT and AUTH to a 5.0 client",
			h: build().connect("sub", 1, 1, 5).bk("sub", 1, 10, "AUTH", 0).bk("sub", 1, 20, "DISCONNECT", 0)},
		{name: "every packet a 3.1.1 server sends, with every defined code",
			h: build().connect("sub", 1, 1, 4).suback("sub", 1, 5, 1, 0x00, 0x01, 0x02, 0x80).
				bpub("sub", 1, 10, 1, 1).bk("sub", 1, 11, "PUBACK", 2).bk("sub", 1, 12, "PUBREC", 3).
				bk("sub", 1, 13, "PUBREL", 4).bk("sub", 1, 14, "PUBCOMP", 3).bk("sub", 1, 15, "UNSUBACK", 5).
				bk("sub", 1, 16, "PINGRESP", 0).cl("sub", 1, 17, "PUBACK", 1).
				connack("sub", 2, 20, false).connackCode("sub", 3, 30, 5)},
		{name: "a connection whose CONNECT level was not recorded is not judged",
			h: link().bk("sub", 1, 10, "DISCONNECT", 0)},
		{name: "a cut CONNECT says nothing of the version",
			h: build().add(Event{Kind: KindWire, Client: "sub", Conn: 1, Packet: "CONNECT", ProtocolLevel: 4, Cut: true}).
				bk("sub", 1, 10, "DISCONNECT", 0)},
		{name: "the client's own DISCONNECT is not judged",
			h: build().connect("sub", 1, 1, 4).cl("sub", 1, 10, "DISCONNECT", 0)},
		{name: "what the broker writes after the client's DISCONNECT reaches no client",
			h: build().connect("sub", 1, 1, 4).cl("sub", 1, 10, "DISCONNECT", 0).bk("sub", 1, 11, "DISCONNECT", 0)},
		{name: "a DISCONNECT before the client's own is judged", rule: RuleWireForbiddenToV311,
			h:     build().connect("sub", 1, 1, 4).bk("sub", 1, 10, "DISCONNECT", 0).cl("sub", 1, 11, "DISCONNECT", 0),
			check: wantForbidden(1, "broker sent DISCONNECT")},
	})
}

func TestWireForbiddenToV311Selection(t *testing.T) {
	h := build().connect("sub", 1, 1, 4).bk("sub", 1, 10, "DISCONNECT", 0).bpub("sub", 1, 20, 0, 0, "dup").h
	only := Check(h, Rules(RuleWireForbiddenToV311))
	if len(only.Violations) != 1 || only.Violations[0].Rule != RuleWireForbiddenToV311 {
		t.Errorf("Rules(%s) reported:\n%s", RuleWireForbiddenToV311, dump(only))
	}
	if v := Check(h, Rules(RuleWireQoS0Dup)); len(v.ByRule(RuleWireForbiddenToV311)) != 0 {
		t.Errorf("%s ran although not selected:\n%s", RuleWireForbiddenToV311, dump(v))
	}
	if s := only.Summary(); !strings.Contains(s, "FAIL: 1 violations ("+RuleWireForbiddenToV311+" 1)") {
		t.Errorf("summary %q", s)
	}
}

func TestWireRecorderConnectAndSuback(t *testing.T) {
	r := NewRecorder()
	r.WireConnectAt(time.Now(), "sub", 1, 4)
	r.WireSubackAt(time.Now(), "sub", 1, 9, []byte{0x01, 0x80})
	h := r.History()
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if e := h.Events[0]; e.Packet != "CONNECT" || e.ProtocolLevel != 4 || e.FromBroker {
		t.Errorf("CONNECT recorded as %+v", e)
	}
	if e := h.Events[1]; e.Packet != "SUBACK" || e.Codes != "01 80" || !e.FromBroker || e.PacketID != 9 {
		t.Errorf("SUBACK recorded as %+v", e)
	}
	var buf bytes.Buffer
	if err := h.Save(&buf); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"protocol_level":4`, `"codes":"01 80"`} {
		if !strings.Contains(buf.String(), field) {
			t.Errorf("saved history lacks %s:\n%s", field, buf.String())
		}
	}
	got, err := Load(&buf)
	if err != nil || !reflect.DeepEqual(got.Events, h.Events) {
		t.Errorf("round trip: %v\n got %+v\nwant %+v", err, got.Events, h.Events)
	}
}
