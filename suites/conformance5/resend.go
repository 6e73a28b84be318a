package conformance5

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Redelivery: unacknowledged PUBLISHes are sent again, with their packet
// ids and DUP 1, when the session resumes.
var _ = Describe("MQTT 5.0 redelivery", Label("resend"), func() {
	f := New()

	// Each QoS has a subscriber of its own with one message unacknowledged:
	// every broker keeps at least one message in flight, while a broker may
	// keep just one (ejabberd does), so one subscriber holding both would
	// see the second sent before the cut or only after it, depending on the
	// broker.
	ConformanceIt("sends unacknowledged QoS 1 and 2 PUBLISHes again when the session resumes, with their packet ids and DUP 1",
		Statements5("MQTT-4.4.0-1", "MQTT-3.3.1-1"), Catches("v5-resend-dup-cleared", "v5-resend-new-id"), func(ctx SpecContext) {
			pub := f.Client5(ctx, "pub")
			qoses, subs := []byte{1, 2}, map[byte]*Client5{}
			for _, qos := range qoses {
				topic := f.Topic(fmt.Sprint("resend-q", qos))
				sub := f.Client5(ctx, fmt.Sprint("sub-q", qos), SessionExpiry(60))
				sub.MustSubscribe(ctx, topic, 2, 0)
				sub.HoldAcks()
				pub.MustPublish(ctx, topic, qos, fmt.Sprint("q", qos))
				subs[qos] = sub
			}
			ids := map[byte]uint16{}
			for _, qos := range qoses {
				sub, payload := subs[qos], fmt.Sprint("q", qos)
				Eventually(sub.Payloads).WithContext(ctx).Should(ConsistOf(payload), "the QoS %d subscriber did not get its message", qos)
				m, _ := sub.Message(payload)
				ids[qos] = m.PacketID
				sub.Drop()
				_ = sub.ReleaseAcks() // nothing to send on a dropped connection: stop withholding
			}

			for _, qos := range qoses {
				sub, payload := subs[qos], fmt.Sprint("q", qos)
				Expect(sub.Connect(ctx, CleanStart(false))).Error().NotTo(HaveOccurred())
				Expect(sub.SessionPresent()).To(BeTrue(), "the QoS %d subscriber's session did not survive the broken link", qos)
				again := func() []wire.Packet {
					var out []wire.Packet
					for _, in := range sub.Packets() {
						if in.Conn == 2 && in.Packet.Type == wire.PUBLISH {
							out = append(out, in.Packet)
						}
					}
					return out
				}
				Eventually(again).WithContext(ctx).ShouldNot(BeEmpty(), "the unacknowledged QoS %d message %q was not sent again when the session resumed", qos, payload)
				p := again()[0]
				Expect(string(p.Payload)).To(Equal(payload), "the QoS %d subscriber got %q first on its resumed session, not its unacknowledged message %q", qos, p.Payload, payload)
				Expect(p.PacketID).To(Equal(ids[qos]), "QoS %d message %q came again with packet id %d, not its own %d", qos, payload, p.PacketID, ids[qos])
				Expect(p.DUP).To(BeTrue(), "QoS %d message %q came again with DUP 0", qos, payload)
			}
		})
})
