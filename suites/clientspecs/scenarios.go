package clientspecs

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/suites/framework"
)

// The course's connectivity scenarios (suites/scenarios), told about the
// student's own client: make scenario NAME=... CLIENT='python3 my.py'.
// Each runs the program through a link, cuts it where the scenario says,
// and tells what the client did from the wire trace, with times measured
// there.
var _ = Describe("Connectivity scenarios, about your own client", Label("client", "scenarios"), func() {
	f := framework.New()
	const bound = connectBound + 60*time.Second

	// publisher tells what a publishing client does when its link drops
	// at cut: does the message survive, re-sent, and how.
	publisher := func(s framework.SpecContextStory, cut proxy.Cut, where string, brokerHasIt bool) {
		if declared("subscriber") {
			Skip("not applicable: " + EnvRole + "=subscriber, so it publishes nothing")
		}
		c := launch(f)
		fault, err := c.link.Arm(cut)
		if err != nil {
			Fail(err.Error())
		}
		c.awaitConnected(s)
		c.until(s, watch(), func([]proxy.Entry) bool {
			select {
			case <-fault.Fired():
				return true
			default:
				return !c.prog.Running()
			}
		})
		select {
		case <-fault.Fired():
		default:
			s.Say("In %v your client sent no PUBLISH that reached the point of the cut (%s).", watch(), cut)
			Skip(fmt.Sprintf("not applicable: in %v the client's traffic never reached the cut (%s)", watch(), cut))
		}
		at, ok := firedCut(c.entries())
		if !ok {
			Fail("the cut fired but the trace shows no connection it ended\n\ntrace:\n" + c.excerpt())
		}
		if hello := at.conn.connect; hello != nil {
			s.Say("Your client sent CONNECT %s after it started, with CleanSession=%d and keepalive %d s.",
				ago(c.prog.Started(), at.conn.connectAt), bit(hello.CleanStart), hello.KeepAlive)
		}
		p, sentAt, ok := at.victim()
		if !ok {
			Fail("the cut fired but Faultline finds no PUBLISH of the client it caught\n\ntrace:\n" + c.excerpt())
		}
		s.Say("%s after it started, your client sent %s; %s.", ago(c.prog.Started(), sentAt), describePublish(p), where)
		next, how := c.reconnection(s, at.conn.n, at.at)
		s.Say("%s", how)
		if next == nil {
			if p.QoS == 0 {
				s.Say("The message was QoS 0, at most once: nothing promised it would survive.")
			} else if brokerHasIt {
				s.Say("The broker had it already, so it was not lost, but your client never learnt that; had it been lost, only a client that reconnects could re-send it.")
			} else {
				s.Say("The message was lost: only a client that reconnects can re-send it.")
			}
			if !c.prog.Running() {
				Skip("not applicable: the program ended without reconnecting (a one-shot program need not reconnect); re-sending is owed on a reconnect")
			}
			Fail(fmt.Sprintf("the client is still running but did not reconnect within %v of the cut\n\ntrace:\n%s", reconnectBound(), c.excerpt()))
		}
		again, ok := c.resent(s, at.conn.n, p)
		switch {
		case !ok && p.QoS == 0:
			s.Say("Your client did not send it again. It was a QoS 0 message, at most once: MQTT does not ask a client to keep it, so it was lost.")
			return
		case !ok && next.connect.CleanStart:
			s.Say("Your client never re-sent it: it started a clean session, and the message was lost.")
			Skip("not applicable: the client reconnected with CleanSession 1, discarding its session, so MQTT does not oblige it to re-send [MQTT-4.4.0-1 binds CleanSession 0]")
		case !ok:
			s.Say("Your client never re-sent it: it resumed its session but the message was lost [MQTT-4.4.0-1].")
			Fail(fmt.Sprintf("the client resumed its session (CleanSession 0) but did not re-send %s within %v of its CONNACK [MQTT-4.4.0-1]\n\ntrace:\n%s",
				describePublish(p), answerBound, c.excerpt()))
		}
		q := again.Packet
		switch {
		case q.PacketID == p.PacketID && q.DUP:
			s.Say("Your client re-sent it with DUP=1 (same id %d) %s after the link dropped, %s after the broker accepted it again.",
				q.PacketID, ago(at.at, again.At), ago(next.connackAt, again.At))
		case q.PacketID == p.PacketID && !next.connect.CleanStart && p.QoS > 0:
			s.Say("Your client re-sent it %s after the link dropped, but with DUP=0: a message sent again must carry DUP=1 [MQTT-3.3.1-1].", ago(at.at, again.At))
			Fail(fmt.Sprintf("the client re-sent %s with DUP=0 after resuming its session [MQTT-3.3.1-1]\n\ntrace:\n%s", describePublish(p), c.excerpt()))
		default:
			s.Say("Your client published it again %s after the link dropped, as %s.", ago(at.at, again.At), describePublish(q))
		}
		if t, when, ok := c.answered(s, again); ok {
			s.Say("The broker acknowledged it with %s %s later: the message is safe.", t, ago(again.At, when))
		} else if q.QoS > 0 {
			s.Say("The broker did not acknowledge it within %v.", answerBound)
		}
	}

	f.ScenarioIt("lost-before-publish",
		"your client: the link drops just before it publishes; does the message survive?",
		framework.Statements("MQTT-4.4.0-1", "MQTT-3.3.1-1"), Catches("dup-flag-missing-on-resend"), SpecTimeout(bound),
		func(s framework.SpecContextStory) {
			publisher(s, proxy.Before(proxy.ToBroker, proxy.Packet(wire.PUBLISH)),
				"the link dropped just before your publish reached the broker, so the broker never got it", false)
		})

	f.ScenarioIt("lost-before-puback",
		"your client: the link drops after its QoS 1 PUBLISH reached the broker, before the PUBACK came back; does it re-send?",
		framework.Statements("MQTT-4.4.0-1", "MQTT-3.3.1-1"), Catches("dup-flag-missing-on-resend"), SpecTimeout(bound),
		func(s framework.SpecContextStory) {
			publisher(s, proxy.Before(proxy.FromBroker, proxy.Packet(wire.PUBACK)),
				"the broker got it and answered PUBACK, but the link dropped before the PUBACK reached your client, so your client cannot know it arrived", true)
		})

	f.ScenarioIt("lost-mid-publish",
		"your client: the link drops in the middle of its PUBLISH; does the message survive?",
		framework.Statements("MQTT-4.4.0-1", "MQTT-3.3.1-1"), Catches("dup-flag-missing-on-resend"), SpecTimeout(bound),
		func(s framework.SpecContextStory) {
			publisher(s, proxy.Into(proxy.ToBroker, proxy.Packet(wire.PUBLISH), 3),
				"the link dropped 3 bytes into it, so the broker got a torn packet and none of the message", false)
		})

	f.ScenarioIt("lost-before-forward",
		"your subscriber: the link drops just before the broker forwards it a reading; does it still get it?",
		framework.Statements("MQTT-4.4.0-1", "MQTT-3.1.2-6"), Catches("no-reconnect"), SpecTimeout(bound),
		func(s framework.SpecContextStory) {
			c, first, es := subscribed(f, s)
			filters := granted(es)
			s.Say("Your client connected with CleanSession=%d and subscribed to %q.", bit(first.connect.CleanStart), filters)
			fault := c.link.CutBefore(proxy.FromBroker, proxy.Packet(wire.PUBLISH))
			payload := "21.5C-" + uniqueID()
			filter, best := c.publishTo(s, es, 1, payload)
			if filter == "" {
				s.Say("The broker granted your subscription QoS %d, so a QoS 1 reading reaches it at QoS %d: at most once.", best, best)
				Skip(fmt.Sprintf("not applicable: the broker granted the client's subscriptions QoS %d, so no message reaches it at QoS 1", best))
			}
			c.until(s, answerBound, func([]proxy.Entry) bool {
				select {
				case <-fault.Fired():
					return true
				default:
					return !c.prog.Running()
				}
			})
			at, ok := firedCut(c.entries())
			if !ok {
				Skip(fmt.Sprintf("not judged: the broker forwarded nothing to the client within %v of Faultline's QoS 1 reading on a topic %q matches", answerBound, filter))
			}
			s.Say("Faultline published the reading %q at QoS 1; the broker forwarded it to your client, and the link dropped just before it got there.", payload)
			next, how := c.reconnection(s, at.conn.n, at.at)
			s.Say("%s", how)
			if next == nil {
				s.Say("The reading never reached your client.")
				if !c.prog.Running() {
					Skip("not applicable: the program ended without reconnecting (a one-shot program need not reconnect)")
				}
				Fail(fmt.Sprintf("the client is still running but did not reconnect within %v of the cut\n\ntrace:\n%s", reconnectBound(), c.excerpt()))
			}
			if next.connack.SessionPresent {
				pub, ack, got, acked := c.delivered(s, at.conn.n, payload, answerBound)
				switch {
				case !got:
					s.Say("The broker kept your session but did not re-send the reading within %v.", answerBound)
					Skip("not judged: the broker did not re-send the message after the session resumed, so there was nothing for the client to do")
				case !acked:
					s.Say("The broker re-sent the reading (DUP=%d) %s after your client reconnected, but your client did not acknowledge it within %v.",
						bit(pub.Packet.DUP), ago(next.connackAt, pub.At), answerBound)
					Fail(fmt.Sprintf("the client did not acknowledge the re-sent QoS 1 message within %v [MQTT-4.3.2-2]\n\ntrace:\n%s", answerBound, c.excerpt()))
				default:
					s.Say("Your session was kept, so the broker re-sent the reading (DUP=%d) %s after your client reconnected, and your client acknowledged it with %s %s later.",
						bit(pub.Packet.DUP), ago(next.connackAt, pub.At), ack.Packet.Type, ago(pub.At, ack.At))
				}
			} else {
				s.Say("Your client's session was not kept (CleanSession=%d), so the broker dropped the reading with it: your client never gets it [MQTT-3.1.2-6]. A persistent session (CleanSession=0) with QoS 1 would have kept it.",
					bit(next.connect.CleanStart))
				when, missing := c.subscribedAgain(s, next.n, filters)
				if len(missing) > 0 {
					s.Say("Your client did not subscribe again to %q: from now on it receives nothing there.", missing)
					Fail(fmt.Sprintf("the client reconnected to a broker with no session for it but did not subscribe again to %q within %v\n\ntrace:\n%s", missing, answerBound, c.excerpt()))
				}
				s.Say("Your client subscribed again %s after it reconnected, so it gets the next readings.", ago(next.connackAt, when))
			}
			c.until(s, time.Second, func([]proxy.Entry) bool { return c.printed(payload, c.prog.Started()) > 0 }) // printing may trail the wire
			if n := c.printed(payload, c.prog.Started()); n > 0 {
				s.Say("Your program printed the reading %s.", times(n))
			}
		})

	f.ScenarioIt("latest-value",
		"your subscriber: after a drop that loses its session, does it subscribe again and get the latest value at once?",
		framework.Statements("MQTT-3.3.1-6", "MQTT-3.3.1-8"), Catches("no-resubscribe"), SpecTimeout(bound),
		func(s framework.SpecContextStory) {
			c, first, es := subscribed(f, s)
			filters := granted(es)
			if !c.prog.Running() {
				Skip(fmt.Sprintf("not applicable: the program ended (%s) before Faultline could cut its link", c.prog.Status()))
			}
			topic := topicFor(filters[0], f.Topic("x"))
			pub := f.Client(s, "faultline-publisher")
			readings := []string{"19.0C-" + uniqueID(), "19.5C-" + uniqueID(), "20.1C-" + uniqueID()}
			DeferCleanup(func(ctx SpecContext) { _ = pub.PublishRetained(ctx, topic, 1, "") }, NodeTimeout(10*time.Second))
			for _, r := range readings {
				if err := pub.PublishRetained(s, topic, 1, r); err != nil {
					Fail(fmt.Sprintf("Faultline could not publish a retained reading to %q: %v", topic, err))
				}
			}
			latest := readings[len(readings)-1]
			s.Say("Your client subscribed to %q. Faultline published three readings with RETAIN=1 to %q, the latest %q.", filters, topic, latest)
			cs := connections(c.entries())
			before := cs[len(cs)-1].n
			if err := c.link.Down(); err != nil {
				Fail(err.Error())
			}
			c.endSession(s, first.connect.ClientID)
			if err := c.link.Restore(); err != nil {
				Fail(err.Error())
			}
			lost := time.Now()
			s.Say("Then the link dropped, and while it was down the broker lost your client's session (as after a broker restart).")
			next, how := c.reconnection(s, before, lost)
			s.Say("%s", how)
			if next == nil {
				if !c.prog.Running() {
					Skip("not applicable: the program ended without reconnecting (a one-shot program need not reconnect)")
				}
				Skip(fmt.Sprintf("not judged: the client did not reconnect within %v (the reconnect spec judges that)", reconnectBound()))
			}
			if next.connack.SessionPresent {
				Fail(fmt.Sprintf("the broker still had a session for the client after Faultline ended it (CONNACK session present 1): nothing to judge\n\ntrace:\n%s", c.excerpt()))
			}
			when, missing := c.subscribedAgain(s, next.n, filters)
			if len(missing) > 0 {
				s.Say("Your client did not subscribe again to %q: with its session gone, it now receives nothing there.", missing)
				Fail(fmt.Sprintf("the client reconnected to a broker with no session for it (CONNACK session present 0) but did not subscribe again to %q within %v\n\ntrace:\n%s",
					missing, answerBound, c.excerpt()))
			}
			s.Say("Your client subscribed again %s after it reconnected.", ago(next.connackAt, when))
			got, _, ok, _ := c.delivered(s, next.n-1, latest, answerBound)
			if !ok {
				s.Say("The broker sent it no retained reading within %v.", answerBound)
				Skip(fmt.Sprintf("not judged: the broker sent the client no retained message within %v of its new subscription", answerBound))
			}
			s.Say("Your subscriber got the latest value %q from the retained message (RETAIN=%d) %s after it subscribed again.",
				latest, bit(got.Packet.Retain), ago(when, got.At))
			c.until(s, time.Second, func([]proxy.Entry) bool { return c.printed(latest, lost) > 0 }) // printing may trail the wire
			if n := c.printed(latest, lost); n > 0 {
				s.Say("Your program printed it %s after the link came back.", times(n))
			}
		})
})

// subscribed starts the program as a subscriber and waits until the
// broker granted it a subscription; a declared publisher, or a program
// that subscribes to nothing, makes the scenario not applicable.
func subscribed(f *framework.Framework, s framework.SpecContextStory) (*subject, *conn, []proxy.Entry) {
	GinkgoHelper()
	if declared("publisher") {
		Skip("not applicable: " + EnvRole + "=publisher, so it receives nothing")
	}
	c := launch(f)
	first := c.awaitConnected(s)
	es, _ := c.until(s, watch(), func(es []proxy.Entry) bool { return len(granted(es)) > 0 || !c.prog.Running() })
	filters := granted(es)
	if len(filters) == 0 {
		s.Say("In %v your client subscribed to nothing.", watch())
		Skip(fmt.Sprintf("not applicable: in %v the client had no subscription granted", watch()))
	}
	return c, first, es
}
