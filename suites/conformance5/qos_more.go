package conformance5

import (
	"fmt"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// publishesOn returns the PUBLISHes of payload the client received on its
// connection conn.
func publishesOn(c *Client5, conn int, payload string) []wire.Packet {
	var out []wire.Packet
	for _, in := range c.Packets() {
		if in.Conn == conn && in.Packet.Type == wire.PUBLISH && string(in.Packet.Payload) == payload {
			out = append(out, in.Packet)
		}
	}
	return out
}

// packetsOn returns the packets of type t with packet id id the client
// received on its connection conn.
func packetsOn(c *Client5, conn int, t wire.Type, id uint16) []wire.Packet {
	var out []wire.Packet
	for _, in := range c.Packets() {
		if in.Conn == conn && in.Packet.Type == t && in.Packet.PacketID == id {
			out = append(out, in.Packet)
		}
	}
	return out
}

// Overlapping subscriptions: a message matching several of a client's
// subscriptions is delivered honouring the highest QoS among them.
var _ = Describe("MQTT 5.0 overlapping subscriptions", Label("subscribe"), func() {
	f := New()

	ConformanceIt("delivers a QoS 2 message matching a QoS 1 and a QoS 2 subscription of one client honouring the QoS 2 one: one copy at QoS 2, or a copy per subscription at its own QoS",
		Statements5("MQTT-3.3.4-2"), Catches("v5-overlap-lowest-qos"), func(ctx SpecContext) {
			base := f.Topic("a")
			wild, exact := base+"/+", base+"/b"
			// wildcard first at QoS 1, exact at QoS 2; then the reverse
			orders := [][2]byte{{1, 2}, {2, 1}}
			subs := make([]*Client5, len(orders))
			for i, qos := range orders {
				sub := f.Client5(ctx, fmt.Sprint("sub-", i))
				sub.Require(wire.PropSubscriptionIdentifierAvailable)
				// the Subscription Identifier says which subscription each copy is for
				sub.MustSubscribe(ctx, wild, qos[0], 0, SubscriptionID(1))
				sub.MustSubscribe(ctx, exact, qos[1], 0, SubscriptionID(2))
				subs[i] = sub
			}
			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, exact, 2, "overlap")

			for i, sub := range subs {
				granted := map[uint32]byte{1: orders[i][0], 2: orders[i][1]}
				// judge: each copy comes at the highest QoS granted among the
				// subscriptions it is sent for (its Subscription Identifiers)
				judge := func() {
					GinkgoHelper()
					for _, m := range sub.Messages() {
						if m.Payload != "overlap" {
							continue
						}
						ids := m.Props.Uints(wire.PropSubscriptionIdentifier)
						Expect(ids).NotTo(BeEmpty(), "%s: a copy came without the Subscription Identifier of its subscription", sub.Name)
						var want byte
						for _, id := range ids {
							Expect(granted).To(HaveKey(id), "%s: a copy carried Subscription Identifier %d, which no subscription of the client has", sub.Name, id)
							want = max(want, granted[id])
						}
						Expect(m.QoS).To(Equal(want), "%s (%s at QoS %d, %s at QoS %d): the QoS 2 message came at QoS %d in a copy for subscriptions %v, whose highest QoS is %d",
							sub.Name, wild, orders[i][0], exact, orders[i][1], m.QoS, ids, want)
					}
				}
				Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("overlap"), "%s: the message never came", sub.Name)
				judge()
				covered := func() []uint32 {
					var ids []uint32
					for _, m := range sub.Messages() {
						if m.Payload == "overlap" {
							ids = append(ids, m.Props.Uints(wire.PropSubscriptionIdentifier)...)
						}
					}
					return ids
				}
				Eventually(covered).WithContext(ctx).Should(ContainElement(uint32(slices.Index(orders[i][:], 2)+1)),
					func() string {
						return fmt.Sprintf("%s: no copy of the QoS 2 message came for its QoS 2 subscription (the copies came for subscriptions %v), so it was not delivered honouring the highest QoS", sub.Name, covered())
					})
				judge()
			}
		})
})

// Deliveries under way when the subscription is deleted.
var _ = Describe("MQTT 5.0 UNSUBSCRIBE with deliveries under way", Label("subscribe"), func() {
	f := New()

	// One subscriber per QoS, each with one delivery under way: a broker
	// may keep a single message in flight per session (ejabberd does), so
	// two at once on one subscriber is not something to count on.
	underWay := func(ctx SpecContext, qos byte) (*Client5, string, string) {
		GinkgoHelper()
		topic := f.Topic(fmt.Sprintf("unsub-q%d", qos))
		sub := f.Client5(ctx, fmt.Sprintf("sub-q%d", qos), SessionExpiry(60))
		sub.MustSubscribe(ctx, topic, 2, 0)
		// one more request first, so that the UNSUBSCRIBE's packet id
		// (3) is not the broker's delivery under way (1 on most
		// brokers): a broker that mixes the two directions' ids would
		// refuse it with 0x91, which is not what this spec checks
		sub.MustSubscribe(ctx, f.Topic("other"), 1, 0)
		sub.HoldAcks()
		payload := fmt.Sprintf("q%d", qos)
		f.Client5(ctx, fmt.Sprintf("pub-q%d", qos)).MustPublish(ctx, topic, qos, payload)
		Eventually(sub.Payloads).WithContext(ctx).Should(ConsistOf(payload))
		ack, err := sub.Unsubscribe(ctx, nil, topic)
		Expect(err).NotTo(HaveOccurred())
		Expect(ack.ReasonCodes).To(Equal([]byte{0}), "the UNSUBACK did not say Success for the existing subscription")
		return sub, topic, payload
	}

	ConformanceIt("completes the QoS 1 and 2 deliveries under way when their subscription is deleted: the late PUBACK is taken and the late PUBREC answered with PUBREL",
		Statements5("MQTT-3.10.4-3", "MQTT-4.1.0-1"), Catches("v5-unsubscribe-drops-inflight"), func(ctx SpecContext) {
			for _, qos := range []byte{1, 2} {
				By(fmt.Sprintf("QoS %d: the subscriber unsubscribes, then acknowledges", qos))
				sub, _, payload := underWay(ctx, qos)
				m, _ := sub.Message(payload)
				Expect(sub.ReleaseAcks()).To(Succeed())
				if qos == 2 {
					Eventually(func() []wire.Packet { return packetsOn(sub, 1, wire.PUBREL, m.PacketID) }).WithContext(ctx).WithTimeout(AckTimeout()).ShouldNot(BeEmpty(),
						"no PUBREL came for the QoS 2 message (packet id %d) whose PUBREC the subscriber sent after unsubscribing", m.PacketID)
				}
				Expect(sub.Ping(ctx)).To(Succeed(), "the connection did not outlive the acknowledgement sent after UNSUBSCRIBE")

				By(fmt.Sprintf("QoS %d: the acknowledgement sent after UNSUBSCRIBE ended that delivery: the resumed session does not send it again", qos))
				sub.Drop()
				Expect(sub.Connect(ctx, CleanStart(false))).Error().NotTo(HaveOccurred())
				Expect(sub.SessionPresent()).To(BeTrue(), "the session did not survive the broken link")
				Expect(sub.Ping(ctx)).To(Succeed())
				Expect(publishesOn(sub, 2, payload)).To(BeEmpty(), "the QoS %d message the subscriber acknowledged after unsubscribing was sent again when its session resumed", qos)
			}
		})

	ConformanceIt("still owes the QoS 1 and 2 deliveries under way when their subscription was deleted: a resumed session gets them again",
		Statements5("MQTT-3.10.4-3"), Catches("v5-unsubscribe-drops-inflight"), func(ctx SpecContext) {
			for _, qos := range []byte{1, 2} {
				By(fmt.Sprintf("QoS %d: the link breaks with the message unacknowledged after UNSUBSCRIBE; the session resumes", qos))
				sub, _, payload := underWay(ctx, qos)
				sub.Drop()
				_ = sub.ReleaseAcks() // nothing to send on a dropped connection: stop withholding
				Expect(sub.Connect(ctx, CleanStart(false))).Error().NotTo(HaveOccurred())
				Expect(sub.SessionPresent()).To(BeTrue(), "the session did not survive the broken link")
				Eventually(func() []wire.Packet { return publishesOn(sub, 2, payload) }).WithContext(ctx).WithTimeout(AckTimeout()).ShouldNot(BeEmpty(),
					"message %q, under way when its subscription was deleted, was not sent again when the session resumed", payload)
			}
		})
})

// The broker as QoS 2 sender after its PUBREL.
var _ = Describe("MQTT 5.0 QoS 2 sender after PUBREL", Label("resend"), func() {
	f := New()

	ConformanceIt("holds its PUBREL until the PUBCOMP comes and, after a broken link, sends the PUBREL again, never the PUBLISH",
		Statements5("MQTT-4.3.3-5", "MQTT-4.3.3-6"), Catches("v5-publish-instead-of-pubrel"), func(ctx SpecContext) {
			topic := f.Topic("rel")
			sub := f.Client5(ctx, "sub", SessionExpiry(60))
			sub.MustSubscribe(ctx, topic, 2, 0)
			sub.HoldCompletions()
			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, topic, 2, "q2")
			Eventually(sub.Payloads).WithContext(ctx).Should(ConsistOf("q2"))
			m, _ := sub.Message("q2")

			By("the subscriber sends PUBREC and withholds PUBCOMP")
			Expect(sub.SendHeldAcks()).To(Succeed())
			Eventually(func() []wire.Packet { return packetsOn(sub, 1, wire.PUBREL, m.PacketID) }).WithContext(ctx).WithTimeout(AckTimeout()).ShouldNot(BeEmpty(),
				"no PUBREL came for the PUBREC of packet id %d", m.PacketID)

			By("the link breaks before PUBCOMP; the session resumes")
			sub.Drop()
			_ = sub.ReleaseAcks() // nothing to send on a dropped connection: stop withholding
			Expect(sub.Connect(ctx, CleanStart(false))).Error().NotTo(HaveOccurred())
			Expect(sub.SessionPresent()).To(BeTrue(), "the session did not survive the broken link")
			Eventually(func() []wire.Packet { return packetsOn(sub, 2, wire.PUBREL, m.PacketID) }).WithContext(ctx).WithTimeout(AckTimeout()).ShouldNot(BeEmpty(),
				"the PUBREL of packet id %d, never completed by a PUBCOMP, was not sent again when the session resumed", m.PacketID)
			Expect(sub.Ping(ctx)).To(Succeed())
			Expect(publishesOn(sub, 1, "q2")).To(HaveLen(1), "the broker sent the PUBLISH again after its PUBREL")
			Expect(publishesOn(sub, 2, "q2")).To(BeEmpty(), "the broker sent the PUBLISH again on the resumed session, though it had sent its PUBREL")
		})

	ConformanceIt("does not expire a QoS 2 message whose PUBLISH it has sent: after its Message Expiry Interval has passed, a resumed session still gets it, with DUP 1",
		Statements5("MQTT-4.3.3-7"), Catches("v5-inflight-expired"), func(ctx SpecContext) {
			const expiry = time.Second
			topic := f.Topic("expiring")
			sub := f.Client5(ctx, "sub", SessionExpiry(60))
			sub.MustSubscribe(ctx, topic, 2, 0)
			sub.HoldAcks()
			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, topic, 2, "q2", Prop(wire.PropMessageExpiryInterval, uint32(expiry/time.Second)))
			Eventually(sub.Payloads).WithContext(ctx).Should(ConsistOf("q2"))
			m, _ := sub.Message("q2")

			By("the link breaks with the PUBREC withheld, and the message's expiry passes")
			sub.Drop()
			_ = sub.ReleaseAcks() // nothing to send on a dropped connection: stop withholding
			// well past it: brokers count expiry in whole seconds
			Elapse(ctx, time.Until(m.At.Add(3*expiry)))
			Expect(sub.Connect(ctx, CleanStart(false))).Error().NotTo(HaveOccurred())
			Expect(sub.SessionPresent()).To(BeTrue(), "the session did not survive the broken link")
			Eventually(func() []wire.Packet { return publishesOn(sub, 2, "q2") }).WithContext(ctx).WithTimeout(AckTimeout()).ShouldNot(BeEmpty(),
				"the QoS 2 message already sent (packet id %d) was not sent again on the resumed session %v after its PUBLISH, past its Message Expiry Interval of %v", m.PacketID, time.Since(m.At).Round(100*time.Millisecond), expiry)
			again := publishesOn(sub, 2, "q2")[0]
			Expect(again.PacketID).To(Equal(m.PacketID), "the message came again with packet id %d, not its own %d", again.PacketID, m.PacketID)
			Expect(again.DUP).To(BeTrue(), "the message came again with DUP 0")
		})
})

// The broker as QoS 2 receiver of an expired message.
var _ = Describe("MQTT 5.0 QoS 2 receiver of an expired message", Label("flows"), func() {
	f := New()

	ConformanceIt("answers the PUBREL of a QoS 2 message whose Message Expiry Interval has passed with PUBCOMP: Success or 0x92",
		Statements5("MQTT-4.3.3-13"), Catches("v5-pubcomp-withheld-after-expiry"), func(ctx SpecContext) {
			const expiry = time.Second
			topic := f.Topic("expired")
			sub := f.Client5(ctx, "sub")
			sub.MustSubscribe(ctx, topic, 2, 0)
			r := f.Raw5(ctx, "pub")
			_, err := r.Connect(ConnectPacket5())
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Send(wire.Publish(topic, 2, 5, "q2", wire.Version(wire.V5), wire.Props(Prop(wire.PropMessageExpiryInterval, uint32(expiry/time.Second)))))).To(Succeed())
			rec, err := r.Expect(wire.PUBREC, AckTimeout())
			Expect(err).NotTo(HaveOccurred(), "no PUBREC for a QoS 2 PUBLISH")
			received := time.Now()
			Expect(rec.PacketID).To(Equal(uint16(5)), "the PUBREC for packet id 5 carried packet id %d", rec.PacketID)
			Expect(rec.ReasonCode).To(BeNumerically("<", 0x80), "the broker refused a QoS 2 PUBLISH to a topic with a subscriber")

			By("the publisher holds its PUBREL past the message's expiry")
			Elapse(ctx, time.Until(received.Add(2*expiry)))
			Expect(r.Send(wire.PubRel(5, wire.Version(wire.V5)))).To(Succeed())
			comp, err := r.Expect(wire.PUBCOMP, AckTimeout())
			Expect(err).NotTo(HaveOccurred(), "no PUBCOMP for a PUBREL sent after the message's Message Expiry Interval of %v had passed", expiry)
			Expect(comp.PacketID).To(Equal(uint16(5)), "the PUBCOMP for packet id 5 carried packet id %d", comp.PacketID)
			Expect(comp.ReasonCode).To(BeElementOf(byte(0x00), byte(0x92)), "PUBCOMP reason code 0x%02X is neither Success nor 0x92 (Packet Identifier not found)", comp.ReasonCode)
		})
})

// Acknowledgements that refuse a message.
var _ = Describe("MQTT 5.0 refused deliveries", Label("resend"), func() {
	f := New()

	ConformanceIt("takes a PUBACK or PUBREC of 0x80 or above as the end of the delivery: a resumed session does not get the message again",
		Statements5("MQTT-4.4.0-2"), Catches("v5-refused-ack-lost"), func(ctx SpecContext) {
			topic := f.Topic("refused")
			sub := f.Client5(ctx, "sub", SessionExpiry(60))
			sub.MustSubscribe(ctx, topic, 2, 0)
			// Each refused as it comes (a broker may keep one message in
			// flight at a time: q2 comes only once q1 is answered).
			sub.AnswerPublishes(0x80)
			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, topic, 1, "q1")
			pub.MustPublish(ctx, topic, 2, "q2")
			Eventually(sub.Payloads).WithContext(ctx).Should(ConsistOf("q1", "q2"))
			sub.AnswerPublishes(0x00)
			Expect(sub.Ping(ctx)).To(Succeed(), "the connection did not outlive the refusing acknowledgements")

			By("the link breaks; the session resumes")
			sub.Drop()
			Expect(sub.Connect(ctx, CleanStart(false))).Error().NotTo(HaveOccurred())
			Expect(sub.SessionPresent()).To(BeTrue(), "the session did not survive the broken link")
			pub.MustPublish(ctx, topic, 1, "after")
			Eventually(func() []wire.Packet { return publishesOn(sub, 2, "after") }).WithContext(ctx).ShouldNot(BeEmpty(), "a message published after the session resumed never came")
			for _, payload := range []string{"q1", "q2"} {
				Expect(publishesOn(sub, 2, payload)).To(BeEmpty(), "message %q, refused with reason 0x80, was sent again when the session resumed", payload)
			}
			Expect(sub.Packets()).NotTo(ContainElement(HaveField("Packet.Type", wire.PUBREL)), "the broker sent PUBREL for a QoS 2 message the subscriber refused with PUBREC 0x80")
		})
})

// Shared subscriptions: what the broker must not pass to another member.
var _ = Describe("MQTT 5.0 shared subscriptions, refusals and ended sessions", Label("shared"), func() {
	f := New()

	ConformanceIt("drops a message a shared subscriber refused with PUBACK or PUBREC 0x80 or above, without sending it to another member",
		Statements5("MQTT-4.8.2-6"), Catches("v5-shared-refused-redistributed"), func(ctx SpecContext) {
			topic := f.Topic("shared")
			filter := "$share/g/" + topic
			members := []*Client5{f.Client5(ctx, "member-1"), f.Client5(ctx, "member-2")}
			members[0].Require(wire.PropSharedSubscriptionAvailable)
			for _, m := range members {
				m.MustSubscribe(ctx, filter, 2, 0)
				m.HoldAcks()
				m.AnswerPublishes(0x80)
			}
			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, topic, 1, "q1")
			pub.MustPublish(ctx, topic, 2, "q2")
			copies := func() []string {
				var out []string
				for _, m := range members {
					out = append(out, m.Payloads()...)
				}
				return out
			}
			Eventually(copies).WithContext(ctx).Should(ConsistOf("q1", "q2"), "the group did not get each message once")

			By("the members refuse them")
			for _, m := range members {
				Expect(m.SendHeldAcks()).To(Succeed())
				Expect(m.Ping(ctx)).To(Succeed())
			}
			Consistently(copies).WithContext(ctx).WithTimeout(time.Second).Should(HaveLen(2),
				"a message refused with PUBACK or PUBREC 0x80 was sent again, to the same or another member of the group")
		})

	ConformanceIt("does not send a QoS 2 message under way to a shared subscriber whose session has ended to another member",
		Statements5("MQTT-4.8.2-5"), Catches("v5-shared-orphan-redistributed"), func(ctx SpecContext) {
			topic, will := f.Topic("shared"), f.Topic("gone")
			filter := "$share/g/" + topic
			// no Session Expiry Interval: the session ends with the connection
			a := f.Client5(ctx, "member-a", Will5(will, "a-gone", 1, false))
			a.Require(wire.PropSharedSubscriptionAvailable)
			a.MustSubscribe(ctx, filter, 2, 0)
			a.HoldAcks()
			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, topic, 2, "held")
			Eventually(a.Payloads).WithContext(ctx).Should(ContainElement("held"), "the only member of the group did not get the message")

			b := f.Client5(ctx, "member-b")
			b.MustSubscribe(ctx, filter, 2, 0)
			b.MustSubscribe(ctx, will, 1, 0)

			By("member a's link breaks with its PUBREC withheld, which ends its session (its will shows when)")
			a.Drop()
			Eventually(b.Payloads).WithContext(ctx).Should(ContainElement("a-gone"), "member a's will never came, so its lost connection was not noticed")
			pub.MustPublish(ctx, will, 1, "mark")
			Eventually(b.Payloads).WithContext(ctx).Should(ContainElement("mark"))
			Expect(b.Payloads()).NotTo(ContainElement("held"), "the QoS 2 message under way to member a, whose session ended, was sent to member b")
		})
})

// Flow control from the first message.
var _ = Describe("MQTT 5.0 send quota", Label("flow"), func() {
	f := New()

	// quotaHolds checks the first window of the client's connection conn:
	// with every message unacknowledged, at least one and at most window
	// QoS 1 PUBLISHes come.
	quotaHolds := func(ctx SpecContext, sub *Client5, conn, window int) {
		GinkgoHelper()
		count := func() int {
			n := 0
			for _, in := range sub.Packets() {
				if in.Conn == conn && in.Packet.Type == wire.PUBLISH {
					n++
				}
			}
			return n
		}
		Eventually(count).WithContext(ctx).Should(BeNumerically(">=", 1), "connection %d: no message came, though messages were waiting for it: the send quota must start above zero", conn)
		Consistently(count).WithContext(ctx).WithTimeout(500*time.Millisecond).Should(BeNumerically("<=", window),
			"connection %d: the broker sent more QoS 1 PUBLISHes than the client's Receive Maximum of %d with none of them acknowledged", conn, window)
	}

	ConformanceIt("starts a new connection's send quota above zero and no higher than the client's Receive Maximum: retained messages sent on SUBSCRIBE, on a first and a second connection",
		Statements5("MQTT-4.9.0-1"), Catches("v5-receive-maximum-off-by-one", "v5-receive-maximum-dropped"), func(ctx SpecContext) {
			const window, retained = 2, 6
			base := f.Topic("quota")
			pub := f.Client5(ctx, "pub")
			for i := range retained {
				_, err := pub.PublishRetained(ctx, fmt.Sprintf("%s/r%d", base, i), 1, fmt.Sprint("r", i))
				Expect(err).NotTo(HaveOccurred())
			}
			sub := f.NewClient5("sub", ReceiveMaximum(window))
			for conn := 1; conn <= 2; conn++ {
				Expect(sub.Connect(ctx)).Error().NotTo(HaveOccurred())
				sub.HoldAcks()
				sub.MustSubscribe(ctx, base+"/+", 1, 0)
				quotaHolds(ctx, sub, conn, window)
				sub.Drop()
				_ = sub.ReleaseAcks() // nothing to send on a dropped connection: stop withholding
			}
		})

	ConformanceIt("starts a resumed session's send quota above zero and no higher than the client's Receive Maximum: messages queued and unacknowledged while it was away",
		Statements5("MQTT-4.9.0-1"), Catches("v5-receive-maximum-off-by-one"), func(ctx SpecContext) {
			const window, sent = 2, 6
			topic := f.Topic("quota")
			sub := f.Client5(ctx, "sub", SessionExpiry(60), ReceiveMaximum(window))
			sub.MustSubscribe(ctx, topic, 1, 0)
			sub.HoldAcks()
			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, topic, 1, "first")
			Eventually(sub.Payloads).WithContext(ctx).Should(ConsistOf("first"), "the first message did not come while no message was unacknowledged")

			By("messages queue while the subscriber is away; it comes back withholding its acknowledgements, twice")
			sub.Drop()
			_ = sub.ReleaseAcks()
			for i := range sent {
				pub.MustPublish(ctx, topic, 1, fmt.Sprint("m", i))
			}
			for conn := 2; conn <= 3; conn++ {
				sub.HoldAcks()
				Expect(sub.Connect(ctx, CleanStart(false))).Error().NotTo(HaveOccurred())
				Expect(sub.SessionPresent()).To(BeTrue(), "the session did not survive the broken link")
				quotaHolds(ctx, sub, conn, window)
				sub.Drop()
				_ = sub.ReleaseAcks() // nothing to send on a dropped connection: stop withholding
			}
		})
})
