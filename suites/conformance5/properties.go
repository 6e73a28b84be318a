package conformance5

import (
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Message properties travel with the message: the broker forwards them to
// every subscriber unchanged, user properties in their order.
var _ = Describe("MQTT 5.0 message properties", Label("properties"), func() {
	f := New()

	ConformanceIt("forwards Payload Format Indicator, Content Type, Response Topic, Correlation Data and User Properties unchanged and in order",
		Statements5("MQTT-3.3.2-4", "MQTT-3.3.2-15", "MQTT-3.3.2-16", "MQTT-3.3.2-17", "MQTT-3.3.2-18", "MQTT-3.3.2-20"), Catches("v5-publish-properties-mangled"), func(ctx SpecContext) {
			topic := f.Topic("request")
			sub := f.Client5(ctx, "responder")
			sub.MustSubscribe(ctx, topic, 1, 0)
			pub := f.Client5(ctx, "requester")
			correlation := []byte{0x00, 0xFF, 0x10, 'i', 'd'}
			users := [][2]string{{"b", "1"}, {"a", "2"}, {"b", "3"}, {"", "empty name"}}
			props := []wire.Property{
				Prop(wire.PropPayloadFormatIndicator, byte(1)),
				Prop(wire.PropContentType, "application/json; charset=utf-8"),
				Prop(wire.PropResponseTopic, f.Topic("reply")),
				Prop(wire.PropCorrelationData, correlation),
			}
			for _, u := range users {
				props = append(props, UserProp(u[0], u[1]))
			}

			pub.MustPublish(ctx, topic, 1, `{"q":1}`, props...)

			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement(`{"q":1}`))
			m, _ := sub.Message(`{"q":1}`)
			pfi, _ := m.Props.Uint(wire.PropPayloadFormatIndicator)
			Expect(pfi).To(Equal(uint32(1)), "the Payload Format Indicator 1 was not forwarded [MQTT-3.3.2-4]")
			ct, _ := m.Props.Str(wire.PropContentType)
			Expect(ct).To(Equal("application/json; charset=utf-8"), "the Content Type was not forwarded unchanged [MQTT-3.3.2-20]")
			rt, _ := m.Props.Str(wire.PropResponseTopic)
			Expect(rt).To(Equal(f.Topic("reply")), "the Response Topic was not forwarded unchanged [MQTT-3.3.2-15]")
			cd, _ := m.Props.Bytes(wire.PropCorrelationData)
			Expect(cd).To(Equal(correlation), "the Correlation Data was not forwarded unchanged [MQTT-3.3.2-16]")
			Expect(m.Props.User()).To(Equal(users), "the User Properties were not forwarded unchanged and in order [MQTT-3.3.2-17, MQTT-3.3.2-18]")
		})

	ConformanceIt("assigns a unique client identifier to a client that connects with an empty one, and says which in CONNACK",
		Statements5("MQTT-3.1.3-6", "MQTT-3.1.3-7", "MQTT-3.2.2-16"), Catches("v5-assigned-id-dropped"), func(ctx SpecContext) {
			assigned := func(name string) string {
				GinkgoHelper()
				c := f.NewClient5(name)
				c.ID = ""
				ack, err := c.Connect(ctx)
				var refused *Refused5
				if errors.As(err, &refused) && refused.Connack.ReasonCode == 0x85 {
					Unsupported("the broker refuses empty client identifiers: CONNACK 0x85 (Client Identifier not valid)")
				}
				Expect(err).NotTo(HaveOccurred())
				id, ok := Props(ack.Properties).Str(wire.PropAssignedClientIdentifier)
				Expect(ok).To(BeTrue(), "the broker accepted an empty client identifier without an Assigned Client Identifier in its CONNACK")
				Expect(id).NotTo(BeEmpty(), "the Assigned Client Identifier is empty")
				return id
			}
			first, second := assigned("first"), assigned("second")
			Expect(first).NotTo(Equal(second), "two connected clients were assigned the same client identifier %q", first)
		})
})
