package history

import (
	"fmt"
	"strings"
	"time"
)

// span is the live, expected deliveries of one message to one subscriber
// within one of its sessions.
type span struct {
	sess   *session
	copies []recv
}

// spans splits a group's live, expected deliveries by session.
func (g *group) spans() []span {
	var out []span
	for _, d := range g.all {
		if d.Retain || d.unexpected {
			continue
		}
		cn := g.sub.connAt(d.At)
		if cn == nil {
			cn = g.sub.conns[0]
		}
		if n := len(out); n > 0 && out[n-1].sess == cn.sess {
			out[n-1].copies = append(out[n-1].copies, d)
			continue
		}
		out = append(out, span{sess: cn.sess, copies: []recv{d}})
	}
	return out
}

// allowance counts the subscriptions of a span's session that could have
// delivered the message, by the QoS level they could deliver it at: n[q] is
// the number that may deliver at QoS q, reliable the number that may deliver
// at QoS 1 or 2.
func (ck *checker) allowance(p *pub, sp span) (n [3]int, reliable int) {
	last := sp.copies[len(sp.copies)-1].At
	for _, r := range sp.sess.recs {
		if !ck.ix.match(r.filter, p.topic) {
			continue
		}
		lo, hi, ok := r.possible(p.sent, last)
		if !ok {
			continue
		}
		for q := min(p.qos, lo); q <= min(p.qos, hi); q++ {
			n[q]++
		}
		if min(p.qos, hi) >= 1 {
			reliable++
		}
	}
	return n, reliable
}

// checkCopies bounds the number of live copies. A subscription delivering at
// QoS 0 gives at most one copy (at most once [MQTT-4.3.1-1]), one delivering
// at QoS 2 exactly one (the receiver must not pass duplicates on
// [MQTT-4.3.3-2]), even across reconnects; one delivering at QoS 1 may give
// any number. The server may send one copy per overlapping subscription
// [MQTT-3.3.5-1]. Routing happens once, into the session that exists at the
// time, so the allowance is the largest over the subscriber's sessions.
func (ck *checker) checkCopies(g *group, spans []span) {
	p := g.p
	var allow [3]int
	var copies [3][]time.Duration
	for _, sp := range spans {
		n, _ := ck.allowance(p, sp)
		for q := range allow {
			allow[q] = max(allow[q], n[q])
		}
		for _, d := range sp.copies {
			copies[d.QoS] = append(copies[d.QoS], d.At)
		}
	}
	times := func(ds []time.Duration) string {
		var s []string
		for _, d := range ds {
			s = append(s, ts(d))
		}
		return strings.Join(s, ", ")
	}
	v := Violation{Subscriber: g.sub.name, Publisher: p.client, Topic: p.topic, MsgIDs: []string{p.id}}
	if c := copies[2]; p.qos == 2 && allow[2] > 0 && len(c) > allow[2] {
		v.Detail = fmt.Sprintf("%s QoS 2 message %s on %q from %s reached %s %d times at QoS 2 (at %s); exactly once per matching subscription allows %d",
			outcomeWord(p), p.id, p.topic, p.client, g.sub.name, len(c), times(c), allow[2])
		ck.report(RuleQoS2Duplicated, c[allow[2]], v)
	}
	if c := copies[0]; allow[0] > 0 && len(c) > allow[0] && !(p.qos == 1 && ck.ix.mayRetransmit(p)) {
		v.Detail = fmt.Sprintf("%s QoS %d message %s on %q from %s reached %s %d times at QoS 0 (at %s); at most once per matching subscription allows %d",
			outcomeWord(p), p.qos, p.id, p.topic, p.client, g.sub.name, len(c), times(c), allow[0])
		ck.report(RuleQoS0Duplicated, c[allow[0]], v)
	}
}

// checkRedelivery requires DUP=1 on copies that can only be redeliveries
// [MQTT-3.3.1-1]. Within one session, each subscription that may deliver at
// QoS 1 or 2 accounts for one first transmission with DUP=0; a copy with
// DUP=1 arriving before any DUP=0 copy proves a first transmission the
// subscriber never saw. Every DUP=0 copy beyond that is a redelivery without
// DUP. A QoS 1 publisher that may have retransmitted excuses extra DUP=0
// copies: the server treats them as new publications [MQTT-4.3.2-2], and the
// outgoing DUP flag depends only on the server's own retransmission
// [MQTT-3.3.1-3].
func (ck *checker) checkRedelivery(g *group, spans []span) {
	p := g.p
	if p.qos == 1 && ck.ix.mayRetransmit(p) {
		return
	}
	for _, sp := range spans {
		_, allowed := ck.allowance(p, sp)
		var copies []recv
		for _, d := range sp.copies {
			if d.QoS >= 1 {
				copies = append(copies, d)
			}
		}
		if allowed == 0 || len(copies) == 0 {
			continue
		}
		firsts := 0
		if copies[0].Dup {
			firsts = 1
		}
		for _, d := range copies {
			if d.Dup {
				continue
			}
			firsts++
			if firsts > allowed {
				ck.report(RuleRedeliveryWithoutDup, d.At, Violation{
					Subscriber: g.sub.name, Publisher: p.client, Topic: p.topic, MsgIDs: []string{p.id},
					Detail: fmt.Sprintf("%s received QoS %d message %s on %q again at %s with DUP=0; first received at %s in the same session, %d matching subscription(s)",
						g.sub.name, d.QoS, p.id, p.topic, ts(d.At), ts(copies[0].At), allowed),
				})
			}
		}
	}
}
