package conformance

import (
	"errors"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// The same cuts with clean sessions, where the promise is different: the
// session ends with the connection, so a message in flight is gone with it.
// It may be lost, and never comes back in the next session; QoS 2 still
// never arrives twice.
var _ = Describe("QoS handshakes cut at every step, with clean sessions", Label("handshakes", "faults", "clean"), func() {
	f := New()

	DescribeTable("a QoS 2 message whose publisher's clean session ends with its link arrives at most once",
		func(ctx SpecContext, cut proxy.Cut) {
			topic := f.Topic("telemetry")
			sub := f.Subscriber(ctx, "sub", topic, 2, Persistent(), AutoReconnect())
			pub := f.Client(ctx, "pub", AutoReconnect())
			fault, err := pub.Link.Arm(cut)
			Expect(err).NotTo(HaveOccurred())

			pub.PublishAsync(topic, 2, false, "m1") // a clean reconnect discards it, unacknowledged

			Eventually(fault).WithContext(ctx).Should(HaveFired())
			Eventually(pub.Connections).WithContext(ctx).Should(Equal(2), "the publisher did not reconnect")
			Expect(pub.Publish(ctx, topic, 2, "m2")).To(Succeed(), "a message published in the new session")
			f.Drain(ctx, sub, "m2")
			Expect(f.Verdict()).To(Hold())
		},
		ConformanceEntry("cut in the middle of the PUBLISH", proxy.Into(proxy.ToBroker, proxy.Publish(2), 5),
			Statements("MQTT-3.1.2-6", "MQTT-4.3.3-2"), Catches("qos2-delivered-twice")),
		ConformanceEntry("cut after the PUBLISH, before the broker's PUBREC", proxy.After(proxy.ToBroker, proxy.Publish(2)),
			Statements("MQTT-3.1.2-6", "MQTT-4.3.3-2"), Catches("qos2-delivered-twice")),
		ConformanceEntry("cut after the PUBREC, before the publisher's PUBREL", proxy.After(proxy.FromBroker, proxy.PUBREC),
			Statements("MQTT-3.1.2-6", "MQTT-4.3.3-2"), Catches("qos2-delivered-twice")),
		ConformanceEntry("cut after the PUBREL, before the broker's PUBCOMP", proxy.After(proxy.ToBroker, proxy.PUBREL),
			Statements("MQTT-3.1.2-6", "MQTT-4.3.3-2"), Catches("qos2-delivered-twice")),
	)

	DescribeTable("a message whose subscriber's clean session ends with its link is never re-sent into its next session",
		func(ctx SpecContext, qos byte, cut proxy.Cut) {
			topic := f.Topic("telemetry")
			sub := f.Subscriber(ctx, "sub", topic, qos, AutoReconnect())
			pub := f.Client(ctx, "pub")
			fault, err := sub.Link.Arm(cut)
			Expect(err).NotTo(HaveOccurred())

			Expect(pub.Publish(ctx, topic, qos, "m1")).To(Succeed())

			Eventually(fault).WithContext(ctx).Should(HaveFired())
			Eventually(sub.Connections).WithContext(ctx).Should(Equal(2), "the subscriber did not reconnect")
			Expect(sub.SessionPresent()).To(BeFalse(), "a CleanSession=1 connection must start a new session: CONNACK session present 0 [MQTT-3.2.2-1]")
			f.Drain(ctx, sub) // the new session has no subscription: nothing may arrive
			Expect(f.Verdict()).To(Hold())
		},
		ConformanceEntry("QoS 1: cut in the middle of the PUBLISH", byte(1), proxy.Into(proxy.FromBroker, proxy.Publish(1), 5),
			Statements("MQTT-3.1.2-6", "MQTT-3.2.2-1"), Catches("keep-clean-sessions")),
		ConformanceEntry("QoS 1: cut after the PUBLISH, before the subscriber's PUBACK", byte(1), proxy.After(proxy.FromBroker, proxy.Publish(1)),
			Statements("MQTT-3.1.2-6", "MQTT-3.2.2-1"), Catches("keep-clean-sessions")),
		ConformanceEntry("QoS 2: cut in the middle of the PUBLISH", byte(2), proxy.Into(proxy.FromBroker, proxy.Publish(2), 5),
			Statements("MQTT-3.1.2-6", "MQTT-3.2.2-1"), Catches("keep-clean-sessions")),
		ConformanceEntry("QoS 2: cut after the PUBLISH, before the subscriber's PUBREC", byte(2), proxy.After(proxy.FromBroker, proxy.Publish(2)),
			Statements("MQTT-3.1.2-6", "MQTT-3.2.2-1"), Catches("keep-clean-sessions")),
		ConformanceEntry("QoS 2: cut after the PUBREC, before the broker's PUBREL", byte(2), proxy.After(proxy.ToBroker, proxy.PUBREC),
			Statements("MQTT-3.1.2-6", "MQTT-3.2.2-1"), Catches("keep-clean-sessions")),
	)
})

var _ = Describe("A subscriber offline while messages are published", Label("handshakes", "offline"), func() {
	f := New()

	DescribeTable("with a persistent session, gets every QoS 1 and QoS 2 message queued for it when it comes back, in order",
		func(ctx SpecContext, qos byte) {
			topic := f.Topic("commands")
			sub := f.Subscriber(ctx, "sub", topic, qos, Persistent())
			pub := f.Client(ctx, "pub")
			sub.Disconnect()

			// Ten messages: a broker that loses their order does so in
			// every run, not in one run out of six.
			sent := publishAll(ctx, pub, topic, qos, "c", 10)
			// The broker has routed all of them before the subscriber comes
			// back: a resume racing the routing is not what is judged.
			pub.Sync(ctx)

			Expect(sub.Connect(ctx)).To(Succeed())
			Expect(sub.SessionPresent()).To(BeTrue(), "the broker did not keep the persistent session")
			f.Drain(ctx, sub, sent...)
			Expect(f.Verdict()).To(Hold())
		},
		ConformanceEntry("QoS 1", byte(1), Statements("MQTT-3.1.2-5", "MQTT-4.5.0-1", "MQTT-4.6.0-6"), Catches("no-offline-queue", "out-of-order")),
		ConformanceEntry("QoS 2", byte(2), Statements("MQTT-3.1.2-5", "MQTT-4.5.0-1", "MQTT-4.6.0-6"), Catches("no-offline-queue", "out-of-order")),
	)

	DescribeTable("with a persistent session, gets each queued message first with DUP=0: the broker never tried to send it before",
		func(ctx SpecContext, qos byte) {
			topic := f.Topic("commands")
			gone := f.Topic("gone")
			watcher := f.Subscriber(ctx, "watcher", gone, 1)
			sub := f.Subscriber(ctx, "sub", topic, qos, Persistent(), AutoReconnect(), Will(gone, "sub is gone", 1, false))
			pub := f.Client(ctx, "pub")

			Expect(sub.Link.Down()).To(Succeed())
			// The will is the proof that the broker has finished with the
			// old connection: nothing published from now on was ever sent.
			Eventually(watcher.Payloads).WithContext(ctx).Should(ContainElement("sub is gone"),
				"the broker never published the subscriber's will, so it cannot be told when it noticed the subscriber went away")
			sent := publishAll(ctx, pub, topic, qos, "c", 3)
			pub.Sync(ctx)
			Expect(sub.Link.Restore()).To(Succeed())

			f.Drain(ctx, sub, sent...)
			ExpectFirstSendsWithoutDup(sub, sent...)
		},
		ConformanceEntry("QoS 1", byte(1), Statements("MQTT-3.3.1-3"), Catches("dup-on-queued", "no-offline-queue")),
		ConformanceEntry("QoS 2", byte(2), Statements("MQTT-3.3.1-3"), Catches("dup-on-queued", "no-offline-queue")),
	)

	ConformanceIt("with a clean session, gets nothing that was published while it was away",
		Statements("MQTT-3.1.2-6"), Catches("keep-clean-sessions"), func(ctx SpecContext) {
			topic := f.Topic("commands")
			sub := f.Subscriber(ctx, "sub", topic, 1)
			pub := f.Client(ctx, "pub")
			sub.Disconnect()

			publishAll(ctx, pub, topic, 1, "c", 3)

			Expect(sub.Connect(ctx)).To(Succeed())
			Expect(sub.SessionPresent()).To(BeFalse(), "a clean session must start without a session present [MQTT-3.2.2-1]")
			f.Drain(ctx, sub)
			Expect(f.Verdict()).To(Hold())
		})
})

var _ = Describe("Several messages in flight when the link is cut", Label("handshakes", "faults", "inflight"), func() {
	f := New()

	DescribeTable("on the publisher's link: every message still arrives as its QoS promises, in publish order",
		func(ctx SpecContext, qos byte) {
			topic := f.Topic("telemetry")
			sub := f.Subscriber(ctx, "sub", topic, qos, Persistent(), AutoReconnect())
			pub := f.Client(ctx, "pub", Persistent(), AutoReconnect())
			// A FIN right after the third PUBLISH: the broker reads the
			// three whole, and what it then does with them does not hang
			// on whether its answers lose a race with a TCP RST (the
			// handshake specs cut with a reset at each single step).
			fault, err := pub.Link.Arm(proxy.After(proxy.ToBroker, proxy.Publish(qos)).Nth(3).With(proxy.Close))
			Expect(err).NotTo(HaveOccurred())

			var inflight []*InFlight
			var sent []string
			for i := 1; i <= 6; i++ {
				payload := fmt.Sprintf("m%d", i)
				sent = append(sent, payload)
				inflight = append(inflight, pub.PublishAsync(topic, qos, false, payload))
			}
			// Every handshake must end; the history is judged first, so
			// a broker that also reorders what it did get is told so.
			var owed []string
			var unacked []error
			for i, p := range inflight {
				if err := p.Wait(ctx); err != nil {
					unacked = append(unacked, err)
				} else {
					owed = append(owed, sent[i])
				}
			}

			Expect(fault).To(HaveFired())
			f.Drain(ctx, sub, owed...)
			Expect(f.Verdict()).To(Hold())
			Expect(errors.Join(unacked...)).NotTo(HaveOccurred(), "the publisher's handshakes did not all complete")
		},
		ConformanceEntry("QoS 1", byte(1), Statements("MQTT-4.6.0-5", "MQTT-4.6.0-6", "MQTT-4.3.2-2"), Catches("lose-publish-on-disconnect", "out-of-order")),
		ConformanceEntry("QoS 2", byte(2), Statements("MQTT-4.6.0-5", "MQTT-4.6.0-6", "MQTT-4.3.3-2"), Catches("lose-publish-on-disconnect", "out-of-order")),
	)

	DescribeTable("on the subscriber's link: the broker re-sends the unacknowledged ones in their original order, with DUP=1",
		func(ctx SpecContext, qos byte) {
			topic := f.Topic("telemetry")
			sub := f.Subscriber(ctx, "sub", topic, qos, Persistent())
			pub := f.Client(ctx, "pub")
			fault, err := sub.Link.Arm(proxy.Before(proxy.ToBroker, ackOf(qos)).Nth(2))
			Expect(err).NotTo(HaveOccurred())

			// The cut comes with the second message's acknowledgement,
			// before the third is even published, and the subscriber stays
			// away until all twenty are: what it must get back is the same
			// in every run, the one in flight at the cut (again, DUP=1) and
			// the eighteen queued after it, in publish order. (Publishing
			// on while the cut was still coming let some runs deliver them
			// all before it, leaving nothing to re-send out of order.)
			sent := publishAll(ctx, pub, topic, qos, "m", 2)
			Eventually(fault).WithContext(ctx).Should(HaveFired())
			Eventually(sub.Connected).WithContext(ctx).Should(BeFalse(), "the subscriber never noticed its link was cut")
			for i := 3; i <= 20; i++ {
				payload := fmt.Sprintf("m%d", i)
				Expect(pub.Publish(ctx, topic, qos, payload)).To(Succeed())
				sent = append(sent, payload)
			}
			// The broker has routed all of them before the subscriber comes
			// back: a resume racing the routing is not what is judged.
			pub.Sync(ctx)
			Expect(sub.Connect(ctx)).To(Succeed())
			Expect(sub.SessionPresent()).To(BeTrue(), "the broker did not keep the subscriber's persistent session")
			f.Drain(ctx, sub, sent...)
			Expect(f.Verdict()).To(Hold())
		},
		ConformanceEntry("QoS 1", byte(1), Statements("MQTT-4.6.0-1", "MQTT-4.4.0-1", "MQTT-3.3.1-1"), Catches("no-redelivery", "no-dup-on-redelivery", "out-of-order")),
		ConformanceEntry("QoS 2", byte(2), Statements("MQTT-4.6.0-1", "MQTT-4.4.0-1", "MQTT-3.3.1-1"), Catches("no-redelivery", "no-dup-on-redelivery", "out-of-order")),
	)
})

// publishAll publishes n messages named prefix1..prefixN, one after another.
func publishAll(ctx SpecContext, pub *Client, topic string, qos byte, prefix string, n int) []string {
	GinkgoHelper()
	var sent []string
	for i := 1; i <= n; i++ {
		payload := fmt.Sprintf("%s%d", prefix, i)
		Expect(pub.Publish(ctx, topic, qos, payload)).To(Succeed())
		sent = append(sent, payload)
	}
	return sent
}

// ackOf is the packet a subscriber answers a PUBLISH of this QoS with.
func ackOf(qos byte) proxy.Match {
	if qos == 2 {
		return proxy.PUBREC
	}
	return proxy.PUBACK
}
