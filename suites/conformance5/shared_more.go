package conformance5

import (
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Shared subscriptions: the ShareName's syntax, and a QoS 2 delivery
// under way to a member whose link breaks.
var _ = Describe("MQTT 5.0 shared subscriptions, more", Label("shared"), func() {
	f := New()

	ConformanceIt("refuses a shared subscription whose ShareName contains '+': a SUBACK failure code or a closed connection, never a grant",
		Statements5("MQTT-4.8.2-2"), Catches("v5-share-name-repaired"), func(ctx SpecContext) {
			c := f.Client5(ctx, "c")
			c.Require(wire.PropSharedSubscriptionAvailable)
			filter := "$share/g+h/" + f.Topic("bad")
			ack, err := c.SubscribeAll(ctx, nil, wire.Subscription{Filter: filter, QoS: 1})
			if err != nil {
				_, _, closed := c.AwaitClosed(ctx)
				Expect(closed).NotTo(HaveOccurred(), "the broker neither answered a SUBSCRIBE to %q nor closed the connection: %v", filter, err)
				return
			}
			Expect(ack.ReasonCodes[0]).To(BeNumerically(">=", 0x80), "the broker granted the shared subscription %q (SUBACK 0x%02X): a ShareName must not contain '+'", filter, ack.ReasonCodes[0])
		})

	ConformanceIt("completes a QoS 2 delivery to a shared subscriber whose link broke with that same subscriber when it reconnects, not with another member",
		Statements5("MQTT-4.8.2-4"), Catches("v5-shared-resend-dropped"), func(ctx SpecContext) {
			topic, mark := f.Topic("shared"), f.Topic("mark")
			filter := "$share/g/" + topic
			a := f.Client5(ctx, "member-a", SessionExpiry(60))
			a.Require(wire.PropSharedSubscriptionAvailable)
			a.MustSubscribe(ctx, filter, 2, 0)
			a.HoldAcks()
			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, topic, 2, "held")
			Eventually(a.Payloads).WithContext(ctx).Should(ContainElement("held"), "the only member of the group did not get the message")

			b := f.Client5(ctx, "member-b")
			b.MustSubscribe(ctx, filter, 2, 0)
			b.MustSubscribe(ctx, mark, 1, 0)

			By("member a's link breaks with its PUBREC withheld; it comes back to its session")
			a.Drop()
			_ = a.ReleaseAcks() // nothing to send on a dropped connection: stop withholding
			Expect(a.Connect(ctx, CleanStart(false))).Error().NotTo(HaveOccurred())
			Expect(a.SessionPresent()).To(BeTrue(), "member a's session did not survive its broken link")
			Eventually(func() bool {
				return slices.ContainsFunc(a.Packets(), func(in Inbound5) bool {
					return in.Conn == 2 && in.Packet.Type == wire.PUBLISH && string(in.Packet.Payload) == "held"
				})
			}).WithContext(ctx).Should(BeTrue(), "the QoS 2 message under way to member a was not sent to it again when it reconnected")

			pub.MustPublish(ctx, mark, 1, "mark")
			Eventually(b.Payloads).WithContext(ctx).Should(ContainElement("mark"))
			Expect(b.Payloads()).NotTo(ContainElement("held"), "the QoS 2 message under way to member a was sent to member b as well")
		})
})
