package conformance5

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Shared subscriptions: each group of $share/<group>/<filter> gets one
// copy of a message, at the QoS its receiving member was granted.
var _ = Describe("MQTT 5.0 shared subscriptions", Label("shared"), func() {
	f := New()

	ConformanceIt("sends each message once to each share group, at the receiving member's granted QoS",
		Statements5("MQTT-4.8.2-1", "MQTT-4.8.2-3"), Catches("v5-shared-subscription-unshared"), func(ctx SpecContext) {
			const sent = 10
			topic := f.Topic("work")
			m1 := f.Client5(ctx, "g-member-1")
			m1.Require(wire.PropSharedSubscriptionAvailable)
			m1.MustSubscribe(ctx, "$share/g/"+topic, 1, 0)
			m2 := f.Client5(ctx, "g-member-2")
			m2.MustSubscribe(ctx, "$share/g/"+topic, 0, 0)
			h := f.Client5(ctx, "h-member")
			h.MustSubscribe(ctx, "$share/h/"+topic, 1, 0)
			pub := f.Client5(ctx, "pub")

			var want []string
			for i := range sent {
				want = append(want, fmt.Sprint("job", i))
				pub.MustPublish(ctx, topic, 1, want[i])
			}

			group := func() []string { return append(m1.Payloads(), m2.Payloads()...) }
			Eventually(h.Payloads).WithContext(ctx).Should(ConsistOf(want), "group h, of one member, did not get every message once")
			Eventually(group).WithContext(ctx).Should(ConsistOf(want), "group g, of two members, did not get every message exactly once")
			Consistently(group).WithContext(ctx).Should(HaveLen(sent), "group g got more than one copy of some message")
			for _, m := range m1.Messages() {
				Expect(m.QoS).To(Equal(byte(1)), "member 1 (granted QoS 1) got %q at QoS %d", m.Payload, m.QoS)
			}
			for _, m := range m2.Messages() {
				Expect(m.QoS).To(Equal(byte(0)), "member 2 (granted QoS 0) got %q, published at QoS 1, at QoS %d", m.Payload, m.QoS)
			}
		})
})
