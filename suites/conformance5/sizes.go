package conformance5

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// A broker leaves out its Reason String and User Properties rather than
// send a client a packet larger than the client's Maximum Packet Size:
// the acknowledgement still comes, and fits.
var _ = Describe("MQTT 5.0 acknowledgements within the Maximum Packet Size", Label("flow"), func() {
	f := New()

	ConformanceIt("sends every acknowledgement and its DISCONNECT within a small Maximum Packet Size, leaving out what would not fit",
		Statements5("MQTT-3.2.2-19", "MQTT-3.2.2-20", "MQTT-3.4.2-2", "MQTT-3.4.2-3", "MQTT-3.5.2-2", "MQTT-3.5.2-3",
			"MQTT-3.6.2-2", "MQTT-3.6.2-3", "MQTT-3.7.2-2", "MQTT-3.7.2-3", "MQTT-3.9.2-1", "MQTT-3.9.2-2",
			"MQTT-3.11.2-1", "MQTT-3.11.2-2", "MQTT-3.14.2-3", "MQTT-3.14.2-4"),
		Catches("v5-acks-explained-at-length"), func(ctx SpecContext) {
			const limit = 128
			heard, unheard := f.Topic("h"), f.Topic("u")
			c := f.Client5(ctx, "small", ConnectProperty(wire.PropMaximumPacketSize, uint32(limit)))
			c.MustSubscribe(ctx, heard, 2, 0)
			for _, qos := range []byte{1, 2} {
				for _, topic := range []string{heard, unheard} {
					// a User Property some brokers copy onto the acknowledgement
					c.MustPublish(ctx, topic, qos, topic[len(topic)-1:]+string('0'+qos), UserProp("k", "v"))
				}
			}
			Eventually(c.Payloads).WithContext(ctx).Should(ConsistOf("h1", "h2"), "the client's own messages did not come back to it")
			Expect(c.Unsubscribe(ctx, nil, heard, unheard)).Error().NotTo(HaveOccurred())
			Expect(c.Ping(ctx)).To(Succeed())

			By("a second connection with the client id: the first gets the broker's DISCONNECT, if any")
			again := f.NewClient5("again")
			again.ID = c.ID
			Expect(again.Connect(ctx)).Error().NotTo(HaveOccurred())
			Expect(c.AwaitClosed(ctx)).Error().NotTo(HaveOccurred())

			seen := map[wire.Type]bool{}
			for _, in := range c.Packets() {
				seen[in.Packet.Type] = true
				Expect(in.Size).To(BeNumerically("<=", limit), "the broker sent a %d-byte %s to a client whose Maximum Packet Size is %d bytes: %s", in.Size, in.Packet.Type, limit, in.Packet)
			}
			for _, t := range []wire.Type{wire.CONNACK, wire.PUBACK, wire.PUBREC, wire.PUBREL, wire.PUBCOMP, wire.SUBACK, wire.UNSUBACK} {
				Expect(seen).To(HaveKey(t), "no %s came", t)
			}
		})
})
