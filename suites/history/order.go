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
// which they were sent [MQTT-4.6.0-6]. Later redeliveries do not count. Two
// publishes with the same send time are not ordered.
func (ck *checker) checkOrder() {
	type key struct {
		pub, topic string
		qos        byte
	}
	type last struct {
		id         string
		sent, recv time.Duration
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
			l, seen := latest[k]
			switch {
			case !seen || f.p.sent > l.sent:
				latest[k] = last{f.p.id, f.p.sent, f.d.At}
			case f.p.sent < l.sent:
				ck.report(RuleOutOfOrder, f.d.At, Violation{
					Subscriber: name, Publisher: f.p.client, Topic: f.p.topic, MsgIDs: []string{f.p.id, l.id},
					Detail: fmt.Sprintf("%s first received %s (sent %s) at %s, after %s (sent later, at %s; received %s), both QoS %d from %s on %q",
						name, f.p.id, ts(f.p.sent), ts(f.d.At), l.id, ts(l.sent), ts(l.recv), f.p.qos, f.p.client, f.p.topic),
				})
			}
		}
	}
}
