package history

import (
	"fmt"
	"sort"
	"time"
)

// entState says whether a subscriber had to receive a publish.
type entState int

const (
	// notSubscribed: no matching subscription was certainly in place when
	// the message was sent. The subscriber may receive it (see
	// unexpected-delivery) but need not.
	notSubscribed entState = iota
	// unseen: subscribed, but the harness never drained the subscriber after
	// the publish was acknowledged, so a miss proves nothing.
	unseen
	// excused: subscribed, but the session or the subscription ended before
	// the drain, so the broker was allowed to drop the message.
	excused
	// entitled: the subscriber had to receive the message.
	entitled
)

// entitlement is the answer of entitlementOf.
type entitlement struct {
	state entState
	qos   byte          // the QoS the delivery is owed at: min(publish QoS, granted QoS)
	drain time.Duration // the drain point that decided it
	how   string        // why the subscriber was entitled, for messages
}

// entitlementOf decides whether subscriber s must have received the
// acknowledged publish p. It is the heart of the loss rules and is
// deliberately conservative: when in doubt, s is not entitled.
//
// S is entitled to P when all of these hold:
//
//  1. S certainly held a subscription matching P's topic when P was sent:
//     its SUBACK had arrived, with a granted QoS rather than 0x80, in the
//     session S had at that moment. Subscriptions are part of the session
//     state [MQTT-3.1.2-4] and die with it [MQTT-3.1.2-6].
//
//  2. S was drained after P was acknowledged: the harness waited for
//     deliveries to S at some point D after the ack. Otherwise a miss is
//     "unseen", not lost.
//
//  3. The subscription stayed in place until D. A server that processes an
//     UNSUBSCRIBE must stop adding messages [MQTT-3.10.4-2] and need only
//     complete those it has started to send [MQTT-3.10.4-3]; it may drop
//     messages still buffered. So any unsubscribe before the drain forfeits
//     the entitlement (stricter than "not unsubscribed before the ack").
//
//  4. The session survived until D, in one of two ways:
//
//     (a) the connection S had when P was sent stayed up until D. A session
//     lasts at least as long as its network connection [MQTT-4.1.0-2],
//     whatever the clean-session flag; this covers QoS 0 too, although a
//     QoS 0 miss is only counted, never reported (at most once
//     [MQTT-4.3.1-1] promises no delivery).
//
//     (b) S's session is persistent: it was started with clean=false, and
//     every reconnect up to D used clean=false and got session-present=1
//     [MQTT-3.1.2-4], [MQTT-3.2.2-2]; S is connected in that same session
//     at D; and the message is owed at QoS 1 or 2 (both the publish QoS and
//     the granted QoS are at least 1). The server must store QoS 1 and 2
//     messages for a disconnected persistent session [MQTT-3.1.2-5] and
//     re-send unacknowledged ones on reconnect [MQTT-4.4.0-1]; QoS 0
//     messages to an offline session may be dropped.
//
//     A session ends when a clean-session connection ends [MQTT-3.1.2-6],
//     when S reconnects with clean=true, or when the broker answers a
//     reconnect with session-present=0 [MQTT-3.2.2-3]. A subscriber whose
//     session ended is excused: its misses are not violations.
//
// The QoS the message is owed at is min(publish QoS, granted QoS)
// [MQTT-3.8.4-6], taking the lowest grant a subscription may have had between
// P's send and D (a re-subscription may lower it) and the highest such
// value over overlapping subscriptions [MQTT-3.3.5-1].
func (ix *index) entitlementOf(p *pub, s *client) entitlement {
	cn := s.connAt(p.sent)
	if cn == nil || cn.sess.end <= p.sent {
		return entitlement{state: notSubscribed}
	}
	sess := cn.sess
	subscribed := false
	for _, r := range sess.recs {
		if ix.match(r.filter, p.topic) && r.certainAt(p.sent) {
			subscribed = true
			break
		}
	}
	if !subscribed {
		return entitlement{state: notSubscribed}
	}

	i := sort.Search(len(s.drains), func(i int) bool { return s.drains[i] >= p.done })
	if i == len(s.drains) {
		return entitlement{state: unseen}
	}
	for _, d := range s.drains[i:] {
		if e := ix.entitledUntil(p, s, cn, d); e.state == entitled {
			return e
		}
	}
	return entitlement{state: excused}
}

// entitledUntil checks conditions 3 and 4 of entitlementOf for one drain
// point d. cn is the connection S had when P was sent.
func (ix *index) entitledUntil(p *pub, s *client, cn *conn, d time.Duration) entitlement {
	sess := cn.sess
	owed := -1
	for _, r := range sess.recs {
		if !ix.match(r.filter, p.topic) || !r.certainAt(p.sent) || r.until < d {
			continue
		}
		g, ok := r.guaranteed(p.sent, d)
		if !ok {
			continue
		}
		owed = max(owed, int(min(p.qos, g)))
	}
	if owed < 0 {
		return entitlement{state: excused} // unsubscribed (or refused) before the drain
	}
	e := entitlement{state: entitled, qos: byte(owed), drain: d}

	// (a) one connection, up from before the send until the drain.
	if cn.end > p.sent && cn.end >= d {
		e.how = fmt.Sprintf("connected since %s, drained at %s", ts(cn.start), ts(d))
		return e
	}
	// (b) a persistent session that survived, QoS 1 or 2 only.
	if sess.persistent && owed >= 1 && sess.end > d {
		if at := s.connAt(d); at != nil && at.sess == sess && at.end >= d {
			e.how = fmt.Sprintf("persistent session, drained at %s", ts(d))
			return e
		}
	}
	return entitlement{state: excused}
}
