package history

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// ms converts a test time in milliseconds.
func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// hb builds hand-written histories. Times are in milliseconds.
type hb struct{ h History }

func build() *hb { return &hb{h: History{Version: FormatVersion}} }

func (b *hb) add(e Event) *hb {
	e.Seq = int64(len(b.h.Events))
	b.h.Events = append(b.h.Events, e)
	return b
}

func (b *hb) conn(c string, at int, clean, present bool) *hb {
	return b.add(Event{Kind: KindConnected, Client: c, At: ms(at), CleanSession: clean, SessionPresent: present})
}

func (b *hb) lost(c string, at int) *hb {
	return b.add(Event{Kind: KindLost, Client: c, At: ms(at)})
}

func (b *hb) disc(c string, at int) *hb {
	return b.add(Event{Kind: KindDisconnected, Client: c, At: ms(at)})
}

func (b *hb) sub(c, filter string, granted byte, at int) *hb {
	return b.add(Event{Kind: KindSubscribed, Client: c, Filter: filter, RequestedQoS: min(granted, 2), GrantedQoS: granted, At: ms(at)})
}

func (b *hb) unsub(c, filter string, at int) *hb {
	return b.add(Event{Kind: KindUnsubscribed, Client: c, Filter: filter, At: ms(at)})
}

// pub records a publish sent at at and completed with o at done.
func (b *hb) pub(c, topic, id string, qos byte, at int, o Outcome, done int) *hb {
	return b.add(Event{Kind: KindPublish, Client: c, Topic: topic, MsgID: id, QoS: qos, At: ms(at), Outcome: o, Done: ms(done)})
}

// acked records a publish acknowledged 5ms after it was sent.
func (b *hb) acked(c, topic, id string, qos byte, at int) *hb {
	return b.pub(c, topic, id, qos, at, OutcomeAcked, at+5)
}

func (b *hb) retained(c, topic, id string, qos byte, at int) *hb {
	b.acked(c, topic, id, qos, at)
	b.h.Events[len(b.h.Events)-1].Retain = true
	return b
}

// recv records a delivery; flags may contain "dup" and "retain".
func (b *hb) recv(c, topic, id string, qos byte, at int, flags ...string) *hb {
	return b.add(Event{Kind: KindDelivered, Client: c, Topic: topic, MsgID: id, QoS: qos, At: ms(at),
		Dup: slices.Contains(flags, "dup"), Retain: slices.Contains(flags, "retain")})
}

// arrive records message id's PUBLISH crossing c's link whole to the broker.
func (b *hb) arrive(c, id string, conn, at int) *hb {
	return b.add(Event{Kind: KindWire, Client: c, Conn: conn, Packet: "PUBLISH", QoS: 1, MsgID: id, At: ms(at)})
}

func (b *hb) drain(c string, at int) *hb {
	return b.add(Event{Kind: KindDrained, Client: c, At: ms(at)})
}

// setup is the common start: publisher "pub" and subscriber "sub" connect at
// 0 (sub with the given clean flag) and sub subscribes to filter at 10.
func setup(clean bool, filter string, granted byte) *hb {
	return build().conn("pub", 0, true, false).conn("sub", 0, clean, false).sub("sub", filter, granted, 10)
}

// wantViolation fails unless v has a violation of rule naming all ids.
func wantViolation(t *testing.T, v Verdict, rule string, ids ...string) Violation {
	t.Helper()
	for _, x := range v.Violations {
		if x.Rule != rule {
			continue
		}
		ok := true
		for _, id := range ids {
			if !slices.Contains(x.MsgIDs, id) {
				ok = false
			}
		}
		if ok {
			return x
		}
	}
	t.Fatalf("want %s naming %v; got:\n%s", rule, ids, dump(v))
	return Violation{}
}

// wantOnly fails unless every violation in v is of one of the rules.
func wantOnly(t *testing.T, v Verdict, rules ...string) {
	t.Helper()
	for _, x := range v.Violations {
		if !slices.Contains(rules, x.Rule) {
			t.Fatalf("unexpected violation (want only %v):\n%s", rules, dump(v))
		}
	}
}

func wantOK(t *testing.T, v Verdict) {
	t.Helper()
	if !v.OK() {
		t.Fatalf("want no violations; got:\n%s", dump(v))
	}
}

func dump(v Verdict) string {
	var b strings.Builder
	for _, x := range v.Violations {
		b.WriteString("  " + x.String() + "\n")
	}
	for _, w := range v.Warnings {
		b.WriteString("  warning: " + w + "\n")
	}
	b.WriteString(v.Summary())
	return b.String()
}
