package conformance5

import (
	"fmt"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// The QoS handshakes cut at every step, on the publisher's link (client to
// broker) and on the subscriber's link (broker to client), with sessions
// that outlive the connection (Session Expiry Interval > 0) and clients
// that resume them by themselves (Resume5). Whatever the cut, the history
// must show QoS 1 delivered at least once and QoS 2 exactly once, and the
// wire must show the broker re-sending what it owes on the resumed
// session: the PUBLISH with DUP 1 and its packet id, or the PUBREL once
// the PUBREC has reached it.
var _ = Describe("MQTT 5.0 QoS handshakes cut at every step, with sessions that outlive the connection", Label("handshakes", "faults"), func() {
	f := New()

	DescribeTable("a message whose publisher's link is cut during its handshake still reaches the subscriber as its QoS promises",
		func(ctx SpecContext, qos byte, cut proxy.Cut) {
			topic := f.Topic("telemetry")
			sub := f.Client5(ctx, "sub", Resume5())
			sub.MustSubscribe(ctx, topic, qos, 0)
			pub := f.Client5(ctx, "pub", Resume5())
			fault, err := pub.Link.Arm(cut)
			Expect(err).NotTo(HaveOccurred())

			Expect(pub.Publish(ctx, topic, qos, "m1")).Error().NotTo(HaveOccurred(), "the publisher's handshake never completed")

			Expect(fault).To(HaveFired())
			Expect(pub.SessionPresent()).To(BeTrue(), "the publisher's session did not survive the cut link, so nothing was resumed")
			f.Drain5(ctx, sub, "m1")
			Expect(f.Verdict()).To(Hold())
		},
		ConformanceEntry("QoS 1: cut in the middle of the PUBLISH", byte(1), proxy.Into(proxy.ToBroker, proxy.Publish(1), 5),
			Statements5("MQTT-4.3.2-4", "MQTT-4.4.0-1"), Catches("lose-publish-on-disconnect", "drop-retransmitted-publish")),
		ConformanceEntry("QoS 1: cut after the PUBLISH, before the broker's PUBACK", byte(1), proxy.After(proxy.ToBroker, proxy.Publish(1)),
			Statements5("MQTT-4.3.2-4", "MQTT-4.4.0-1"), Catches("lose-publish-on-disconnect")),
		ConformanceEntry("QoS 1: the broker's PUBACK lost", byte(1), proxy.Before(proxy.FromBroker, proxy.PUBACK),
			Statements5("MQTT-4.3.2-4", "MQTT-4.4.0-1"), Catches("lose-publish-on-disconnect")),
		ConformanceEntry("QoS 2: cut in the middle of the PUBLISH", byte(2), proxy.Into(proxy.ToBroker, proxy.Publish(2), 5),
			Statements5("MQTT-4.3.3-8", "MQTT-4.4.0-1"), Catches("lose-publish-on-disconnect", "drop-retransmitted-publish")),
		ConformanceEntry("QoS 2: cut after the PUBLISH, before the broker's PUBREC", byte(2), proxy.After(proxy.ToBroker, proxy.Publish(2)),
			Statements5("MQTT-4.3.3-8", "MQTT-4.3.3-10", "MQTT-4.4.0-1"), Catches("lose-publish-on-disconnect")),
		ConformanceEntry("QoS 2: the broker's PUBREC lost", byte(2), proxy.Before(proxy.FromBroker, proxy.PUBREC),
			Statements5("MQTT-4.3.3-8", "MQTT-4.3.3-10", "MQTT-4.4.0-1"), Catches("lose-publish-on-disconnect", "v5-qos2-resend-delivered-again")),
		ConformanceEntry("QoS 2: cut after the PUBREC, before the publisher's PUBREL", byte(2), proxy.After(proxy.FromBroker, proxy.PUBREC),
			Statements5("MQTT-4.3.3-10", "MQTT-4.3.3-11", "MQTT-4.4.0-1"), Catches("lose-publish-on-disconnect")),
		ConformanceEntry("QoS 2: cut after the PUBREL, before the broker's PUBCOMP", byte(2), proxy.After(proxy.ToBroker, proxy.PUBREL),
			Statements5("MQTT-4.3.3-11", "MQTT-4.4.0-1"), Catches("lose-publish-on-disconnect")),
		ConformanceEntry("QoS 2: the broker's PUBCOMP lost", byte(2), proxy.Before(proxy.FromBroker, proxy.PUBCOMP),
			Statements5("MQTT-4.3.3-11", "MQTT-4.4.0-1"), Catches("lose-publish-on-disconnect")),
	)

	DescribeTable("a message whose subscriber's link is cut during its handshake is re-sent when the subscriber resumes its session, as its QoS promises",
		func(ctx SpecContext, qos byte, cut proxy.Cut) {
			topic := f.Topic("telemetry")
			sub := f.Client5(ctx, "sub", Resume5())
			sub.MustSubscribe(ctx, topic, qos, 0)
			pub := f.Client5(ctx, "pub")
			fault, err := sub.Link.Arm(cut)
			Expect(err).NotTo(HaveOccurred())

			pub.MustPublish(ctx, topic, qos, "m1")

			Eventually(fault).WithContext(ctx).Should(HaveFired())
			f.Drain5(ctx, sub, "m1")
			Expect(sub.Connections()).To(BeNumerically(">=", 2), "the subscriber never reconnected after the cut")
			Expect(sub.SessionPresent()).To(BeTrue(), "the subscriber's session did not survive the cut link, so nothing was resumed")
			Expect(f.Verdict()).To(Hold())
			ExpectResentAsSent(sub, "m1")
			ExpectNoPublishAfterPubrec(sub, "m1")
		},
		ConformanceEntry("QoS 1: cut in the middle of the PUBLISH", byte(1), proxy.Into(proxy.FromBroker, proxy.Publish(1), 5),
			Statements5("MQTT-4.4.0-1", "MQTT-4.3.2-3"), Catches("no-redelivery")),
		ConformanceEntry("QoS 1: cut after the PUBLISH, before the subscriber's PUBACK", byte(1), proxy.After(proxy.FromBroker, proxy.Publish(1)),
			Statements5("MQTT-4.4.0-1", "MQTT-4.3.2-3", "MQTT-3.3.1-1"), Catches("no-redelivery", "no-dup-on-redelivery", "v5-resend-dup-cleared", "v5-resend-new-id")),
		ConformanceEntry("QoS 1: the subscriber's PUBACK lost", byte(1), proxy.Before(proxy.ToBroker, proxy.PUBACK),
			Statements5("MQTT-4.4.0-1", "MQTT-4.3.2-3", "MQTT-3.3.1-1"), Catches("no-redelivery", "no-dup-on-redelivery", "v5-resend-dup-cleared", "v5-resend-new-id")),
		ConformanceEntry("QoS 2: cut in the middle of the PUBLISH", byte(2), proxy.Into(proxy.FromBroker, proxy.Publish(2), 5),
			Statements5("MQTT-4.4.0-1", "MQTT-4.3.3-3"), Catches("no-redelivery")),
		ConformanceEntry("QoS 2: cut after the PUBLISH, before the subscriber's PUBREC", byte(2), proxy.After(proxy.FromBroker, proxy.Publish(2)),
			Statements5("MQTT-4.4.0-1", "MQTT-4.3.3-3", "MQTT-3.3.1-1"), Catches("no-redelivery", "no-dup-on-redelivery", "v5-resend-dup-cleared", "v5-resend-new-id")),
		ConformanceEntry("QoS 2: the subscriber's PUBREC lost", byte(2), proxy.Before(proxy.ToBroker, proxy.PUBREC),
			Statements5("MQTT-4.4.0-1", "MQTT-4.3.3-3", "MQTT-3.3.1-1"), Catches("no-redelivery", "no-dup-on-redelivery", "v5-resend-dup-cleared", "v5-resend-new-id")),
		// The cut waits for the broker's PUBREL, which proves it read the
		// PUBREC: bytes let through right before a cut may never reach the
		// broker, and then re-sending the PUBLISH would be right.
		ConformanceEntry("QoS 2: cut after the PUBREC, before the broker's PUBREL reaches the subscriber", byte(2), proxy.Before(proxy.FromBroker, proxy.PUBREL),
			Statements5("MQTT-4.4.0-1", "MQTT-4.3.3-5", "MQTT-4.3.3-6"), Catches("publish-instead-of-pubrel", "v5-pubrel-not-resent")),
		ConformanceEntry("QoS 2: cut after the PUBREL, before the subscriber's PUBCOMP", byte(2), proxy.After(proxy.FromBroker, proxy.PUBREL),
			Statements5("MQTT-4.4.0-1", "MQTT-4.3.3-5", "MQTT-4.3.3-6"), Catches("publish-instead-of-pubrel", "v5-pubrel-not-resent")),
		ConformanceEntry("QoS 2: the subscriber's PUBCOMP lost", byte(2), proxy.Before(proxy.ToBroker, proxy.PUBCOMP),
			Statements5("MQTT-4.4.0-1", "MQTT-4.3.3-5", "MQTT-4.3.3-6"), Catches("publish-instead-of-pubrel", "v5-pubrel-not-resent")),
	)

	ConformanceIt("keeps no more unacknowledged QoS 1 PUBLISHes towards a client than its Receive Maximum when the session resumes after a cut link",
		Statements5("MQTT-3.3.4-9", "MQTT-4.9.0-2", "MQTT-4.4.0-1"), Label("flow"),
		Catches("v5-receive-maximum-dropped", "v5-receive-maximum-dropped-on-resume"), func(ctx SpecContext) {
			const window, sent = 2, 8
			topic := f.Topic("flow")
			sub := f.Client5(ctx, "sub", Resume5(), ReceiveMaximum(window))
			sub.MustSubscribe(ctx, topic, 1, 0)
			sub.HoldAcks()
			pub := f.Client5(ctx, "pub")
			var payloads []string
			for i := range sent {
				payloads = append(payloads, fmt.Sprint("m", i))
				pub.MustPublish(ctx, topic, 1, payloads[i])
			}
			// A broker may keep fewer in flight than the Receive Maximum
			// (ejabberd keeps one): the window it uses is what is cut.
			_, err := sub.HeldWindow(ctx, sent)
			Expect(err).NotTo(HaveOccurred(), "no message came to the subscriber while it withheld its acknowledgements")

			By("the link is cut with the broker's window in flight; the subscriber resumes and still withholds its acknowledgements")
			sub.Link.Cut()
			Eventually(sub.Connections).WithContext(ctx).Should(BeNumerically(">=", 2), "the subscriber never reconnected after the cut")
			Eventually(sub.Connected).WithContext(ctx).Should(BeTrue(), "the subscriber never resumed its session")
			Expect(sub.SessionPresent()).To(BeTrue(), "the subscriber's session did not survive the cut link, so nothing was resumed")
			resumed := sub.Connections()
			onResumed := func() int {
				n := 0
				for _, m := range sub.Messages() {
					if m.Conn == resumed {
						n++
					}
				}
				return n + sub.Duplicates()
			}
			Eventually(onResumed).WithContext(ctx).Should(BeNumerically(">=", 1), "the broker did not send the unacknowledged messages again on the resumed session")
			Consistently(func() int { return sub.InFlightPeak(resumed) }).WithContext(ctx).WithTimeout(500*time.Millisecond).
				Should(BeNumerically("<=", window), "on the resumed session the broker sent more QoS 1 messages than the client's Receive Maximum of %d while none was acknowledged", window)

			By("acknowledging one message at a time, every message arrives, never more than the window unacknowledged")
			all := func() bool {
				got := sub.Payloads()
				for _, p := range payloads {
					if !slices.Contains(got, p) {
						return false
					}
				}
				return true
			}
			for range sent {
				if all() {
					break
				}
				got := len(sub.Messages()) + sub.Duplicates()
				Expect(sub.ReleaseOneAck()).To(Succeed())
				Eventually(func() bool { return all() || len(sub.Messages())+sub.Duplicates() > got }).WithContext(ctx).Should(BeTrue(),
					"after an acknowledgement freed its window the broker sent the subscriber no further message")
			}
			Expect(sub.ReleaseAcks()).To(Succeed())
			f.Drain5(ctx, sub, payloads...)
			for conn := resumed; conn <= sub.Connections(); conn++ {
				Expect(sub.InFlightPeak(conn)).To(BeNumerically("<=", window),
					"on connection %d the broker had more QoS 1 messages unacknowledged towards the client than its Receive Maximum of %d", conn, window)
			}
			Expect(f.Verdict()).To(Hold())
		})
})
