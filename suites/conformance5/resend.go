package conformance5

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Redelivery: unacknowledged PUBLISHes are sent again, with their packet
// ids and DUP 1, when the session resumes.
var _ = Describe("MQTT 5.0 redelivery", Label("resend"), func() {
	f := New()

	ConformanceIt("sends unacknowledged QoS 1 and 2 PUBLISHes again when the session resumes, with their packet ids and DUP 1",
		Statements5("MQTT-4.4.0-1", "MQTT-3.3.1-1"), Catches("v5-resend-dup-cleared", "v5-resend-new-id"), func(ctx SpecContext) {
			topic := f.Topic("resend")
			sub := f.Client5(ctx, "sub", SessionExpiry(60))
			sub.MustSubscribe(ctx, topic, 2, 0)
			sub.HoldAcks()
			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, topic, 1, "q1")
			pub.MustPublish(ctx, topic, 2, "q2")
			Eventually(sub.Payloads).WithContext(ctx).Should(ConsistOf("q1", "q2"))
			ids := map[string]uint16{}
			for _, m := range sub.Messages() {
				ids[m.Payload] = m.PacketID
			}

			sub.Drop()
			_ = sub.ReleaseAcks() // nothing to send on a dropped connection: stop withholding
			Expect(sub.Connect(ctx, CleanStart(false))).Error().NotTo(HaveOccurred())
			Expect(sub.SessionPresent()).To(BeTrue(), "the session did not survive the broken link")
			again := func() map[string]wire.Packet {
				out := map[string]wire.Packet{}
				for _, in := range sub.Packets() {
					if in.Conn == 2 && in.Packet.Type == wire.PUBLISH {
						out[string(in.Packet.Payload)] = in.Packet
					}
				}
				return out
			}
			Eventually(again).WithContext(ctx).Should(HaveLen(2), "the unacknowledged messages were not both sent again when the session resumed")
			for payload, p := range again() {
				Expect(p.PacketID).To(Equal(ids[payload]), "message %q came again with packet id %d, not its own %d", payload, p.PacketID, ids[payload])
				Expect(p.DUP).To(BeTrue(), "message %q came again with DUP 0", payload)
			}
		})
})
