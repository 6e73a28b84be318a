package conformance5

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Routing: every matching subscription gets the message, in the order it
// was published.
var _ = Describe("MQTT 5.0 routing", Label("routing"), func() {
	f := New()

	ConformanceIt("delivers a message to every client whose subscription matches it",
		Statements5("MQTT-4.5.0-1"), Catches("v5-one-subscriber-only"), func(ctx SpecContext) {
			topic := f.Topic("room/temp")
			var subs []*Client5
			for i, filter := range []string{topic, f.Topic("+/temp"), f.Topic("room/#")} {
				c := f.Client5(ctx, fmt.Sprint("sub-", i))
				c.MustSubscribe(ctx, filter, 1, 0)
				subs = append(subs, c)
			}
			f.Client5(ctx, "pub").MustPublish(ctx, topic, 1, "for-all")
			for _, c := range subs {
				Eventually(c.Payloads).WithContext(ctx).Should(ContainElement("for-all"), "%s, whose subscription matches %s, did not get the message", c.Name, topic)
			}
		})

	ConformanceIt("delivers one publisher's QoS 1 messages on a topic to a subscriber in the order they were published",
		Statements5("MQTT-4.6.0-5", "MQTT-4.6.0-6"), Catches("v5-publishes-swapped"), func(ctx SpecContext) {
			topic := f.Topic("ordered")
			sub := f.Client5(ctx, "sub")
			sub.MustSubscribe(ctx, topic, 1, 0)
			pub := f.Client5(ctx, "pub")
			var sent []string
			for i := range 8 {
				payload := fmt.Sprint("m", i)
				pub.MustPublish(ctx, topic, 1, payload)
				sent = append(sent, payload)
			}
			Eventually(func() int { return len(sub.Payloads()) }).WithContext(ctx).Should(BeNumerically(">=", len(sent)), "not every message came")
			Expect(sub.Payloads()).To(Equal(sent), "the messages came out of the order they were published in")
		})
})
