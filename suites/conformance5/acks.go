package conformance5

import (
	"fmt"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Reason codes on acknowledgements: each says what happened, from the
// set the standard defines for that packet.
var _ = Describe("MQTT 5.0 reason codes", Label("reason-codes"), func() {
	f := New()

	// The codes a PUBACK or PUBREC may carry (MQTT 5.0 sections 3.4.2.1
	// and 3.5.2.1).
	defined := []byte{0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99}

	ConformanceIt("acknowledges QoS 1 and QoS 2 PUBLISHes with defined reason codes, and says No matching subscribers (0x10) only when none matched",
		Statements5("MQTT-3.4.2-1", "MQTT-3.5.2-1"), Catches("v5-acks-say-no-subscribers"), func(ctx SpecContext) {
			heard, unheard := f.Topic("heard"), f.Topic("unheard")
			sub := f.Client5(ctx, "sub")
			sub.MustSubscribe(ctx, heard, 2, 0)
			pub := f.Client5(ctx, "pub")

			var delivered []string
			for _, qos := range []byte{1, 2} {
				for _, topic := range []string{heard, unheard} {
					// with and without a property: some brokers copy the
					// PUBLISH's properties onto the acknowledgement
					for _, props := range [][]wire.Property{nil, {UserProp("k", "v")}} {
						payload := fmt.Sprintf("q%d-%s-%d", qos, topic[len(topic)-5:], len(props))
						ack, err := pub.Publish(ctx, topic, qos, payload, props...)
						Expect(err).NotTo(HaveOccurred())
						Expect(slices.Contains(defined, ack.ReasonCode)).To(BeTrue(),
							"the broker answered a QoS %d PUBLISH (%d properties) with %s reason code 0x%02X, which %s does not define", qos, len(props), ack.Type, ack.ReasonCode, ack.Type)
						if topic == heard {
							delivered = append(delivered, payload)
							Expect(ack.ReasonCode).NotTo(Equal(byte(0x10)), "the broker answered a QoS %d PUBLISH with %s 0x10 (No matching subscribers), yet a subscriber was subscribed to %s", qos, ack.Type, topic)
						}
					}
				}
			}
			Eventually(sub.Payloads).WithContext(ctx).Should(ConsistOf(delivered))
		})

	ConformanceIt("refuses a subscription to an invalid topic filter: a SUBACK failure code or a closed connection, never a grant",
		Statements5("MQTT-4.7.1-1", "MQTT-3.9.3-2"), Catches("v5-invalid-filters-granted"), func(ctx SpecContext) {
			c := f.Client5(ctx, "c")

			ack, err := c.SubscribeAll(ctx, nil, wire.Sub(f.Topic("#/below"), 1))
			if err != nil {
				_, _, closed := c.AwaitClosed(ctx)
				Expect(closed).NotTo(HaveOccurred(), "the broker neither answered a SUBSCRIBE to an invalid filter nor closed the connection: %v", err)
				return
			}
			code := ack.ReasonCodes[0]
			Expect(code).To(BeNumerically(">=", 0x80), "the broker granted a subscription to the invalid filter %q (SUBACK 0x%02X): '#' must be the last character", f.Topic("#/below"), code)
			Expect(wire.ReturnCodeText(wire.SUBACK, wire.V5, code)).NotTo(BeEmpty(), "SUBACK code 0x%02X is not a Subscribe reason code", code)
		})
})
