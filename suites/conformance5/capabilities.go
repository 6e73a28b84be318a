package conformance5

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Maximum QoS and Retain Available: what the CONNACK declares is what the
// broker does.
var _ = Describe("MQTT 5.0 declared capabilities", Label("capabilities"), func() {
	f := New()

	ConformanceIt("handles PUBLISHes at every QoS up to the Maximum QoS of its CONNACK, and accepts a SUBSCRIBE asking QoS 2 whatever its maximum",
		Statements5("MQTT-3.2.2-9", "MQTT-3.2.2-10"), Catches("v5-qos2-refused-unstated", "v5-maximum-qos-1-subscribe-refused"), func(ctx SpecContext) {
			topic := f.Topic("qos")
			c := f.Client5(ctx, "c")
			maxQoS := uint32(2)
			if v, ok := c.Capability(wire.PropMaximumQoS); ok {
				maxQoS = v
			}
			code, err := c.Subscribe(ctx, topic, 2, 0)
			Expect(err).NotTo(HaveOccurred(), "a SUBSCRIBE asking QoS 2 of a broker with Maximum QoS %d was not answered", maxQoS)
			Expect(code).To(BeNumerically("<=", 2), "the broker with Maximum QoS %d refused a SUBSCRIBE asking QoS 2 (SUBACK 0x%02X): it must accept it, granting at most its maximum", maxQoS, code)
			var sent []string
			for q := byte(0); uint32(q) <= maxQoS; q++ {
				payload := fmt.Sprint("at-", q)
				ack, err := c.Publish(ctx, topic, q, payload)
				Expect(err).NotTo(HaveOccurred(), "the broker, whose CONNACK gave Maximum QoS %d, did not handle a QoS %d PUBLISH", maxQoS, q)
				Expect(ack.ReasonCode).To(BeNumerically("<", 0x80), "the broker, whose CONNACK gave Maximum QoS %d, refused a QoS %d PUBLISH with %s 0x%02X", maxQoS, q, ack.Type, ack.ReasonCode)
				sent = append(sent, payload)
			}
			Eventually(c.Payloads).WithContext(ctx).Should(ConsistOf(sent), "the messages published at QoS 0 to %d did not all come back to their subscribed publisher", maxQoS)
		})

	ConformanceIt("refuses and closes a CONNECT whose will asks for a QoS above its Maximum QoS, or RETAIN where its CONNACK said Retain Available 0",
		Statements5("MQTT-3.2.2-12", "MQTT-3.2.2-13"), Catches("v5-maximum-qos-1-announced-only", "v5-retain-unavailable-announced-only"), func(ctx SpecContext) {
			probe := f.Client5(ctx, "probe")
			maxQoS, limited := probe.Capability(wire.PropMaximumQoS)
			retain, ok := probe.Capability(wire.PropRetainAvailable)
			noRetain := ok && retain == 0
			if (!limited || maxQoS >= 2) && !noRetain {
				Unsupported("the broker's CONNACK declares Maximum QoS 2 and Retain Available: it takes every will")
			}
			refused := func(name string, qos byte, retain bool) {
				GinkgoHelper()
				c := f.NewClient5(name, Will5(f.Topic(name), name, qos, retain))
				ack, err := c.Connect(ctx)
				Expect(err).To(HaveOccurred(), "the broker accepted (CONNACK 0x%02X) a will at QoS %d, retain %v, beyond what its CONNACK declared", ack.ReasonCode, qos, retain)
				_, _, err = c.AwaitClosed(ctx)
				Expect(err).NotTo(HaveOccurred(), "the broker refused a will beyond what it declared but kept the connection open")
			}
			if limited && maxQoS < 2 {
				refused("will-qos", byte(maxQoS)+1, false)
			}
			if noRetain {
				refused("will-retain", 0, true)
			}
		})
})
