package history

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"time"
)

// checkOrder compares, per subscriber, the order of first live deliveries of
// the messages one publisher sent to one topic at one QoS with the order in
// which the broker received them [MQTT-4.6.0-6]. Later redeliveries do not
// count.
//
// When the publisher's link was recorded ([Recorder.WirePublishAt]), the
// broker received a message at one of the whole crossings of its PUBLISH,
// and at the latest at the one it acknowledged (the last before the
// acknowledgement): a client may send a new message before it re-sends an
// old one, and the broker then rightly forwards the new one first. A
// violation needs a message the broker certainly received before another
// (its latest possible reception before the other's earliest) to reach the
// subscriber after it. Without crossings the send times stand in; two
// publishes with the same send time are not ordered.
func (ck *checker) checkOrder() {
	type key struct {
		pub, topic string
		qos        byte
	}
	type last struct {
		id   string
		lo   arrival
		recv time.Duration
	}
	type first struct {
		p *pub
		d recv
	}
	names := make([]string, 0, len(ck.ix.clients))
	for n := range ck.ix.clients {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		s := ck.ix.clients[name]
		firsts := make([]first, 0, len(s.groups))
		for _, g := range s.groups {
			if g.live == 0 {
				continue
			}
			for _, d := range g.all {
				if !d.Retain && !d.unexpected {
					firsts = append(firsts, first{g.p, d})
					break
				}
			}
		}
		slices.SortFunc(firsts, func(a, b first) int {
			return cmp.Or(cmp.Compare(a.d.At, b.d.At), cmp.Compare(a.d.ord, b.d.ord))
		})
		latest := make(map[key]last)
		for _, f := range firsts {
			k := key{f.p.client, f.p.topic, f.p.qos}
			lo, hi := ck.ix.received(f.p)
			l, seen := latest[k]
			if seen && hi.before(l.lo) {
				ck.report(RuleOutOfOrder, f.d.At, Violation{
					Subscriber: name, Publisher: f.p.client, Topic: f.p.topic, MsgIDs: []string{f.p.id, l.id},
					Detail: fmt.Sprintf("%s first received %s (sent %s, %s) at %s, after %s (sent %s, %s; received %s), both QoS %d from %s on %q",
						name, f.p.id, ts(f.p.sent), ck.ix.receivedBy(hi), ts(f.d.At), l.id, ts(ck.ix.pubs[l.id].sent),
						ck.ix.receivedFrom(l.lo), ts(l.recv), f.p.qos, f.p.client, f.p.topic),
				})
			}
			if !seen || l.lo.before(lo) {
				latest[k] = last{f.p.id, lo, f.d.At}
			}
		}
	}
}

// received returns the earliest and the latest moment the broker can have
// received p: its first whole crossing to the broker, and the last one
// before its acknowledgement (QoS 1 and 2) or at all. Without crossings
// both are its send time.
func (ix *index) received(p *pub) (lo, hi arrival) {
	as := ix.arrivals[p.id]
	if len(as) == 0 {
		return arrival{p.sent, -1}, arrival{p.sent, -1}
	}
	lo, hi = as[0], as[len(as)-1]
	if p.qos > 0 && p.outcome == OutcomeAcked {
		for i := len(as) - 1; i >= 0; i-- {
			if as[i].at <= p.done {
				hi = as[i]
				break
			}
		}
	}
	return lo, hi
}

func (ix *index) receivedBy(hi arrival) string {
	if hi.ord < 0 {
		return "not seen on the wire"
	}
	return "the broker had it by " + ts(hi.at)
}

func (ix *index) receivedFrom(lo arrival) string {
	if lo.ord < 0 {
		return "not seen on the wire"
	}
	return "the broker had it no earlier than " + ts(lo.at)
}
