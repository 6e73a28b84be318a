package conformance5

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Malformed packets and protocol errors: the broker closes the connection
// (after a DISCONNECT with a reason code of 0x80 or above, if it sends
// one) and acts on nothing the packet asked for.
var _ = Describe("MQTT 5.0 malformed packets", Label("malformed"), func() {
	f := New()

	// bad is one packet the broker must not take: its bytes, made from the
	// spec's topic root, and the acknowledgement that would mean the
	// broker took it.
	type bad struct {
		what       string
		statements []string
		defect     string
		bytes      func(root string) []byte
		taken      wire.Type
	}
	encode := func(p wire.Packet) []byte {
		p.Version = wire.V5
		return wire.Encode(p)
	}
	subscribe := func(root string, options byte) wire.Packet {
		return wire.Subscribe(1, wire.Sub(root+"/bad", options&3, options&^3))
	}
	cases := []bad{
		{"a PUBLISH with both QoS bits set", []string{"MQTT-3.3.1-4"}, "v5-fixed-header-flags-repaired", func(root string) []byte {
			b := encode(wire.Publish(root+"/bad", 1, 1, "x"))
			b[0] |= 0x06
			return b
		}, wire.PUBACK},
		{"a PUBREL whose flags are not 0010", []string{"MQTT-3.6.1-1"}, "v5-fixed-header-flags-repaired", func(string) []byte {
			b := encode(wire.PubRel(1))
			b[0] &^= 0x0F
			return b
		}, wire.PUBCOMP},
		{"a SUBSCRIBE whose flags are not 0010", []string{"MQTT-3.8.1-1"}, "v5-fixed-header-flags-repaired", func(root string) []byte {
			b := encode(subscribe(root, 1))
			b[0] &^= 0x0F
			return b
		}, wire.SUBACK},
		{"an UNSUBSCRIBE whose flags are not 0010", []string{"MQTT-3.10.1-1"}, "v5-fixed-header-flags-repaired", func(root string) []byte {
			b := encode(wire.Unsubscribe(1, root+"/bad"))
			b[0] &^= 0x0F
			return b
		}, wire.UNSUBACK},
		{"a SUBSCRIBE whose Subscription Options set reserved bits 6 and 7", []string{"MQTT-3.8.3-5"}, "v5-subscription-options-repaired", func(root string) []byte {
			b := encode(subscribe(root, 1))
			b[len(b)-1] |= 0xC0
			return b
		}, wire.SUBACK},
		{"a SUBSCRIBE without any topic filter", []string{"MQTT-3.8.3-2"}, "v5-empty-subscribe-filled", func(string) []byte {
			return encode(wire.Subscribe(1))
		}, wire.SUBACK},
		{"an UNSUBSCRIBE without any topic filter", []string{"MQTT-3.10.3-2"}, "v5-empty-subscribe-filled", func(string) []byte {
			return encode(wire.Unsubscribe(1))
		}, wire.UNSUBACK},
		{"a SUBSCRIBE setting No Local on a shared subscription", []string{"MQTT-3.8.3-4"}, "v5-shared-no-local-cleared", func(root string) []byte {
			return encode(wire.Subscribe(1, wire.Sub("$share/g/"+root+"/bad", 1, wire.NoLocal)))
		}, wire.SUBACK},
		{"a PUBLISH whose topic name holds a wildcard", []string{"MQTT-3.3.2-2", "MQTT-4.7.0-1"}, "v5-publish-topic-repaired", func(root string) []byte {
			return encode(wire.Publish(root+"/+/bad", 1, 1, "x"))
		}, wire.PUBACK},
		{"a PUBLISH with an empty topic name and no topic alias", []string{"MQTT-4.7.3-1"}, "v5-publish-topic-repaired", func(root string) []byte {
			return encode(wire.Publish("", 1, 1, "x"))
		}, wire.PUBACK},
		{"a PUBLISH whose topic name holds U+0000", []string{"MQTT-4.7.3-2", "MQTT-1.5.4-2"}, "v5-publish-topic-repaired", func(root string) []byte {
			return encode(wire.Publish(root+"/b\x00d", 1, 1, "x"))
		}, wire.PUBACK},
		{"a PUBLISH whose topic name encodes a UTF-16 surrogate", []string{"MQTT-1.5.4-1"}, "v5-publish-topic-repaired", func(root string) []byte {
			return encode(wire.Publish(root+"/b\xed\xa0\x80d", 1, 1, "x"))
		}, wire.PUBACK},
	}
	for _, c := range cases {
		ConformanceIt("closes the connection of a client that sends "+c.what+", acknowledging nothing",
			Statements5(c.statements...), Catches(c.defect), func(ctx SpecContext) {
				r := f.Raw5(ctx, "bad")
				ack, err := r.Connect(ConnectPacket5())
				Expect(err).NotTo(HaveOccurred())
				if c.defect == "v5-shared-no-local-cleared" {
					if v, ok := Props(ack.Properties).Uint(wire.PropSharedSubscriptionAvailable); ok && v == 0 {
						Unsupported("the CONNACK said Shared Subscription Available 0")
					}
				}
				Expect(r.Write(c.bytes(f.TopicRoot()))).To(Succeed())
				seen, closed := r.ReadUntilClosed(AckTimeout())
				for _, p := range seen {
					Expect(p.Type).NotTo(Equal(c.taken), "the broker answered %s with %s, as if it were well-formed", c.what, p)
					if p.Type == wire.DISCONNECT {
						Expect(p.ReasonCode).To(BeNumerically(">=", 0x80), "the broker answered %s with DISCONNECT 0x%02X, not an error", c.what, p.ReasonCode)
					}
				}
				Expect(closed).To(BeTrue(), "the broker kept the connection open after %s", c.what)
			})
	}
})
