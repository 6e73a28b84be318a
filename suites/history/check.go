package history

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Check judges a history against the MQTT 3.1.1 delivery guarantees and
// returns every violation found, with statistics per QoS. It is a pure
// function: h is not modified. By default every rule is checked; use
// [Rules] to select some.
func Check(h History, opts ...Option) Verdict {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	ck := &checker{ix: buildIndex(h), cfg: cfg}
	ck.countPublishes()
	ck.checkDeliveries()
	ck.checkLosses()
	ck.checkOrder()
	ck.checkWire()
	ck.checkV311()
	return ck.finish()
}

type checker struct {
	ix  *index
	cfg config
	v   Verdict
}

func (ck *checker) report(rule string, at time.Duration, v Violation) {
	if !ck.cfg.enabled(rule) {
		return
	}
	info, _ := RuleInfo(rule)
	v.Rule, v.Statements, v.At = rule, info.Statements, at
	ck.v.Violations = append(ck.v.Violations, v)
}

func (ck *checker) finish() Verdict {
	for _, r := range ruleTable {
		if ck.cfg.enabled(r.Name) {
			ck.v.Rules = append(ck.v.Rules, r.Name)
		}
	}
	slices.SortStableFunc(ck.v.Violations, func(a, b Violation) int {
		return cmp.Or(
			cmp.Compare(a.At, b.At),
			cmp.Compare(ruleIndex(a.Rule), ruleIndex(b.Rule)),
			strings.Compare(a.Subscriber, b.Subscriber),
			slices.Compare(a.MsgIDs, b.MsgIDs),
		)
	})
	if ck.v.Violations == nil {
		ck.v.Violations = []Violation{}
	}
	ck.v.Warnings = ck.ix.warnings
	return ck.v
}

func (ck *checker) countPublishes() {
	for _, p := range ck.ix.pubList {
		st := &ck.v.Stats[p.qos]
		st.Sent++
		switch p.outcome {
		case OutcomeAcked:
			st.Acked++
		case OutcomeFailed:
			st.Failed++
		default:
			st.Unknown++
		}
	}
}

// checkDeliveries runs every rule that looks at the deliveries of one
// message to one subscriber.
func (ck *checker) checkDeliveries() {
	for _, g := range ck.ix.groups {
		for _, d := range g.all {
			if d.QoS == 0 && d.Dup {
				ck.report(RuleDupOnQoS0, d.At, Violation{
					Subscriber: g.sub.name, Topic: d.Topic, MsgIDs: []string{g.id},
					Detail: fmt.Sprintf("%s received message %s on %q at QoS 0 with DUP=1 at %s", g.sub.name, g.id, d.Topic, ts(d.At)),
				})
			}
		}
		p := g.p
		if p == nil {
			d := g.all[0]
			ck.report(RuleUnexpectedDelivery, d.At, Violation{
				Subscriber: g.sub.name, Topic: d.Topic, MsgIDs: []string{g.id},
				Detail: fmt.Sprintf("%s received message %s on %q at %s (%d times), but it was never published", g.sub.name, g.id, d.Topic, ts(d.At), len(g.all)),
			})
			continue
		}
		if p.outcome == OutcomeFailed {
			d := g.all[0]
			ck.report(RuleUnexpectedDelivery, d.At, Violation{
				Subscriber: g.sub.name, Publisher: p.client, Topic: p.topic, MsgIDs: []string{g.id},
				Detail: fmt.Sprintf("%s received message %s on %q at %s, but its publish by %s failed (definitely not sent)", g.sub.name, g.id, d.Topic, ts(d.At), p.client),
			})
			continue
		}
		st := &ck.v.Stats[p.qos]
		live := 0
		for _, d := range g.all {
			if d.Retain {
				st.Retained++
			} else {
				live++
			}
		}
		if live > 0 {
			st.Delivered++
			st.Duplicates += live - 1
		}
		for i := range g.all {
			d := &g.all[i]
			lo, hi, ok := ck.expected(g, *d)
			if !ok {
				d.unexpected = true
				continue
			}
			if !d.Retain {
				g.live++
			}
			ck.checkQoS(g, *d, lo, hi)
		}
		if g.live > 1 { // a single copy cannot be a duplicate
			spans := g.spans()
			ck.checkCopies(g, spans)
			ck.checkRedelivery(g, spans)
		}
	}
}

// checkLosses judges every acknowledged publish against every subscriber:
// a miss by an entitled subscriber owed QoS 1 or 2 is a loss. It also checks
// that one copy reached the QoS owed when overlapping subscriptions are
// involved [MQTT-3.3.5-1].
func (ck *checker) checkLosses() {
	var subs []*client
	for _, c := range ck.ix.clients {
		if c.subscribed() {
			subs = append(subs, c)
		}
	}
	slices.SortFunc(subs, func(a, b *client) int { return strings.Compare(a.name, b.name) })

	for _, p := range ck.ix.pubList {
		if p.outcome != OutcomeAcked {
			continue
		}
		st := &ck.v.Stats[p.qos]
		for _, s := range subs {
			if g := ck.ix.byKey[dkey{s.name, p.id}]; g != nil {
				ck.checkOwedQoS(g, s)
				continue
			}
			e := ck.ix.entitlementOf(p, s)
			switch e.state {
			case unseen:
				st.Unseen++
			case excused:
				st.Excused++
			case entitled:
				st.Lost++
				rule := RuleQoS1Lost
				switch e.qos {
				case 0:
					continue // at most once: a QoS 0 miss is not a violation
				case 2:
					rule = RuleQoS2Lost
				}
				granted := ""
				if e.qos < p.qos {
					granted = fmt.Sprintf("granted QoS %d, ", e.qos)
				}
				ck.report(rule, e.drain, Violation{
					Subscriber: s.name, Publisher: p.client, Topic: p.topic, MsgIDs: []string{p.id},
					Detail: fmt.Sprintf("acked QoS %d message %s on %q from %s never reached entitled subscriber %s (%s%s)",
						p.qos, p.id, p.topic, p.client, s.name, granted, e.how),
				})
			}
		}
	}
}

// checkOwedQoS reports a subscriber that was entitled to a message at some
// QoS and received copies only below it.
func (ck *checker) checkOwedQoS(g *group, s *client) {
	p := g.p
	if g.qosFlagged {
		return
	}
	if g.live == 0 {
		return
	}
	var best byte
	for _, d := range g.all {
		if !d.Retain && !d.unexpected {
			best = max(best, d.QoS)
		}
	}
	if best >= p.qos {
		return
	}
	e := ck.ix.entitlementOf(p, s)
	if e.state != entitled || best >= e.qos {
		return
	}
	ck.report(RuleQoSDowngradedTooFar, e.drain, Violation{
		Subscriber: s.name, Publisher: p.client, Topic: p.topic, MsgIDs: []string{p.id},
		Detail: fmt.Sprintf("%s received QoS %d message %s on %q only at QoS %d, but one copy was owed at QoS %d (%s)",
			s.name, p.qos, p.id, p.topic, best, e.qos, e.how),
	})
}

func outcomeWord(p *pub) string {
	switch p.outcome {
	case OutcomeAcked:
		return "acked"
	case OutcomeUnknown:
		return "indeterminate"
	}
	return "never completed"
}
