package conformance5

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Message expiry: a message waiting in the broker for a subscriber that is
// away lives only as long as its Message Expiry Interval, and the
// subscriber learns how much of it is left.
var _ = Describe("MQTT 5.0 message expiry", Label("expiry"), func() {
	f := New()

	// Brokers count the interval in whole seconds: the subscriber stays
	// away well past it.
	ConformanceIt("does not deliver a queued message whose Message Expiry Interval passed while the subscriber was away",
		Statements5("MQTT-3.3.2-5"), Catches("v5-message-expiry-dropped"), SpecTimeout(30*time.Second), func(ctx SpecContext) {
			topic := f.Topic("expiring")
			sub := f.Client5(ctx, "sub", SessionExpiry(30))
			sub.MustSubscribe(ctx, topic, 1, 0)
			Expect(sub.Disconnect(0x00)).To(Succeed())
			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, topic, 1, "expires", Prop(wire.PropMessageExpiryInterval, uint32(1)))
			pub.MustPublish(ctx, topic, 1, "stays")

			Elapse(ctx, 3*time.Second)
			_, err := sub.Connect(ctx, CleanStart(false))
			Expect(err).NotTo(HaveOccurred())

			// Same topic, same publisher: "expires" would come before "stays".
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("stays"),
				"the resumed session did not deliver the message without expiry queued while the client was away")
			Expect(sub.Payloads()).NotTo(ContainElement("expires"),
				"the broker delivered a message 3 s after it was published with a Message Expiry Interval of 1 s")
		})

	ConformanceIt("forwards a queued message with its Message Expiry Interval reduced by the time it waited",
		Statements5("MQTT-3.3.2-6"), Catches("v5-message-expiry-not-decremented", "v5-message-expiry-dropped"), SpecTimeout(30*time.Second), func(ctx SpecContext) {
			const sent = 60
			topic := f.Topic("countdown")
			sub := f.Client5(ctx, "sub", SessionExpiry(30))
			sub.MustSubscribe(ctx, topic, 1, 0)
			Expect(sub.Disconnect(0x00)).To(Succeed())
			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, topic, 1, "countdown", Prop(wire.PropMessageExpiryInterval, uint32(sent)))
			published := time.Now()

			Elapse(ctx, 2*time.Second)
			_, err := sub.Connect(ctx, CleanStart(false))
			Expect(err).NotTo(HaveOccurred())
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("countdown"))

			m, _ := sub.Message("countdown")
			waited := m.At.Sub(published)
			left, ok := m.Props.Uint(wire.PropMessageExpiryInterval)
			Expect(ok).To(BeTrue(), "the message came without a Message Expiry Interval; it was published with %d s", sent)
			// Whole seconds: after 2 s and more in the broker, at least
			// one second is gone, and no more than the wait rounded up.
			Expect(left).To(BeNumerically("<=", sent-1), "the message waited %v in the broker, yet came with a Message Expiry Interval of %d s, as published", waited.Round(time.Millisecond), left)
			Expect(left).To(BeNumerically(">=", sent-int(waited/time.Second)-1), "the message waited %v in the broker and came with only %d s of its %d s left", waited.Round(time.Millisecond), left, sent)
		})
})
