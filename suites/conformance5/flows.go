package conformance5

import (
	"fmt"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// The QoS 1 and QoS 2 flows: packet ids, DUP, and which acknowledgement
// answers which PUBLISH.
var _ = Describe("MQTT 5.0 QoS flows", Label("flows"), func() {
	f := New()

	ConformanceIt("forwards each QoS 1 and 2 message with its own non-zero packet id, its QoS and DUP 0, and acknowledges each PUBLISH with its packet id",
		Statements5("MQTT-2.2.1-4", "MQTT-2.2.1-5", "MQTT-3.3.4-1", "MQTT-4.3.1-1", "MQTT-3.3.1-2", "MQTT-3.3.1-3",
			"MQTT-4.3.2-1", "MQTT-4.3.2-2", "MQTT-4.3.2-3", "MQTT-4.3.3-1", "MQTT-4.3.3-2", "MQTT-4.3.3-3", "MQTT-4.3.3-4", "MQTT-3.6.2-1"),
		Catches("v5-forwarded-dup-set", "v5-forwarded-ids-zero", "v5-ack-ids-shifted", "v5-pubrel-code-undefined"), func(ctx SpecContext) {
			topic := f.Topic("flow")
			sub := f.Client5(ctx, "sub")
			sub.MustSubscribe(ctx, topic, 2, 0)
			sub.HoldAcks()
			pub := f.Client5(ctx, "pub")

			var sent []string
			for _, qos := range []byte{0, 1, 2} {
				for i := range 2 {
					payload := fmt.Sprintf("q%d-%d", qos, i)
					// the first of each pair goes with DUP 1, as a PUBLISH
					// sent again whose first copy never arrived
					ack := pub.MustPublishPacket(ctx, wire.Publish(topic, qos, 0, payload).With(func(p *wire.Packet) { p.DUP = i == 0 && qos > 0 }))
					switch qos {
					case 0:
						Expect(ack.Type).To(BeZero(), "the broker answered a QoS 0 PUBLISH with %s", ack.Type)
					case 1:
						Expect(ack.Type).To(Equal(wire.PUBACK), "the broker answered a QoS 1 PUBLISH with %s", ack.Type)
					case 2:
						Expect(ack.Type).To(Equal(wire.PUBREC), "the broker answered a QoS 2 PUBLISH with %s", ack.Type)
					}
					sent = append(sent, payload)
				}
			}
			// A broker may keep any number of QoS 1 and 2 messages from one up
			// to the Receive Maximum unacknowledged (ejabberd keeps one): the
			// subscriber takes them round by round, acknowledging a round
			// only once it is over, and the messages of one round are those
			// unacknowledged side by side.
			By("while none is acknowledged, every QoS 1 and 2 message holds its own packet id")
			for got := 0; got < len(sent); got = len(sub.Messages()) {
				round, err := sub.HeldWindow(ctx, len(sent))
				Expect(err).NotTo(HaveOccurred(), "the broker stopped sending with %d of the %d messages delivered", got, len(sent))
				inUse := map[uint16]string{}
				for _, m := range round {
					want := m.Payload[1] - '0'
					Expect(m.QoS).To(Equal(want), "message %q published at QoS %d to a QoS 2 subscription came at QoS %d", m.Payload, want, m.QoS)
					Expect(m.Dup).To(BeFalse(), "message %q came with DUP 1 on its first delivery (the publisher's DUP must not be copied; DUP marks only a retransmission)", m.Payload)
					if m.QoS == 0 {
						continue
					}
					Expect(m.PacketID).NotTo(BeZero(), "message %q came at QoS %d with packet id 0", m.Payload, m.QoS)
					Expect(inUse).NotTo(HaveKey(m.PacketID), "messages %q and %q came with the same packet id %d while both were unacknowledged", inUse[m.PacketID], m.Payload, m.PacketID)
					inUse[m.PacketID] = m.Payload
				}
				Expect(sub.SendHeldAcks()).To(Succeed())
			}
			Expect(sub.Payloads()).To(ConsistOf(sent), "the subscriber did not get each message once")
			Expect(sub.ReleaseAcks()).To(Succeed())

			By("each PUBREC of the subscriber is answered by a PUBREL with its packet id and a PUBREL reason code")
			pubrels := func() []wire.Packet {
				var out []wire.Packet
				for _, in := range sub.Packets() {
					if in.Packet.Type == wire.PUBREL {
						out = append(out, in.Packet)
					}
				}
				return out
			}
			for _, m := range sub.Messages() {
				if m.QoS == 2 {
					Eventually(pubrels).WithContext(ctx).WithTimeout(AckTimeout()).Should(ContainElement(HaveField("PacketID", m.PacketID)),
						"no PUBREL with packet id %d came for QoS 2 message %q after its PUBREC", m.PacketID, m.Payload)
				}
			}
			for _, p := range pubrels() {
				Expect(wire.ReturnCodeText(wire.PUBREL, wire.V5, p.ReasonCode)).NotTo(BeEmpty(), "the broker sent PUBREL reason code 0x%02X, which PUBREL does not define", p.ReasonCode)
			}
			Expect(sub.Problems()).To(BeEmpty(), "the broker sent what the subscriber could not take")
			Expect(pub.Problems()).To(BeEmpty(), "the broker sent what the publisher could not take")
		})

	ConformanceIt("answers a QoS 2 PUBLISH sent again before PUBREL with PUBREC and passes it on once; a packet id used again after PUBCOMP or PUBACK is a new message",
		Statements5("MQTT-4.3.3-8", "MQTT-4.3.3-10", "MQTT-4.3.3-11", "MQTT-4.3.3-12", "MQTT-4.3.2-4", "MQTT-4.3.2-5", "MQTT-3.7.2-1"),
		Catches("v5-ack-ids-shifted", "v5-qos1-dup-dropped", "v5-qos2-id-reuse-dropped", "v5-qos2-dup-taken-as-new"), func(ctx SpecContext) {
			topic := f.Topic("again")
			sub := f.Client5(ctx, "sub")
			sub.MustSubscribe(ctx, topic, 2, 0)
			r := f.Raw5(ctx, "pub")
			_, err := r.Connect(ConnectPacket5())
			Expect(err).NotTo(HaveOccurred())
			publish := func(qos byte, id uint16, dup bool, payload string) {
				GinkgoHelper()
				Expect(r.Send(wire.Publish(topic, qos, id, payload, wire.Version(wire.V5), func(p *wire.Packet) { p.DUP = dup }))).To(Succeed())
			}
			expect := func(t wire.Type, id uint16, what string) wire.Packet {
				GinkgoHelper()
				p, err := r.Expect(t, AckTimeout())
				Expect(err).NotTo(HaveOccurred(), "%s", what)
				Expect(p.PacketID).To(Equal(id), "the broker's %s for packet id %d carried packet id %d", t, id, p.PacketID)
				return p
			}
			release := func(id uint16) {
				GinkgoHelper()
				Expect(r.Send(wire.PubRel(id, wire.Version(wire.V5)))).To(Succeed())
				comp := expect(wire.PUBCOMP, id, "no PUBCOMP for a PUBREL")
				Expect(comp.ReasonCode).To(BeElementOf(byte(0x00), byte(0x92)), "PUBCOMP reason code 0x%02X is not a PUBCOMP reason code", comp.ReasonCode)
				Expect(comp.ReasonCode).To(BeZero(), "the broker answered the PUBREL of a QoS 2 flow it had acknowledged with PUBCOMP 0x%02X", comp.ReasonCode)
			}

			publish(2, 7, false, "q2-first")
			rec := expect(wire.PUBREC, 7, "no PUBREC for a QoS 2 PUBLISH")
			Expect(rec.ReasonCode).To(BeNumerically("<", 0x80), "the broker refused a QoS 2 PUBLISH to a topic with a subscriber")
			publish(2, 7, true, "q2-first")
			expect(wire.PUBREC, 7, "no PUBREC for a QoS 2 PUBLISH sent again before its PUBREL")
			release(7)

			By("packet id 7 used again after its PUBCOMP")
			publish(2, 7, false, "q2-second")
			expect(wire.PUBREC, 7, "no PUBREC for a new QoS 2 PUBLISH reusing a completed packet id")
			release(7)

			By("a QoS 1 packet id used again after its PUBACK, once with DUP 1")
			publish(1, 9, false, "q1-first")
			expect(wire.PUBACK, 9, "no PUBACK for a QoS 1 PUBLISH")
			publish(1, 9, true, "q1-second")
			expect(wire.PUBACK, 9, "no PUBACK for a QoS 1 PUBLISH reusing an acknowledged packet id with DUP 1")
			publish(1, 10, false, "end")
			expect(wire.PUBACK, 10, "no PUBACK for a QoS 1 PUBLISH")

			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("end"), "the last message never reached the subscriber")
			Expect(sub.Payloads()).To(ConsistOf("q2-first", "q2-second", "q1-first", "q1-second", "end"),
				"the subscriber got the wrong messages: a QoS 2 PUBLISH sent again before PUBREL is one message, and a packet id used again after PUBCOMP or PUBACK starts a new one")
		})
})

// SUBSCRIBE and SUBACK: one SUBACK per SUBSCRIBE, one reason code per
// filter, in order, granting at most the QoS asked for.
var _ = Describe("MQTT 5.0 SUBACK", Label("subscribe"), func() {
	f := New()

	ConformanceIt("answers a SUBSCRIBE of several filters with one SUBACK holding, in order, the QoS granted for each, and delivers on the subscribed topics at the lower of the published and granted QoS",
		Statements5("MQTT-3.8.4-1", "MQTT-3.8.4-2", "MQTT-2.2.1-6", "MQTT-3.8.4-5", "MQTT-3.8.4-6", "MQTT-3.8.4-7", "MQTT-3.8.4-8", "MQTT-3.9.3-1", "MQTT-3.3.2-3"),
		Catches("v5-suback-codes-reversed", "v5-subscribe-qos-raised", "v5-subscribe-last-filter-dropped", "v5-forwarded-topic-mangled"), func(ctx SpecContext) {
			sub := f.Client5(ctx, "sub")
			asked := []byte{0, 1, 2}
			var subs []wire.Subscription
			for _, q := range asked {
				subs = append(subs, wire.Subscription{Filter: f.Topic(fmt.Sprint("q", q)), QoS: q})
			}
			ack, err := sub.SubscribeAll(ctx, nil, subs...)
			Expect(err).NotTo(HaveOccurred())
			granted := ack.ReasonCodes
			for i, code := range granted {
				Expect(code).To(BeNumerically("<=", asked[i]), "SUBACK reason code %d is 0x%02X for a subscription asking QoS %d: a SUBACK grants at most the QoS asked for, in the order of the filters", i, code, asked[i])
			}

			pub := f.Client5(ctx, "pub")
			for _, s := range subs {
				for _, q := range []byte{1, 2} {
					pub.MustPublish(ctx, s.Filter, q, fmt.Sprintf("%s-at-%d", s.Filter[len(s.Filter)-2:], q))
				}
			}
			Eventually(func() int { return len(sub.Messages()) }).WithContext(ctx).Should(Equal(2*len(subs)), "every filter of the one SUBSCRIBE must have become a subscription")
			for _, m := range sub.Messages() {
				i := slices.IndexFunc(subs, func(s wire.Subscription) bool { return s.Filter == m.Topic })
				Expect(i).NotTo(BeNumerically("<", 0), "a message came on topic %q, which the client never subscribed to", m.Topic)
				published := m.Payload[len(m.Payload)-1] - '0'
				Expect(m.QoS).To(Equal(min(published, granted[i])), "message %q published at QoS %d on a subscription granted QoS %d came at QoS %d", m.Payload, published, granted[i], m.QoS)
			}
		})
})

// UNSUBSCRIBE and UNSUBACK.
var _ = Describe("MQTT 5.0 UNSUBACK", Label("subscribe"), func() {
	f := New()

	ConformanceIt("deletes only the subscription whose filter is exactly the one unsubscribed, answering one UNSUBACK with a reason code per filter in order",
		Statements5("MQTT-3.10.4-1", "MQTT-3.10.4-2", "MQTT-3.10.4-4", "MQTT-3.10.4-5", "MQTT-3.10.4-6", "MQTT-3.11.3-1", "MQTT-3.11.3-2"),
		Catches("v5-unsuback-codes-reversed", "v5-unsubscribe-ignored", "v5-unsubscribe-by-pattern"), func(ctx SpecContext) {
			wild, exact := f.Topic("+/a"), f.Topic("b")
			sub := f.Client5(ctx, "sub")
			sub.MustSubscribe(ctx, wild, 1, 0)
			sub.MustSubscribe(ctx, exact, 1, 0)

			// the topic name f.Topic("b/a") matches the wildcard filter but
			// is not it, so it deletes nothing
			ack, err := sub.Unsubscribe(ctx, nil, exact, f.Topic("b/a"))
			Expect(err).NotTo(HaveOccurred())
			Expect(ack.ReasonCodes).To(HaveLen(2), "the UNSUBACK for two filters carried %d reason codes", len(ack.ReasonCodes))
			for i, code := range ack.ReasonCodes {
				Expect(wire.ReturnCodeText(wire.UNSUBACK, wire.V5, code)).NotTo(BeEmpty(), "UNSUBACK reason code %d is 0x%02X, not an Unsubscribe reason code", i, code)
			}
			Expect(ack.ReasonCodes[0]).To(BeZero(), "the UNSUBACK's first reason code, for the existing subscription %q, is 0x%02X, not Success", exact, ack.ReasonCodes[0])
			// 0x11 (No subscription existed) says it best, but 0x00 is a
			// defined code too and no MUST asks for 0x11: noted, not failed.
			Expect(ack.ReasonCodes[1]).To(BeElementOf(byte(0x00), byte(0x11)), "the UNSUBACK's second reason code, for %q which no subscription has as its filter, is 0x%02X, neither 0x11 (No subscription existed) nor 0x00", f.Topic("b/a"), ack.ReasonCodes[1])
			if ack.ReasonCodes[1] == 0x00 {
				AddReportEntry("UNSUBACK for a filter never subscribed", fmt.Sprintf("the broker answered 0x00 (Success) for %q, which no subscription had; 0x11 (No subscription existed) would say so", f.Topic("b/a")))
			}

			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, exact, 1, "unsubscribed")
			pub.MustPublish(ctx, f.Topic("b/a"), 1, "still-subscribed")
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("still-subscribed"), "the wildcard subscription %q is gone, though only %q was unsubscribed", wild, f.Topic("b/a"))
			Expect(sub.Payloads()).NotTo(ContainElement("unsubscribed"), "a message came on %q after that subscription was deleted", exact)
		})
})
