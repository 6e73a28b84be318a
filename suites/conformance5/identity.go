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

// Client identifiers: which the broker must accept, and one client id,
// one connection.
var _ = Describe("MQTT 5.0 client identifiers", Label("identifiers"), func() {
	f := New()

	ConformanceIt("accepts a client id of 23 letters and digits",
		Statements5("MQTT-3.1.3-5"), Catches("v5-client-id-23-refused"), func(ctx SpecContext) {
			c := f.NewClient5("long")
			// unique in the run: the framework's id, padded with letters
			c.ID = (c.ID + strings.Repeat("Z", 23))[:23]
			Expect(c.ID).To(MatchRegexp(`^[0-9a-zA-Z]{23}$`), "the framework's client id is not made of letters and digits")
			ack, err := c.Connect(ctx)
			Expect(err).NotTo(HaveOccurred(), "the broker refused the 23-character client id %q", c.ID)
			Expect(ack.ReasonCode).To(BeZero())
		})

	ConformanceIt("closes the existing connection of a client id when a new connection connects with it, with DISCONNECT 0x8E if it sends one",
		Statements5("MQTT-3.1.4-3", "MQTT-3.14.2-1", "MQTT-3.14.2-2", "MQTT-3.14.4-1", "MQTT-3.14.4-2", "MQTT-4.13.2-1"),
		Catches("v5-takeover-id-renamed", "v5-server-disconnect-code-undefined", "v5-server-disconnect-expiry-added", "v5-server-disconnect-followed"), func(ctx SpecContext) {
			first := f.Client5(ctx, "first")
			second := f.NewClient5("second")
			second.ID = first.ID
			Expect(second.Connect(ctx)).Error().NotTo(HaveOccurred(), "the broker refused a client id already connected")
			d, sent, err := first.AwaitClosed(ctx)
			Expect(err).NotTo(HaveOccurred(), "the broker kept the first connection of client id %q open after a second connected with it", first.ID)
			if sent {
				Expect(wire.ReturnCodeText(wire.DISCONNECT, wire.V5, d.ReasonCode)).NotTo(BeEmpty(), "the broker sent DISCONNECT 0x%02X, which is not a DISCONNECT reason code", d.ReasonCode)
				Expect(d.ReasonCode).To(Equal(byte(0x8E)), "the broker closed the connection taken over with DISCONNECT 0x%02X, not 0x8E (Session taken over)", d.ReasonCode)
				Expect(Props(d.Properties).Has(wire.PropSessionExpiryInterval)).To(BeFalse(), "the broker's DISCONNECT carried a Session Expiry Interval, which only a client may send")
				var after []string
				for _, in := range first.Packets() {
					if in.Conn == 1 && in.Packet.Type == wire.DISCONNECT {
						after = []string{}
					} else if after != nil && in.Conn == 1 {
						after = append(after, in.Packet.Type.String())
					}
				}
				Expect(after).To(BeEmpty(), "the broker sent packets after its DISCONNECT on that connection")
			}
			Expect(second.Ping(ctx)).To(Succeed(), "the new connection of the client id did not stay up")
		})
})

// Topics beginning with '$' are not matched by filters beginning with a
// wildcard.
var _ = Describe("MQTT 5.0 '$' topics", Label("routing"), func() {
	f := New()

	ConformanceIt("does not match a topic beginning with '$' against filters beginning with '#' or '+'",
		Statements5("MQTT-4.7.2-1"), Catches("v5-dollar-topics-matched"), func(ctx SpecContext) {
			dollar, plain := f.DollarTopic("status"), f.Topic("status")
			plusFilter := "+/" + plain[strings.Index(plain, "/")+1:]
			exact := f.Client5(ctx, "exact")
			exact.MustSubscribe(ctx, dollar, 0, 0)
			exact.MustSubscribe(ctx, plain, 0, 0)
			plus := f.Client5(ctx, "plus")
			plus.MustSubscribe(ctx, plusFilter, 0, 0)
			hash := f.Client5(ctx, "hash")
			hash.MustSubscribe(ctx, "#", 0, 0)
			pub := f.Client5(ctx, "pub")
			ack, err := pub.Publish(ctx, dollar, 1, "dollar")
			Expect(err).NotTo(HaveOccurred())
			if ack.ReasonCode >= 0x80 {
				// the '$' topics are the server's (MQTT 5.0 section 4.7.2): it may refuse clients' PUBLISHes there
				Unsupported(fmt.Sprintf("the broker refused a PUBLISH to %s with PUBACK 0x%02X: it does not let clients publish to this '$' topic", dollar, ack.ReasonCode))
			}
			pub.MustPublish(ctx, plain, 1, "plain")

			// exact subscribes to both topics: once "plain" has come, a
			// "dollar" published before it would have come too
			Eventually(exact.Payloads).WithContext(ctx).Should(ContainElement("plain"), "no message came on %s", plain)
			if !slices.Contains(exact.Payloads(), "dollar") {
				Unsupported(fmt.Sprintf("the broker acknowledged a PUBLISH to %s but did not deliver it to the exact subscription: it does not let clients publish to this '$' topic", dollar))
			}
			// Only this spec's messages count: '#' also sees other specs'.
			for _, c := range []*Client5{plus, hash} {
				ours := func() []string {
					var out []string
					for _, m := range c.Messages() {
						if strings.Contains(m.Topic, f.TopicRoot()) {
							out = append(out, m.Payload)
						}
					}
					return out
				}
				Eventually(ours).WithContext(ctx).Should(ContainElement("plain"), "%s did not get a message on %s", c.Name, plain)
				Expect(ours()).NotTo(ContainElement("dollar"), "the subscription of %s matched the '$' topic %s", c.Name, dollar)
			}
		})
})
