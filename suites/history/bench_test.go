package history

import (
	"fmt"
	"testing"
)

// synthetic builds a clean run: 4 publishers send perPub QoS 1 messages each
// over 10 topics, and subs subscribers, each subscribed to "bench/#" and to
// its own overlapping filter, receive every message once in order.
// Subscriber 0 loses its connection halfway and reconnects to its
// persistent session.
func synthetic(subs, perPub int) History {
	b := build()
	t := 0
	next := func() int { t++; return t }
	for p := range 4 {
		b.conn(fmt.Sprintf("pub%d", p), 0, true, false)
	}
	for s := range subs {
		name := fmt.Sprintf("sub%d", s)
		b.conn(name, 0, false, false).sub(name, "bench/#", 1, 1)
		if s%2 == 1 {
			b.sub(name, fmt.Sprintf("bench/t%d", s%10), 0, 1)
		}
	}
	for i := range perPub {
		for p := range 4 {
			pub := fmt.Sprintf("pub%d", p)
			topic := fmt.Sprintf("bench/t%d", (i+p)%10)
			id := fmt.Sprintf("%s-%d", pub, i)
			sent := next()
			b.pub(pub, topic, id, 1, sent, OutcomeAcked, sent+3)
			at := next()
			for s := range subs {
				name := fmt.Sprintf("sub%d", s)
				if s == 0 && i == perPub/2 && p == 0 {
					b.lost(name, at).conn(name, at, false, true)
				}
				b.recv(name, topic, id, 1, at)
			}
		}
	}
	end := next() + 10
	for s := range subs {
		b.drain(fmt.Sprintf("sub%d", s), end)
	}
	return b.h
}

func TestSyntheticHistoryIsClean(t *testing.T) {
	h := synthetic(10, 250)
	v := Check(h)
	wantOK(t, v)
	if s := v.Stats[1]; s.Delivered != 10*1000 || s.Lost != 0 {
		t.Errorf("stats %+v", s)
	}
}

// BenchmarkCheck checks a synthetic history of 100k deliveries.
func BenchmarkCheck(b *testing.B) {
	h := synthetic(10, 2500) // 10 subscribers × 10,000 publishes
	n := 0
	for _, e := range h.Events {
		if e.Kind == KindDelivered {
			n++
		}
	}
	if n != 100_000 {
		b.Fatalf("synthetic history has %d deliveries", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		if v := Check(h); !v.OK() {
			b.Fatal(v.Violations[0])
		}
	}
}
