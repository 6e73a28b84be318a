package conformance

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

var _ = Describe("A publisher's link cut in the middle of a PUBLISH", Label("faults", "publisher-link"), func() {
	f := New()

	ConformanceIt("still gets a QoS 1 message to the subscriber at least once, once the publisher reconnects and resends it",
		Statements("MQTT-4.4.0-1", "MQTT-4.3.2-2", "MQTT-4.5.0-1"), Label("qos1"),
		Catches("drop-retransmitted-publish"), func(ctx SpecContext) {
			topic := f.Topic("telemetry")
			sub := f.Subscriber(ctx, "sub", topic, 1)
			pub := f.Client(ctx, "pub", Persistent(), AutoReconnect())
			cut := pub.Link.CutInto(proxy.ToBroker, proxy.Publish(1), 5)

			Expect(pub.Publish(ctx, topic, 1, "m1")).To(Succeed(), "the publisher never got its PUBACK")

			Expect(cut.Fired()).To(BeClosed(), "the cut never happened")
			Expect(pub.Connections()).To(BeNumerically(">=", 2), "the publisher did not reconnect")
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("m1"))
		})

	ConformanceIt("never delivers a QoS 0 message twice",
		Statements("MQTT-4.3.1-1"), Label("qos0"), Catches("duplicate-qos0"), func(ctx SpecContext) {
			topic := f.Topic("telemetry")
			sub := f.Subscriber(ctx, "sub", topic, 0)
			pub := f.Client(ctx, "pub", AutoReconnect())
			cut := pub.Link.CutInto(proxy.ToBroker, proxy.Publish(0), 5)

			_ = pub.Publish(ctx, topic, 0, "m1") // it may or may not leave the client whole
			Eventually(cut.Fired()).WithContext(ctx).Should(BeClosed())
			Eventually(pub.Connections).WithContext(ctx).Should(Equal(2), "the publisher did not reconnect")
			// paho drops a QoS 0 message published while it is still
			// finishing a reconnect, and says it was sent: wait until it
			// is done, so that m2 really leaves.
			Eventually(pub.Connected).WithContext(ctx).Should(BeTrue(), "the publisher never finished reconnecting")
			Expect(pub.Publish(ctx, topic, 0, "m2")).To(Succeed())

			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("m2"))
			Consistently(func() []int { return []int{sub.Count("m1"), sub.Count("m2")} }).
				WithContext(ctx).WithTimeout(300*time.Millisecond).
				Should(HaveEach(BeNumerically("<=", 1)), "a QoS 0 message arrived twice")
		})
})
