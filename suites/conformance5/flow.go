package conformance5

import (
	"fmt"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Flow control: the broker keeps no more QoS 1 and 2 messages
// unacknowledged towards a client than the client's Receive Maximum. The
// Receive Maximum is an upper bound only: a broker may keep fewer in flight
// (ejabberd keeps one), and the spec judges only the bound.
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

			// Twice the subscriber takes what the broker sends while it
			// acknowledges nothing, then acknowledges all of it. What it holds
			// unacknowledged at the end of a round the broker had outstanding
			// at least: never above the window. The broker may keep fewer in
			// flight; the spec asks only that some come, and more once the
			// first are acknowledged.
			var used []int
			for round := range 2 {
				held, err := sub.HeldWindow(ctx, sent)
				if round == 0 {
					Expect(err).NotTo(HaveOccurred(), "no message came to the subscriber while it withheld its acknowledgements")
				} else {
					Expect(err).NotTo(HaveOccurred(), "no further messages came once the first %d were acknowledged", used[0])
				}
				if round == 0 {
					Expect(sub.Unacknowledged()).To(BeNumerically("<=", window),
						"the broker had %d QoS 1 messages unacknowledged towards the subscriber (%v), more than its Receive Maximum of %d", sub.Unacknowledged(), payloads5(held), window)
				} else {
					Expect(sub.Unacknowledged()).To(BeNumerically("<=", window),
						"after %d acknowledgements the broker sent %d further QoS 1 messages, so it had more unacknowledged than the client's Receive Maximum of %d (%v)", used[0], sub.Unacknowledged(), window, payloads5(held))
				}
				used = append(used, len(held))
				if round == 0 {
					By(fmt.Sprintf("with %d message(s) unacknowledged, as many as the broker keeps in flight, a SUBSCRIBE is still answered", len(held)))
					_, err := sub.Subscribe(ctx, f.Topic("other"), 1, 0)
					Expect(err).NotTo(HaveOccurred(), "the broker held back its SUBACK while QoS 1 messages to the client were unacknowledged")
				}
				Expect(sub.SendHeldAcks()).To(Succeed())
			}
			AddReportEntry("unacknowledged window", fmt.Sprintf("Receive Maximum %d; the broker sent %v messages per round of acknowledgements (at most %d in flight)", window, used, slices.Max(used)))
		})
})

var _ = Describe("MQTT 5.0 flow control", Label("flow"), func() {
	f := New()

	ConformanceIt("delivers every message queued behind a full Receive Maximum window once the client acknowledges: none is lost waiting",
		Statements5("MQTT-4.5.0-1", "MQTT-4.9.0-2"), Catches("v5-flow-controlled-lost"), func(ctx SpecContext) {
			const window, sent = 2, 8
			topic := f.Topic("flow")
			sub := f.Client5(ctx, "sub", ReceiveMaximum(window))
			sub.MustSubscribe(ctx, topic, 1, 0)
			sub.HoldAcks()
			pub := f.Client5(ctx, "pub")
			var want []string
			for i := range sent {
				want = append(want, fmt.Sprint("m", i))
				pub.MustPublish(ctx, topic, 1, want[i])
			}

			// All eight are the broker's before the first is acknowledged:
			// the window is full and the rest wait. Round after round the
			// subscriber takes what comes and acknowledges it; each round
			// must bring more until all have come.
			for len(sub.Payloads()) < sent {
				_, err := sub.HeldWindow(ctx, sent)
				Expect(err).NotTo(HaveOccurred(), "after %d of %d messages (%v) the broker sent no more, though the client had acknowledged all it got: the rest were lost waiting for the window",
					len(sub.Payloads()), sent, sub.Payloads())
				Expect(sub.SendHeldAcks()).To(Succeed())
			}
			Expect(sub.Payloads()).To(ConsistOf(want), "each message once")
		})
})

// payloads5 lists the payloads of ms.
func payloads5(ms []Message5) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Payload)
	}
	return out
}

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
