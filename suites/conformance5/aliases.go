package conformance5

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Topic aliases, in both directions: a PUBLISH may name its topic by a
// number set earlier on the same connection.
var _ = Describe("MQTT 5.0 topic aliases", Label("aliases"), func() {
	f := New()

	// aliasing connects a publisher and returns it with the broker's Topic
	// Alias Maximum, or makes the spec "not supported" when it takes none.
	aliasing := func(ctx SpecContext) (*Client5, uint16) {
		GinkgoHelper()
		pub := f.Client5(ctx, "pub")
		max, ok := pub.Capability(wire.PropTopicAliasMaximum)
		if !ok || max == 0 {
			Unsupported(fmt.Sprintf("the broker accepts no topic aliases: its CONNACK gives Topic Alias Maximum %d (absent: %v)", max, !ok))
		}
		return pub, uint16(max)
	}
	aliased := func(topic string, alias uint16, payload string) wire.Packet {
		return wire.Publish(topic, 1, 0, payload, wire.Props(Prop(wire.PropTopicAlias, alias)))
	}

	ConformanceIt("accepts the topic aliases a client sets, from 1 up to its Topic Alias Maximum, and delivers aliased messages to their topic",
		Statements5("MQTT-3.3.2-12"), Catches("v5-topic-alias-unlearned"), func(ctx SpecContext) {
			sub := f.Client5(ctx, "sub")
			sub.MustSubscribe(ctx, f.Topic("#"), 1, 0)
			pub, max := aliasing(ctx)
			low, high := f.Topic("low"), f.Topic("high")

			pub.MustPublishPacket(ctx, aliased(low, 1, "low-set"))
			pub.MustPublishPacket(ctx, aliased(high, max, "high-set"))
			pub.MustPublishPacket(ctx, aliased("", 1, "low-used"))
			pub.MustPublishPacket(ctx, aliased("", max, "high-used"))

			topics := func() map[string]string {
				got := map[string]string{}
				for _, m := range sub.Messages() {
					got[m.Payload] = m.Topic
				}
				return got
			}
			Eventually(topics).WithContext(ctx).Should(Equal(map[string]string{"low-set": low, "high-set": high, "low-used": low, "high-used": high}),
				"messages published with topic aliases 1 and %d (the broker's maximum) did not all reach their topics", max)
		})

	ConformanceIt("sends no topic alias to a client that gave no Topic Alias Maximum",
		Statements5("MQTT-3.1.2-27"), Catches("v5-topic-alias-over-maximum"), func(ctx SpecContext) {
			topic := f.Topic("plain")
			sub := f.Client5(ctx, "sub")
			sub.MustSubscribe(ctx, topic, 1, 0)
			pub := f.Client5(ctx, "pub")
			for i := range 4 {
				pub.MustPublish(ctx, topic, 1, fmt.Sprint("m", i))
			}

			Eventually(sub.Payloads).WithContext(ctx).Should(HaveLen(4))
			for _, m := range sub.Messages() {
				alias, ok := m.Props.Uint(wire.PropTopicAlias)
				Expect(ok).To(BeFalse(), "the broker sent topic alias %d on %q to a client whose CONNECT had no Topic Alias Maximum", alias, m.Payload)
			}
		})

	// A broker need not send aliases at all; one that does must keep to the
	// client's maximum and to what it set on this connection.
	ConformanceIt("sends only topic aliases from 1 to the client's Topic Alias Maximum, each resolving to the message's topic",
		Statements5("MQTT-3.1.2-26", "MQTT-3.3.2-11", "MQTT-3.3.2-8"), Catches("v5-topic-alias-over-maximum"), func(ctx SpecContext) {
			const max = 2
			sub := f.Client5(ctx, "sub", TopicAliasMaximum(max))
			sub.MustSubscribe(ctx, f.Topic("#"), 1, 0)
			pub := f.Client5(ctx, "pub")
			want := map[string]string{}
			for round := range 2 {
				for _, name := range []string{"a", "b", "c"} {
					payload := fmt.Sprintf("%s%d", name, round)
					want[payload] = f.Topic(name)
					pub.MustPublish(ctx, f.Topic(name), 1, payload)
				}
			}

			Eventually(sub.Payloads).WithContext(ctx).Should(HaveLen(len(want)))
			for _, m := range sub.Messages() {
				if alias, ok := m.Props.Uint(wire.PropTopicAlias); ok {
					Expect(alias).To(And(BeNumerically(">=", 1), BeNumerically("<=", max)),
						"the broker sent topic alias %d on %q to a client whose Topic Alias Maximum is %d", alias, m.Payload, max)
				}
				Expect(m.Topic).To(Equal(want[m.Payload]), "%q resolved to topic %q, published to %q", m.Payload, m.Topic, want[m.Payload])
			}
			Expect(sub.Problems()).To(BeEmpty(), "the client could not take what the broker sent")
		})

	ConformanceIt("treats a topic alias above its Topic Alias Maximum as a protocol error: it closes the connection and delivers nothing",
		Statements5("MQTT-4.13.1-1"), Catches("v5-topic-alias-over-maximum-accepted"), func(ctx SpecContext) {
			topic := f.Topic("aliased")
			sub := f.Client5(ctx, "sub")
			sub.MustSubscribe(ctx, topic, 1, 0)
			pub, max := aliasing(ctx)
			if max == 0xFFFF {
				Unsupported("the broker's Topic Alias Maximum is 65535: no alias is above it")
			}

			_, _ = pub.PublishPacket(ctx, aliased(topic, max+1, "over")) // no PUBACK is due: the broker closes the connection

			d, sent, err := pub.AwaitClosed(ctx)
			Expect(err).NotTo(HaveOccurred(), "the broker kept the connection open after a PUBLISH with topic alias %d, above its Topic Alias Maximum of %d", max+1, max)
			if sent {
				Expect(d.ReasonCode).To(BeNumerically(">=", 0x80), "the broker ended the connection with DISCONNECT 0x%02X, not an error code, after a topic alias above its maximum", d.ReasonCode)
			}
			other := f.Client5(ctx, "other")
			other.MustPublish(ctx, topic, 1, "marker")
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("marker"))
			Expect(sub.Payloads()).NotTo(ContainElement("over"), "the broker delivered a PUBLISH whose topic alias %d is above its Topic Alias Maximum of %d", max+1, max)
		})

	ConformanceIt("forgets a client's topic aliases when its connection ends: an alias of the last connection is a protocol error, not a topic",
		Statements5("MQTT-3.3.2-7", "MQTT-4.13.1-1"), Catches("v5-topic-alias-kept-across-connections"), func(ctx SpecContext) {
			topic := f.Topic("aliased")
			sub := f.Client5(ctx, "sub")
			sub.MustSubscribe(ctx, topic, 1, 0)
			pub, _ := aliasing(ctx)
			pub.MustPublishPacket(ctx, aliased(topic, 1, "set"))
			Expect(pub.Disconnect(0x00)).To(Succeed())
			_, err := pub.Connect(ctx)
			Expect(err).NotTo(HaveOccurred())

			_, _ = pub.PublishPacket(ctx, aliased("", 1, "stale")) // no PUBACK is due: the broker closes the connection

			_, _, err = pub.AwaitClosed(ctx)
			Expect(err).NotTo(HaveOccurred(), "the broker kept the connection open after a PUBLISH named its topic only by an alias the connection never set")
			other := f.Client5(ctx, "other")
			other.MustPublish(ctx, topic, 1, "marker")
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("marker"))
			Expect(sub.Payloads()).NotTo(ContainElement("stale"), "the broker delivered a PUBLISH whose topic alias was set only on the client's previous connection")
		})
})
