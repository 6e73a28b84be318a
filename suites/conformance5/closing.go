package conformance5

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// How connections end: a malformed DISCONNECT is no normal disconnection,
// and a refused CONNECT ends the connection.
var _ = Describe("MQTT 5.0 ending a connection", Label("closing"), func() {
	f := New()

	ConformanceIt("treats a DISCONNECT whose reserved flags are set as malformed: the connection ends abnormally and the will is published",
		Statements5("MQTT-3.14.1-1"), Catches("v5-disconnect-flags-repaired"), func(ctx SpecContext) {
			topic := f.Topic("will")
			sub := f.Client5(ctx, "sub")
			sub.MustSubscribe(ctx, topic, 1, 0)
			r := f.Raw5(ctx, "leaver")
			p := ConnectPacket5()
			p.Will = &wire.Will{Topic: topic, QoS: 1, Payload: []byte("will"), PayloadSize: 4}
			Expect(r.Connect(p)).Error().NotTo(HaveOccurred())
			Expect(r.Write([]byte{byte(wire.DISCONNECT)<<4 | 0x01, 2, 0x00, 0})).To(Succeed())
			Expect(r.ExpectClosed(AckTimeout())).To(Succeed(), "the broker kept the connection open after a DISCONNECT")
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("will"),
				"the will was not published: the broker took a DISCONNECT with reserved flags set as a normal disconnection")
		})

	ConformanceIt("refuses a CONNECT of an unknown protocol version with a defined CONNACK code and Session Present 0, never a DISCONNECT, and closes the connection",
		Statements5("MQTT-3.1.2-2", "MQTT-3.2.2-6", "MQTT-3.2.2-7", "MQTT-3.2.2-8", "MQTT-3.14.0-1"),
		Catches("v5-unknown-level-accepted", "v5-refusal-session-present", "v5-refusal-code-undefined", "v5-refusal-as-disconnect"), func(ctx SpecContext) {
			r := f.Raw5(ctx, "future")
			p := ConnectPacket5()
			b := wire.Encode(p)
			h, _, err := wire.ParseHeader(b)
			Expect(err).NotTo(HaveOccurred())
			b[h.Len+6] = 6 // the protocol level, after the protocol name
			Expect(r.Write(b)).To(Succeed())
			seen, closed := r.ReadUntilClosed(AckTimeout())
			for _, q := range seen {
				Expect(q.Type).To(Equal(wire.CONNACK), "the broker answered a CONNECT of protocol version 6 with %s", q)
				// a broker may answer a version it does not know in the
				// 3.1.1 format: two bytes, 0x01 unacceptable protocol version
				v311Refusal := q.Remaining == 2 && q.ReasonCode == 0x01
				Expect(q.ReasonCode >= 0x80 || v311Refusal).To(BeTrue(), "the broker accepted a CONNECT of protocol version 6: CONNACK 0x%02X", q.ReasonCode)
				if !v311Refusal {
					Expect(wire.ReturnCodeText(wire.CONNACK, wire.V5, q.ReasonCode)).NotTo(BeEmpty(), "the broker refused with CONNACK 0x%02X, which is not a Connect reason code", q.ReasonCode)
				}
				Expect(q.SessionPresent).To(BeFalse(), "the broker's refusing CONNACK 0x%02X said Session Present 1", q.ReasonCode)
			}
			Expect(closed).To(BeTrue(), "the broker kept the connection open after refusing a CONNECT of protocol version 6")
		})
})

// Subscribing again to the same filter replaces the subscription.
var _ = Describe("MQTT 5.0 SUBSCRIBE again", Label("subscribe"), func() {
	f := New()

	ConformanceIt("replaces a subscription when the same filter is subscribed again: one copy, at the new QoS",
		Statements5("MQTT-3.8.4-3"), Catches("v5-resubscribe-ignored"), func(ctx SpecContext) {
			topic := f.Topic("again")
			sub := f.Client5(ctx, "sub")
			sub.MustSubscribe(ctx, topic, 0, 0)
			sub.MustSubscribe(ctx, topic, 1, 0)
			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, topic, 1, "once")
			pub.MustPublish(ctx, topic, 1, "end")
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("end"))
			Expect(sub.Payloads()).To(Equal([]string{"once", "end"}), "a filter subscribed twice must be one subscription")
			m, _ := sub.Message("once")
			Expect(m.QoS).To(Equal(byte(1)), "the message came at QoS %d: the second SUBSCRIBE, asking QoS 1, did not replace the first", m.QoS)
		})
})
