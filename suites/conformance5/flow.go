package conformance5

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Flow control: the broker keeps no more QoS 1 and 2 messages
// unacknowledged towards a client than the client's Receive Maximum.
var _ = Describe("MQTT 5.0 flow control", Label("flow"), func() {
	f := New()

	ConformanceIt("keeps no more unacknowledged QoS 1 PUBLISHes towards a client than its Receive Maximum, and still answers its other packets",
		Statements5("MQTT-3.3.4-9", "MQTT-3.3.4-10", "MQTT-4.9.0-2", "MQTT-4.9.0-3"), Catches("v5-receive-maximum-dropped"), func(ctx SpecContext) {
			const window, sent = 2, 6
			topic := f.Topic("flow")
			sub := f.Client5(ctx, "sub", ReceiveMaximum(window))
			sub.MustSubscribe(ctx, topic, 1, 0)
			sub.HoldAcks()
			pub := f.Client5(ctx, "pub")
			for i := range sent {
				pub.MustPublish(ctx, topic, 1, fmt.Sprint("m", i))
			}

			Eventually(func() int { return len(sub.Payloads()) }).WithContext(ctx).Should(BeNumerically(">=", window), "the subscriber got fewer messages than its Receive Maximum while it withheld its acknowledgements")
			Consistently(sub.Payloads).WithContext(ctx).WithTimeout(500*time.Millisecond).Should(HaveLen(window),
				"the broker sent more QoS 1 messages than the client's Receive Maximum of %d while none was acknowledged", window)

			By("a full window holds back only PUBLISHes: a SUBSCRIBE is still answered")
			_, err := sub.Subscribe(ctx, f.Topic("other"), 1, 0)
			Expect(err).NotTo(HaveOccurred(), "the broker held back its SUBACK while the client's Receive Maximum window was full")

			By("acknowledging the first two lets exactly two more come, while the client withholds the new acknowledgements")
			Expect(sub.SendHeldAcks()).To(Succeed())
			Eventually(func() int { return len(sub.Payloads()) }).WithContext(ctx).Should(BeNumerically(">=", 2*window), "no further messages came once the first %d were acknowledged", window)
			Consistently(sub.Payloads).WithContext(ctx).WithTimeout(500*time.Millisecond).Should(HaveLen(2*window),
				"after %d acknowledgements the broker sent more than %d further QoS 1 messages, so it had more unacknowledged than the client's Receive Maximum of %d", window, window, window)
		})
})

// Maximum Packet Size: a client says how large a packet it can take, and
// the broker never sends it a larger one.
var _ = Describe("MQTT 5.0 maximum packet size", Label("flow"), func() {
	f := New()

	ConformanceIt("never sends a client a packet larger than its Maximum Packet Size: the message is dropped, the connection kept",
		Statements5("MQTT-3.1.2-24", "MQTT-3.1.2-25"), Catches("v5-maximum-packet-size-dropped"), func(ctx SpecContext) {
			const limit = 256
			topic := f.Topic("sized")
			sub := f.Client5(ctx, "sub", ConnectProperty(wire.PropMaximumPacketSize, uint32(limit)))
			sub.MustSubscribe(ctx, topic, 1, 0)
			pub := f.Client5(ctx, "pub")

			pub.MustPublish(ctx, topic, 1, "big-"+strings.Repeat("x", 2*limit))
			pub.MustPublish(ctx, topic, 1, "small")

			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("small"), "a message that fits the client's Maximum Packet Size of %d bytes did not come after a larger one", limit)
			for _, in := range sub.Packets() {
				Expect(in.Size).To(BeNumerically("<=", limit), "the broker sent a %d-byte %s to a client whose Maximum Packet Size is %d bytes", in.Size, in.Packet.Type, limit)
			}
			Expect(sub.Connected()).To(BeTrue(), "the broker closed the connection of a client with a Maximum Packet Size instead of dropping the message too large for it")
		})
})
