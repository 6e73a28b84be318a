package history

import (
	"fmt"
	"strings"
)

// expected reports whether a conforming broker could have made delivery d,
// and the range of QoS granted to the subscriptions that could explain it.
// Otherwise it reports unexpected-delivery.
//
// A live delivery needs a matching subscription in the subscriber's session
// at delivery time that may have been in place at some moment between the
// send and the delivery (the broker may route late, and may still deliver
// messages queued before an UNSUBSCRIBE or while offline). A retained
// delivery (RETAIN=1) needs a retained publish and a matching SUBSCRIBE
// processed after it [MQTT-3.3.1-9].
func (ck *checker) expected(g *group, d recv) (lo, hi byte, ok bool) {
	p := g.p
	fail := func(format string, args ...any) (byte, byte, bool) {
		ck.report(RuleUnexpectedDelivery, d.At, Violation{
			Subscriber: g.sub.name, Publisher: p.client, Topic: d.Topic, MsgIDs: []string{p.id},
			Detail: fmt.Sprintf("%s received message %s on %q at %s", g.sub.name, p.id, d.Topic, ts(d.At)) + fmt.Sprintf(format, args...),
		})
		return 0, 0, false
	}
	switch {
	case d.Topic != p.topic:
		return fail(", but it was published on %q", p.topic)
	case d.At < p.sent:
		return fail(", before it was sent at %s", ts(p.sent))
	case d.Retain && !p.retain:
		return fail(" with RETAIN=1, but it was published without RETAIN")
	}
	cn := g.sub.connAt(d.At)
	if cn == nil {
		cn = g.sub.conns[0] // delivery recorded just before the CONNACK
	}
	lo = 2
	for _, r := range cn.sess.recs {
		if !ck.ix.match(r.filter, p.topic) {
			continue
		}
		var l, h byte
		var k bool
		if d.Retain {
			l, h, k = r.retained(p.sent, d.At)
		} else {
			l, h, k = r.possible(p.sent, d.At)
		}
		if k {
			lo, hi, ok = min(lo, l), max(hi, h), true
		}
	}
	if ok {
		return lo, hi, true
	}
	filters := sessionFilters(cn.sess)
	if d.Retain {
		return fail(" as a retained message, without a matching SUBSCRIBE after it was published at %s (session filters: %s)", ts(p.sent), filters)
	}
	return fail(" without a matching subscription in its session between the send at %s and the delivery (session filters: %s)", ts(p.sent), filters)
}

func sessionFilters(s *session) string {
	if len(s.recs) == 0 {
		return "none"
	}
	var fs []string
	for _, r := range s.recs {
		fs = append(fs, fmt.Sprintf("%q until %s", r.filter, ts(r.until)))
	}
	return strings.Join(fs, ", ")
}

// checkQoS checks one delivery against min(publish QoS, granted QoS)
// [MQTT-3.8.4-6]. With overlapping subscriptions each copy may use any of
// their grants [MQTT-3.3.5-1], so lo and hi are the lowest and highest
// possible grants.
func (ck *checker) checkQoS(g *group, d recv, lo, hi byte) {
	p := g.p
	v := Violation{Subscriber: g.sub.name, Publisher: p.client, Topic: p.topic, MsgIDs: []string{p.id}}
	granted := fmt.Sprint(lo)
	if lo != hi {
		granted = fmt.Sprintf("%d to %d", lo, hi)
	}
	if allowed := min(p.qos, hi); d.QoS > allowed {
		v.Detail = fmt.Sprintf("%s received QoS %d message %s on %q at QoS %d at %s, above the allowed QoS %d (granted QoS %s)",
			g.sub.name, p.qos, p.id, p.topic, d.QoS, ts(d.At), allowed, granted)
		ck.report(RuleQoSNotDowngraded, d.At, v)
		g.qosFlagged = true
	}
	if required := min(p.qos, lo); !d.Retain && d.QoS < required {
		v.Detail = fmt.Sprintf("%s received QoS %d message %s on %q at QoS %d at %s, below the required QoS %d (granted QoS %s)",
			g.sub.name, p.qos, p.id, p.topic, d.QoS, ts(d.At), required, granted)
		ck.report(RuleQoSDowngradedTooFar, d.At, v)
		g.qosFlagged = true
	}
}
