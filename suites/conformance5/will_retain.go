package conformance5

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// The will is kept with the session and published as its Will Retain
// flag says.
var _ = Describe("MQTT 5.0 will retain", Label("will"), func() {
	f := New()

	ConformanceIt("publishes the stored will of a connection that breaks: retained when Will Retain is 1, not retained when it is 0",
		Statements5("MQTT-3.1.2-7", "MQTT-3.1.2-14", "MQTT-3.1.2-15"), Catches("v5-will-dropped", "v5-will-retain-flipped"), func(ctx SpecContext) {
			plain, kept := f.Topic("will-plain"), f.Topic("will-kept")
			f.Retained(kept)
			sub := f.Client5(ctx, "sub")
			// Retain As Published: the subscriber sees the RETAIN flag the
			// will was published with
			sub.MustSubscribe(ctx, plain, 1, wire.RetainAsPublished)
			sub.MustSubscribe(ctx, kept, 1, wire.RetainAsPublished)
			w0 := f.Client5(ctx, "w0", Will5(plain, "will-0", 1, false))
			w1 := f.Client5(ctx, "w1", Will5(kept, "will-1", 1, true))
			w0.Drop()
			w1.Drop()
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElements("will-0", "will-1"), "the will of a broken connection was not published")
			m0, _ := sub.Message("will-0")
			Expect(m0.Retain).To(BeFalse(), "a will with Will Retain 0 was published retained")
			m1, _ := sub.Message("will-1")
			Expect(m1.Retain).To(BeTrue(), "a will with Will Retain 1 was published with RETAIN 0")

			By("a new subscriber gets only the will published with Will Retain 1")
			late := f.Client5(ctx, "late")
			late.MustSubscribe(ctx, plain, 1, 0)
			late.MustSubscribe(ctx, kept, 1, 0)
			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, plain, 1, "marker-plain")
			pub.MustPublish(ctx, kept, 1, "marker-kept")
			Eventually(late.Payloads).WithContext(ctx).Should(ContainElements("marker-plain", "marker-kept"))
			Expect(late.Payloads()).To(ContainElement("will-1"), "the will published with Will Retain 1 did not become the topic's retained message")
			Expect(late.Payloads()).NotTo(ContainElement("will-0"), "the will published with Will Retain 0 became a retained message")
		})
})
