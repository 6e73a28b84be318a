package conformance

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Sessions: what a CleanSession=0 client finds when it comes back, what a
// CleanSession=1 client must not find, a second connection with the same
// client id, and zero-length client ids.
var _ = Describe("Sessions", Label("sessions"), func() {
	f := New()

	// subscribe subscribes c to filter at qos and reports "not supported"
	// when the broker grants less.
	subscribe := func(ctx SpecContext, c *Client, filter string, qos byte) {
		GinkgoHelper()
		granted, err := c.Subscribe(ctx, filter, qos)
		Expect(err).NotTo(HaveOccurred())
		if granted != qos {
			Unsupported(fmt.Sprintf("the broker granted QoS %d (SUBACK code 0x%02x) for a QoS %d subscription to %s", min(granted, 3), granted, qos, filter))
		}
	}

	Context("session present in CONNACK", func() {
		ConformanceIt("is 0 for a first CleanSession=0 connection of a client id the broker has never seen",
			Statements("MQTT-3.2.2-3"), Catches("session-present-always", "connack-after-15s"), func(ctx SpecContext) {
				c := f.Client(ctx, "sub", Persistent())

				Expect(c.SessionPresent()).To(BeFalse(), "CONNACK said session present for a client id that never connected before")
			})

		ConformanceIt("is 1 when a CleanSession=0 client comes back to the session it left",
			Statements("MQTT-3.2.2-2", "MQTT-3.1.2-4"), Catches("forget-sessions"), func(ctx SpecContext) {
				c := f.Client(ctx, "sub", Persistent())
				subscribe(ctx, c, f.Topic("state"), 1)
				c.Disconnect()

				Expect(c.Connect(ctx)).To(Succeed())

				Expect(c.SessionPresent()).To(BeTrue(), "CONNACK said no session present, yet the client's CleanSession=0 session was left a moment ago")
			})

		// A session exists "even if the rest of the Session state is
		// empty" (MQTT 3.1.1 section 4.1): a publisher that never
		// subscribed has one too.
		ConformanceIt("is 1 when a CleanSession=0 client that never subscribed comes back to the session it left",
			Statements("MQTT-3.2.2-2", "MQTT-3.1.2-4"), Catches("forget-sessions"), func(ctx SpecContext) {
				c := f.Client(ctx, "pub", Persistent())
				c.Disconnect()

				Expect(c.Connect(ctx)).To(Succeed())

				Expect(c.SessionPresent()).To(BeTrue(), "CONNACK said no session present, yet the client's CleanSession=0 session (with no subscriptions) was left a moment ago")
			})

		ConformanceIt("is 0 for a CleanSession=1 connection, even when a session was stored for its client id",
			Statements("MQTT-3.2.2-1"), Catches("keep-clean-sessions"), func(ctx SpecContext) {
				stored := f.Client(ctx, "stored", Persistent())
				subscribe(ctx, stored, f.Topic("state"), 1)
				stored.Disconnect()

				clean := f.Client(ctx, "clean", WithID(stored.ID))

				Expect(clean.SessionPresent()).To(BeFalse(), "CONNACK said session present for a CleanSession=1 connection")
			})
	})

	ConformanceIt("keeps a CleanSession=0 client's subscriptions while it is away: they deliver again when it comes back, without subscribing again",
		Statements("MQTT-3.1.2-4", "MQTT-4.1.0-1", "MQTT-3.1.3-2"), Catches("forget-sessions"), func(ctx SpecContext) {
			topic := f.Topic("state")
			sub := f.Client(ctx, "sub", Persistent())
			subscribe(ctx, sub, topic, 1)
			pub := f.Client(ctx, "pub")
			sub.Disconnect()

			Expect(sub.Connect(ctx)).To(Succeed())
			Expect(pub.Publish(ctx, topic, 1, "after-resume")).To(Succeed())

			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("after-resume"),
				"the resumed session's subscription delivered nothing: the broker forgot it")
		})

	ConformanceIt("discards a stored session when the client connects with CleanSession=1, and keeps nothing of the clean session once it ends",
		Statements("MQTT-3.1.2-6", "MQTT-3.1.4-3", "MQTT-3.2.2-3"), Catches("keep-clean-sessions"), func(ctx SpecContext) {
			topic := f.Topic("state")
			control := f.Subscriber(ctx, "control", topic, 1) // when it has a message, the broker has routed it
			pub := f.Client(ctx, "pub")
			stored := f.Client(ctx, "stored", Persistent())
			subscribe(ctx, stored, topic, 1)
			stored.Disconnect()

			By("a CleanSession=1 connection with the same client id: the old subscription must be gone")
			clean := f.Client(ctx, "clean", WithID(stored.ID))
			Expect(pub.Publish(ctx, topic, 1, "to-clean")).To(Succeed())
			Eventually(control.Payloads).WithContext(ctx).Should(ContainElement("to-clean"))
			Consistently(clean.Payloads).WithContext(ctx).Should(BeEmpty(),
				"the CleanSession=1 connection received messages of the discarded session's subscription")

			By("the clean session subscribes and ends: nothing of it may be stored")
			subscribe(ctx, clean, topic, 1)
			clean.Disconnect()
			Expect(pub.Publish(ctx, topic, 1, "while-away")).To(Succeed())

			resumed := f.Client(ctx, "resumed", Persistent(), WithID(stored.ID))
			Expect(resumed.SessionPresent()).To(BeFalse(), "CONNACK said session present after the client's last session was a clean one")
			Expect(pub.Publish(ctx, topic, 1, "after-resume")).To(Succeed())
			Eventually(control.Payloads).WithContext(ctx).Should(ContainElement("after-resume"))
			Consistently(resumed.Payloads).WithContext(ctx).Should(BeEmpty(),
				"a later session received messages through the ended clean session's subscription")
		})

	DescribeTable("queues the messages published while a CleanSession=0 subscriber is away and delivers them when it comes back",
		func(ctx SpecContext, qos byte) {
			topic := f.Topic("state")
			sub := f.Subscriber(ctx, "sub", topic, max(qos, 1), Persistent())
			pub := f.Client(ctx, "pub")
			sub.Disconnect()

			payloads := []string{"away-q1"}
			switch qos {
			case 0:
				// A QoS 0 message to an absent session may be dropped or
				// queued; a QoS 1 message after it must arrive.
				Expect(pub.Publish(ctx, topic, 0, "away-q0")).To(Succeed())
				Expect(pub.Publish(ctx, topic, 1, "away-q1")).To(Succeed())
			default:
				payloads = []string{"away-1", "away-2"}
				for _, p := range payloads {
					Expect(pub.Publish(ctx, topic, qos, p)).To(Succeed())
				}
			}
			// The broker has routed all of them before the subscriber comes
			// back: a resume racing the routing is not what is judged.
			pub.Sync(ctx)

			Expect(sub.Connect(ctx)).To(Succeed())
			Expect(sub.SessionPresent()).To(BeTrue(), "CONNACK said no session present for the returning subscriber")

			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElements(payloads),
				"messages published while the subscriber was away never reached it")
			// QoS 0 and QoS 2 messages arrive at most once (QoS 1 ones may repeat).
			if once := map[byte][]string{0: {"away-q0"}, 2: payloads}[qos]; once != nil {
				Consistently(func() map[string]int {
					counts := map[string]int{}
					for _, p := range once {
						counts[p] = sub.Count(p)
					}
					return counts
				}).WithContext(ctx).Should(HaveEach(BeNumerically("<=", 1)), "a queued message arrived more often than its QoS allows")
			}
			if qos == 2 {
				Expect(sub.Duplicates()).To(BeZero(), "the broker sent a queued QoS 2 message again before releasing it")
			}
		},
		ConformanceEntry("QoS 1 messages: each at least once", byte(1),
			Statements("MQTT-3.1.2-5", "MQTT-4.1.0-1"), Catches("no-offline-queue", "forget-sessions")),
		ConformanceEntry("QoS 2 messages: each exactly once", byte(2),
			Statements("MQTT-3.1.2-5", "MQTT-4.1.0-1"), Catches("no-offline-queue", "forget-sessions")),
		ConformanceEntry("QoS 0 messages may be dropped, but a QoS 1 message after them is delivered and a QoS 0 one at most once", byte(0),
			Statements("MQTT-3.1.2-5"), Catches("no-offline-queue")),
	)

	Context("a second connection with the same client id", func() {
		ConformanceIt("takes over: the broker closes the first connection and the second one stays",
			Statements("MQTT-3.1.4-2"), Catches("no-takeover"), func(ctx SpecContext) {
				first := f.Client(ctx, "first")
				second := f.Client(ctx, "second", WithID(first.ID))

				Eventually(first.Link).WithContext(ctx).Should(BeClosedByTheBroker(),
					"the first connection of client id %s is still open after a second one connected", first.ID)
				Eventually(first.Connected).WithContext(ctx).Should(BeFalse(), "the first client still thinks it is connected")
				Consistently(second.Connected).WithContext(ctx).Should(BeTrue(), "the broker closed the new connection")
				Expect(second.Publish(ctx, f.Topic("state"), 1, "from-second")).To(Succeed())
			})

		// The first connection of a CleanSession=0 subscriber goes dark in
		// the middle of a delivery (its link blackholed: it neither hears
		// nor tells anything), then the client connects again with the same
		// id. The broker must close the dark connection and finish the
		// delivery on the new one, re-sending what is unacknowledged.
		DescribeTable("takes over a session with a delivery in flight on the first connection, and completes it on the second",
			func(ctx SpecContext, qos byte, dark proxy.Match, resend proxy.Match, deliveredOnFirst bool) {
				topic := f.Topic("state")
				first := f.Subscriber(ctx, "first", topic, qos, Persistent())
				pub := f.Client(ctx, "pub")
				hole, err := first.Link.Arm(proxy.Before(proxy.FromBroker, dark).With(proxy.Blackhole))
				Expect(err).NotTo(HaveOccurred())

				Expect(pub.Publish(ctx, topic, qos, "m1")).To(Succeed())
				Eventually(hole).WithContext(ctx).Should(HaveFired())

				second := f.Client(ctx, "second", Persistent(), WithID(first.ID))
				Expect(second.SessionPresent()).To(BeTrue(), "CONNACK said no session present to the connection taking over the session")
				Eventually(first.Link).WithContext(ctx).Should(BeClosedByTheBroker(),
					"the broker did not close the first connection of client id %s", first.ID)

				Eventually(second.Link).WithContext(ctx).Should(HaveCrossed(proxy.FromBroker, resend),
					"the broker did not resume the delivery on the new connection")
				if qos == 2 {
					Eventually(second.Link).WithContext(ctx).Should(HaveCrossed(proxy.ToBroker, proxy.PUBCOMP),
						"the QoS 2 handshake never completed on the new connection")
				}
				want := 0
				if !deliveredOnFirst {
					want = 1
					Eventually(second.Payloads).WithContext(ctx).Should(ContainElement("m1"))
				}
				Expect(first.Count("m1")).To(Equal(1-want), "the first connection received m1 %d times before its link went dark", first.Count("m1"))
				if qos == 2 {
					Consistently(second.Payloads).WithContext(ctx).Should(HaveLen(want),
						"the QoS 2 message must reach the client exactly once over both connections (%d on the first)", first.Count("m1"))
				}
			},
			ConformanceEntry("QoS 1, the PUBLISH lost on the first connection: re-sent on the second", byte(1), proxy.Publish(1), proxy.Publish(1), false,
				Statements("MQTT-3.1.4-2", "MQTT-4.4.0-1"), Catches("no-takeover", "forget-sessions", "no-redelivery")),
			ConformanceEntry("QoS 2, the PUBLISH lost on the first connection: re-sent on the second and delivered once", byte(2), proxy.Publish(2), proxy.Publish(2), false,
				Statements("MQTT-3.1.4-2", "MQTT-4.4.0-1"), Catches("no-takeover", "forget-sessions", "no-redelivery")),
			ConformanceEntry("QoS 2, PUBREC received and PUBREL lost on the first connection: PUBREL, not the PUBLISH, re-sent on the second", byte(2), proxy.PUBREL, proxy.PUBREL, true,
				Statements("MQTT-3.1.4-2", "MQTT-4.4.0-1", "MQTT-4.3.3-1"), Catches("no-takeover", "forget-sessions", "publish-instead-of-pubrel")),
		)
	})

	Context("a zero-length client id", func() {
		ConformanceIt("with CleanSession=1 is either refused with 0x02 or accepted under a unique id of its own",
			Statements("MQTT-3.1.3-6", "MQTT-3.2.2-1"), Catches("empty-id-shared"), func(ctx SpecContext) {
				connect := func(name string) (*Raw, wire.Packet) {
					r := f.Raw(ctx, name)
					p := ConnectPacket()
					p.ClientID = ""
					Expect(r.Send(p)).To(Succeed())
					ack, err := r.Expect(wire.CONNACK, 5*time.Second)
					Expect(err).NotTo(HaveOccurred(), "%s: no CONNACK", name)
					return r, ack
				}
				one, ack := connect("anon1")
				if ack.ReasonCode == 0x02 {
					Unsupported("the broker refuses zero-length client ids (CONNACK 0x02 identifier rejected), which MQTT 3.1.1 allows")
				}
				Expect(ack.ReasonCode).To(BeZero(), "CONNACK refused the zero-length client id with 0x%02x, not 0x02", ack.ReasonCode)
				Expect(ack.SessionPresent).To(BeFalse(), "CONNACK said session present for a CleanSession=1 connection")

				two, ack := connect("anon2")
				Expect(ack.ReasonCode).To(BeZero(), "the broker accepted one zero-length client id, then refused another with 0x%02x", ack.ReasonCode)

				// Two clients under one id cannot both stay connected: each
				// must still answer on its own connection.
				for _, r := range []*Raw{one, two} {
					Expect(r.Send(wire.PingReq())).To(Succeed())
					_, err := r.Expect(wire.PINGRESP, 2*time.Second)
					Expect(err).NotTo(HaveOccurred(),
						"%s: the connection no longer answers after a second zero-length client id connected: the broker gave both clients the same id", r.Link.Name())
				}
			})

		ConformanceIt("with CleanSession=0 is refused with CONNACK 0x02 (identifier rejected), and the connection closed",
			Statements("MQTT-3.1.3-8", "MQTT-3.1.3-9", "MQTT-3.2.2-4", "MQTT-3.2.2-5"), Catches("empty-id-accepted-persistent"), func(ctx SpecContext) {
				r := f.Raw(ctx, "anon")
				p := ConnectPacket()
				p.ClientID, p.CleanStart = "", false
				Expect(r.Send(p)).To(Succeed())

				ack, err := r.Expect(wire.CONNACK, 5*time.Second)
				Expect(err).NotTo(HaveOccurred(), "no CONNACK")
				Expect(ack.ReasonCode).To(Equal(byte(0x02)), "CONNACK return code: want 0x02 (identifier rejected), got 0x%02x", ack.ReasonCode)
				Expect(ack.SessionPresent).To(BeFalse(), "a refusing CONNACK said session present")
				Expect(r.ExpectClosed(2*time.Second)).To(Succeed(), "the broker did not close the connection after refusing it")
			})
	})
})
