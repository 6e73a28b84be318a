package conformance5

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Subscription options: No Local, Retain As Published and Retain Handling.
var _ = Describe("MQTT 5.0 subscription options", Label("options"), func() {
	f := New()

	ConformanceIt("does not send a client its own messages on a No Local subscription",
		Statements5("MQTT-3.8.3-3"), Catches("v5-no-local-ignored"), func(ctx SpecContext) {
			topic := f.Topic("chat")
			c := f.Client5(ctx, "c")
			c.MustSubscribe(ctx, topic, 1, wire.NoLocal)
			other := f.Client5(ctx, "other")
			other.MustSubscribe(ctx, topic, 1, 0)

			c.MustPublish(ctx, topic, 1, "own")
			other.MustPublish(ctx, topic, 1, "other's")

			// The broker had "own" before "other's" (c had its PUBACK):
			// on the same topic, "own" would reach c first.
			Eventually(c.Payloads).WithContext(ctx).Should(ContainElement("other's"), "the No Local subscription did not deliver another client's message")
			Eventually(other.Payloads).WithContext(ctx).Should(ContainElement("own"))
			Expect(c.Payloads()).NotTo(ContainElement("own"), "the broker sent the client its own message on its No Local subscription")
		})

	ConformanceIt("forwards RETAIN as published with Retain As Published 1, and RETAIN 0 with Retain As Published 0",
		Statements5("MQTT-3.3.1-12", "MQTT-3.3.1-13"), Catches("v5-retain-as-published-inverted"), func(ctx SpecContext) {
			topic := f.Topic("kept")
			asPublished := f.Client5(ctx, "as-published")
			asPublished.MustSubscribe(ctx, topic, 1, wire.RetainAsPublished)
			plain := f.Client5(ctx, "plain")
			plain.MustSubscribe(ctx, topic, 1, 0)
			// The broker has done all a SUBSCRIBE brings (retained
			// messages included) before it answers a later PINGREQ: the
			// message below is then forwarded, not sent as retained.
			Expect(asPublished.Ping(ctx)).To(Succeed())
			Expect(plain.Ping(ctx)).To(Succeed())
			pub := f.Client5(ctx, "pub")
			pub.Require(wire.PropRetainAvailable)

			pub.MustPublishPacket(ctx, wire.Publish(topic, 1, 0, "retained", wire.Retained()))

			Eventually(asPublished.Payloads).WithContext(ctx).Should(ContainElement("retained"))
			Eventually(plain.Payloads).WithContext(ctx).Should(ContainElement("retained"))
			m, _ := asPublished.Message("retained")
			Expect(m.Retain).To(BeTrue(), "a subscriber with Retain As Published 1 got a message published with RETAIN 1 with RETAIN 0")
			m, _ = plain.Message("retained")
			Expect(m.Retain).To(BeFalse(), "a subscriber with Retain As Published 0 got a message forwarded to its existing subscription with RETAIN 1")
		})

	// A subscriber subscribes twice to a topic with a retained message;
	// after each SUBACK a plain message on the same topic marks the point
	// by which the retained copy for that SUBSCRIBE has come, if any.
	DescribeTable("sends retained messages on SUBSCRIBE as Retain Handling says",
		func(ctx SpecContext, handling byte, want int) {
			topic := f.Topic("kept")
			pub := f.Client5(ctx, "pub")
			pub.Require(wire.PropRetainAvailable)
			pub.MustPublishPacket(ctx, wire.Publish(topic, 1, 0, "retained", wire.Retained()))
			sub := f.Client5(ctx, "sub")

			for i := range 2 {
				sub.MustSubscribe(ctx, topic, 1, RetainHandling(handling))
				marker := fmt.Sprintf("marker-%d", i)
				pub.MustPublish(ctx, topic, 1, marker)
				Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement(marker))
			}

			// Copies sent because of a SUBSCRIBE have RETAIN 1; a broker
			// may route the original PUBLISH after its PUBACK, to a
			// subscription made since, with RETAIN 0: that copy is not one.
			copies := 0
			for _, m := range sub.Messages() {
				if m.Payload == "retained" && m.Retain {
					copies++
				}
			}
			Expect(copies).To(Equal(want), "with Retain Handling %d, subscribing to a topic with a retained message and then subscribing again (the subscription now exists) brought %d copies of it, not %d", handling, copies, want)
		},
		ConformanceEntry("0: at every subscribe, also when the subscription exists", byte(0), 2,
			Statements5("MQTT-3.3.1-9", "MQTT-3.8.4-4"), Catches("v5-retain-handling-rotated")),
		ConformanceEntry("1: only when the subscription did not exist", byte(1), 1,
			Statements5("MQTT-3.3.1-10"), Catches("v5-retain-handling-rotated")),
		ConformanceEntry("2: never", byte(2), 0,
			Statements5("MQTT-3.3.1-11"), Catches("v5-retain-handling-rotated")),
	)
})
