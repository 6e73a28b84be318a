package conformance5

import (
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Subscription identifiers: a message carries the identifiers of the
// subscriptions it matched.
var _ = Describe("MQTT 5.0 subscription identifiers", Label("identifiers"), func() {
	f := New()

	ConformanceIt("sends a message matching two overlapping subscriptions with both their Subscription Identifiers, one copy or two",
		Statements5("MQTT-3.3.4-3", "MQTT-3.3.4-4", "MQTT-3.3.4-5"), Catches("v5-subscription-ids-dropped"), func(ctx SpecContext) {
			topic := f.Topic("ids/a")
			sub := f.Client5(ctx, "sub")
			sub.Require(wire.PropSubscriptionIdentifierAvailable)
			sub.Require(wire.PropWildcardSubscriptionAvailable)
			sub.MustSubscribe(ctx, topic, 1, 0, SubscriptionID(7))
			sub.MustSubscribe(ctx, f.Topic("ids/+"), 1, 0, SubscriptionID(300))
			pub := f.Client5(ctx, "pub")

			pub.MustPublish(ctx, topic, 1, "both")

			ids := func() []uint32 {
				var all []uint32
				for _, m := range sub.Messages() {
					if m.Payload == "both" {
						all = append(all, m.Props.Uints(wire.PropSubscriptionIdentifier)...)
					}
				}
				slices.Sort(all)
				return all
			}
			Eventually(ids).WithContext(ctx).Should(Equal([]uint32{7, 300}),
				"the copies of a message matching subscriptions with identifiers 7 and 300 did not carry both, each once")
			var copies [][]uint32
			for _, m := range sub.Messages() {
				if m.Payload == "both" {
					copies = append(copies, m.Props.Uints(wire.PropSubscriptionIdentifier))
				}
			}
			if len(copies) == 2 {
				for _, c := range copies {
					Expect(c).To(HaveLen(1), "the broker sent one copy per matching subscription, and a copy carried the identifiers %v instead of its own subscription's", c)
				}
			}
			Expect(len(copies)).To(BeNumerically("<=", 2), "a message matching two subscriptions came %d times", len(copies))
		})
})
