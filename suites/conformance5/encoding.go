package conformance5

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// The byte format: every packet the broker writes to a 5.0 client follows
// the encoding rules of the standard (the framework's 5.0 encoding rule
// judges each one, in every 5.0 spec), and the strings clients publish
// reach subscribers byte for byte.
var _ = Describe("MQTT 5.0 encoding", Label("encoding"), func() {
	f := New()

	ConformanceIt("encodes every packet it sends a 5.0 client by the byte format's rules: Variable Byte Integers in the fewest bytes, exact reserved flags, a Property Length in every packet that has one, UTF-8 strings, no packet id on QoS 0",
		Statements5("MQTT-1.5.5-1", "MQTT-2.1.3-1", "MQTT-2.2.1-2", "MQTT-2.2.2-1", "MQTT-1.5.7-1", "MQTT-3.3.2-1", "MQTT-3.3.2-13", "MQTT-3.3.2-19",
			"MQTT-3.15.1-1", "MQTT-3.15.2-1"),
		Catches("v5-remaining-length-padded", "v5-property-length-padded", "v5-reserved-flags-set", "v5-qos0-with-packet-id", "v5-property-length-omitted",
			"v5-topic-bad-utf8", "v5-user-property-bad-utf8", "v5-response-topic-bad-utf8", "v5-content-type-bad-utf8", "v5-auth-flags-set", "v5-auth-code-undefined"), func(ctx SpecContext) {
			sub := f.Client5(ctx, "sub")
			var subProps []wire.Property
			if v, ok := sub.Capability(wire.PropSubscriptionIdentifierAvailable); !ok || v == 1 {
				subProps = append(subProps, SubscriptionID(300)) // two bytes as a Variable Byte Integer
			}
			sub.MustSubscribe(ctx, f.Topic("enc/#"), 2, 0, subProps...)
			other := f.Topic("other")
			sub.MustSubscribe(ctx, other, 1, 0)
			unsuback, err := sub.Unsubscribe(ctx, nil, other)
			Expect(err).NotTo(HaveOccurred())

			pub := f.Client5(ctx, "pub")
			user := [][2]string{{"ключ", "значение"}, {"k", "v\ufeff"}}
			props := []wire.Property{Prop(wire.PropResponseTopic, f.Topic("enc/reply")), Prop(wire.PropContentType, "text/plain; charset=utf-8"),
				UserProp(user[0][0], user[0][1]), UserProp(user[1][0], user[1][1])}
			long := strings.Repeat("L", 300) // a Remaining Length of two bytes
			type sent struct {
				topic, payload string
				qos            byte
				props          bool
			}
			var all []sent
			for _, qos := range []byte{0, 1, 2} {
				all = append(all,
					sent{f.Topic(fmt.Sprintf("enc/q%d/props", qos)), fmt.Sprintf("q%d-props", qos), qos, true},
					sent{f.Topic(fmt.Sprintf("enc/q%d/bare", qos)), fmt.Sprintf("q%d-bare", qos), qos, false},
					sent{f.Topic(fmt.Sprintf("enc/q%d/long", qos)), fmt.Sprintf("q%d-%s", qos, long), qos, false})
			}
			for _, m := range all {
				if m.props {
					pub.MustPublish(ctx, m.topic, m.qos, m.payload, props...)
				} else {
					pub.MustPublish(ctx, m.topic, m.qos, m.payload)
				}
			}
			Expect(sub.Ping(ctx)).To(Succeed())
			Expect(pub.Ping(ctx)).To(Succeed())

			Eventually(func() int { return len(sub.Messages()) }).WithContext(ctx).Should(BeNumerically(">=", len(all)), "the subscriber did not get every message")

			By("no packet the broker sent either client breaks an encoding rule")
			Expect(f.V5WireProblems()).To(BeEmpty(), "the broker sent packets that break the MQTT 5.0 encoding rules")
			Expect(sub.Problems()).To(BeEmpty(), "the broker sent the subscriber what it could not take")

			By("each message arrives with its topic, payload and properties as published, and the UNSUBACK with one reason code")
			Expect(unsuback.ReasonCodes).To(HaveLen(1), "the UNSUBACK for one filter carried %d reason codes", len(unsuback.ReasonCodes))
			for _, m := range all {
				got, ok := sub.Message(m.payload)
				Expect(ok).To(BeTrue(), "message %q never arrived with its payload as published (a QoS 0 PUBLISH carrying a packet id shifts it)", m.payload)
				Expect(got.Topic).To(Equal(m.topic), "message %q came on topic %q, published on %q", m.payload, got.Topic, m.topic)
				if !m.props {
					continue
				}
				rt, _ := got.Props.Str(wire.PropResponseTopic)
				Expect(rt).To(Equal(f.Topic("enc/reply")), "message %q came with Response Topic %q", m.payload, rt)
				ct, _ := got.Props.Str(wire.PropContentType)
				Expect(ct).To(Equal("text/plain; charset=utf-8"), "message %q came with Content Type %q", m.payload, ct)
				Expect(got.Props.User()).To(Equal(user), "message %q came with other User Properties", m.payload)
			}
			Expect(sub.Payloads()).To(HaveLen(len(all)), "the subscriber got other messages than those published")
		})

	ConformanceIt("keeps U+FEFF (EF BB BF) wherever it is in a topic name or User Property, never stripping it",
		Statements5("MQTT-1.5.4-3"), Catches("v5-bom-stripped"), func(ctx SpecContext) {
			sub := f.Client5(ctx, "sub")
			sub.MustSubscribe(ctx, f.Topic("bom/#"), 1, 0)
			pub := f.Client5(ctx, "pub")
			topic := f.Topic("bom/\ufefffirst/mid\ufeffdle/last\ufeff")
			user := [][2]string{{"\ufeffname", "val\ufeffue"}}
			pub.MustPublish(ctx, topic, 1, "bom", UserProp(user[0][0], user[0][1]))

			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("bom"), "the message never reached a subscriber of %q", f.Topic("bom/#"))
			m, _ := sub.Message("bom")
			Expect([]byte(m.Topic)).To(Equal([]byte(topic)), "the topic name came as %q, published as %q", m.Topic, topic)
			Expect(m.Props.User()).To(Equal(user), "the User Properties came as %q, published as %q", m.Props.User(), user)
		})

	ConformanceIt("matches topic names and filters as they are, without normalising them: composed and decomposed é, full-width and ASCII letters are different topics",
		Statements5("MQTT-4.7.3-4"), Catches("v5-topic-normalised"), func(ctx SpecContext) {
			composed := f.Topic("\u00c9tage/temp\u00e9rature")     // "Étage/température", precomposed (NFC)
			decomposed := f.Topic("E\u0301tage/tempe\u0301rature") // the same text with combining accents (NFD)
			ascii := f.Topic("floor/A1")
			wide := f.Topic("ｆｌｏｏｒ/Ａ１") // full-width forms of the same letters
			exact := f.Client5(ctx, "exact")
			exact.MustSubscribe(ctx, composed, 1, 0)
			exact.MustSubscribe(ctx, ascii, 1, 0)
			every := f.Client5(ctx, "every")
			every.MustSubscribe(ctx, f.Topic("#"), 1, 0)
			pub := f.Client5(ctx, "pub")

			// the lookalikes go first: once the last message is in, all
			// the broker routed to the exact subscriber is in too
			for _, m := range [][2]string{{decomposed, "nfd"}, {wide, "wide"}, {composed, "nfc"}, {ascii, "ascii"}} {
				pub.MustPublish(ctx, m[0], 1, m[1])
			}
			topics := func(c *Client5) func() map[string]string {
				return func() map[string]string {
					out := map[string]string{}
					for _, m := range c.Messages() {
						out[m.Payload] = m.Topic
					}
					return out
				}
			}
			Eventually(topics(every)).WithContext(ctx).Should(Equal(map[string]string{"nfd": decomposed, "wide": wide, "nfc": composed, "ascii": ascii}),
				"a subscriber of %q gets each message with its topic name byte for byte", f.Topic("#"))
			Eventually(topics(exact)).WithContext(ctx).Should(HaveKey("ascii"), "%q never reached a subscriber of exactly that topic", ascii)
			Consistently(topics(exact)).WithContext(ctx).Should(Equal(map[string]string{"nfc": composed, "ascii": ascii}),
				"subscriptions to %q and %q match only those topics, not their decomposed or full-width forms", composed, ascii)
		})

	// '+' inside a level is no wildcard a filter may hold: the broker
	// refuses the filter (SUBACK 0x8F, Topic Filter invalid) or treats the
	// SUBSCRIBE as a protocol error and closes the connection.
	DescribeTable("never grants a subscription whose '+' does not take up a whole level",
		func(ctx SpecContext, rel string) {
			r := f.Raw5(ctx, "sub")
			_, err := r.Connect(ConnectPacket5())
			Expect(err).NotTo(HaveOccurred())
			filter := f.TopicRoot() + "/" + rel
			Expect(r.Send(wire.Subscribe(1, wire.Sub(filter, 1)).With(wire.Version(wire.V5)))).To(Succeed())
			seen, closed := r.ReadUntilClosed(AckTimeout())
			acks := OfType(seen, wire.SUBACK)
			for _, p := range OfType(seen, wire.DISCONNECT) {
				Expect(p.ReasonCode).To(BeElementOf(byte(0x81), byte(0x82), byte(0x8F)), "the broker answered a SUBSCRIBE to %q with DISCONNECT 0x%02X, not a protocol error", filter, p.ReasonCode)
			}
			if len(acks) == 0 {
				Expect(closed).To(BeTrue(), "the broker neither answered the SUBSCRIBE to %q nor closed the connection", filter)
				return
			}
			Expect(acks[0].ReasonCodes).To(Equal([]byte{0x8F}), "the broker answered the SUBSCRIBE to the invalid filter %q with %s, not 0x8F (Topic Filter invalid)", filter, acks[0])
		},
		ConformanceEntry("'+' after text in a level: a/b+", "a/b+", Statements5("MQTT-4.7.1-2"), Catches("v5-plus-inside-level-accepted")),
		ConformanceEntry("'+' before text in a level: +a", "+a", Statements5("MQTT-4.7.1-2"), Catches("v5-plus-inside-level-accepted")),
	)

	ConformanceIt("treats a PUBLISH whose Response Topic holds a wildcard as a protocol error: it closes the connection and forwards nothing",
		Statements5("MQTT-3.3.2-14"), Catches("v5-response-topic-wildcard-forwarded"), func(ctx SpecContext) {
			topic := f.Topic("rt")
			sub := f.Client5(ctx, "sub")
			sub.MustSubscribe(ctx, topic, 1, 0)
			r := f.Raw5(ctx, "pub")
			_, err := r.Connect(ConnectPacket5())
			Expect(err).NotTo(HaveOccurred())
			bad := f.Topic("reply/+/#")
			Expect(r.Send(wire.Publish(topic, 1, 1, "wild", wire.Version(wire.V5), wire.Props(Prop(wire.PropResponseTopic, bad))))).To(Succeed())
			seen, closed := r.ReadUntilClosed(AckTimeout())
			for _, p := range seen {
				Expect(p.Type).NotTo(Equal(wire.PUBACK), "the broker acknowledged a PUBLISH whose Response Topic %q holds wildcards: %s", bad, p)
				if p.Type == wire.DISCONNECT {
					Expect(p.ReasonCode).To(BeElementOf(byte(0x81), byte(0x82)), "the broker answered a PUBLISH whose Response Topic holds wildcards with DISCONNECT 0x%02X, not a protocol error", p.ReasonCode)
				}
			}
			Expect(closed).To(BeTrue(), "the broker kept the connection open after a PUBLISH whose Response Topic %q holds wildcards", bad)

			// the PUBLISH came (and was refused) before the close, so a
			// message published after it follows whatever it caused
			f.Client5(ctx, "after").MustPublish(ctx, topic, 1, "after")
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("after"), "a message published after the bad one never arrived")
			Expect(sub.Payloads()).To(ConsistOf("after"), "the broker forwarded the PUBLISH whose Response Topic holds wildcards")
		})
})
