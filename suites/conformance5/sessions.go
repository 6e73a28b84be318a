package conformance5

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// comeBackUntilGone reconnects c with Clean Start 0 until the broker says
// Session Present 0, repeating how the client left (leave) after each
// CONNACK that still finds the session. A broker may still be handling
// the closed connection when the client comes back (the embedded broker,
// mochi, deletes the session just after it closes the connection), and a
// correct one then resumes the session, which the client leaves again the
// same way; a broker that keeps the session keeps it every time, and the
// bound turns that into the failure. No fixed wait decides the verdict.
func comeBackUntilGone(ctx SpecContext, c *Client5, leave func() error, why string) {
	GinkgoHelper()
	var tries int
	Eventually(func(g Gomega) {
		tries++
		ack, err := c.Connect(ctx, CleanStart(false))
		g.Expect(err).NotTo(HaveOccurred())
		if ack.SessionPresent {
			g.Expect(leave()).To(Succeed())
		}
		g.Expect(ack.SessionPresent).To(BeFalse(), "CONNACK said Session Present 1 (%d tries): %s", tries, why)
	}).WithContext(ctx).WithTimeout(5 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
}

// Sessions in MQTT 5.0: Clean Start and the Session Expiry Interval decide
// whether a session outlives its connection, and for how long.
var _ = Describe("MQTT 5.0 sessions", Label("sessions"), func() {
	f := New()

	ConformanceIt("resumes a session within its Session Expiry Interval: Clean Start 0 gets Session Present 1 and the messages queued meanwhile",
		Statements5("MQTT-3.1.2-5", "MQTT-3.1.2-23", "MQTT-3.2.2-3"), Catches("v5-session-expiry-dropped"), func(ctx SpecContext) {
			topic := f.Topic("state")
			sub := f.Client5(ctx, "sub", SessionExpiry(30))
			sub.MustSubscribe(ctx, topic, 1, 0)
			Expect(sub.Disconnect(0x00)).To(Succeed())
			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, topic, 1, "while-away")
			// A round trip on the publisher's connection: the broker has
			// routed "while-away" before the subscriber comes back.
			_, err := pub.Unsubscribe(ctx, nil, f.Topic("sync/pub"))
			Expect(err).NotTo(HaveOccurred())
			// The client stays away a second, well within its 30 s: a
			// broker that ends the session with the connection has done so
			// by then, however late after the close it gets to it, so a
			// reconnect cannot find the session only because it came early.
			Elapse(ctx, time.Second)

			ack, err := sub.Connect(ctx, CleanStart(false))
			Expect(err).NotTo(HaveOccurred())

			Expect(ack.SessionPresent).To(BeTrue(), "CONNACK said Session Present 0 to a Clean Start 0 client whose session (Session Expiry Interval 30 s) it left a second ago")
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("while-away"),
				"the resumed session did not deliver the QoS 1 message published to its subscription while the client was away")
		})

	ConformanceIt("ends a session with no Session Expiry Interval when its connection closes: Clean Start 0 then gets Session Present 0 and no old subscription",
		Statements5("MQTT-3.1.2-6", "MQTT-3.2.2-3", "MQTT-4.1.0-2"), Catches("v5-session-never-expires"), func(ctx SpecContext) {
			topic := f.Topic("state")
			control := f.Client5(ctx, "control")
			control.MustSubscribe(ctx, topic, 1, 0)
			sub := f.Client5(ctx, "sub")
			sub.MustSubscribe(ctx, topic, 1, 0)
			Expect(sub.Disconnect(0x00)).To(Succeed())

			comeBackUntilGone(ctx, sub, func() error { return sub.Disconnect(0x00) },
				"the client's last session had no Session Expiry Interval and ended with its connection")

			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, topic, 1, "after")
			Eventually(control.Payloads).WithContext(ctx).Should(ContainElement("after"))
			Consistently(sub.Payloads).WithContext(ctx).ShouldNot(ContainElement("after"),
				"the new session received a message through the subscription of the session that ended")
		})

	ConformanceIt("discards the stored session on Clean Start 1: Session Present 0 and the old subscription gone",
		Statements5("MQTT-3.1.2-4", "MQTT-3.2.2-2", "MQTT-3.1.4-4"), Catches("v5-clean-start-ignored"), func(ctx SpecContext) {
			topic := f.Topic("state")
			control := f.Client5(ctx, "control")
			control.MustSubscribe(ctx, topic, 1, 0)
			sub := f.Client5(ctx, "sub", SessionExpiry(30))
			sub.MustSubscribe(ctx, topic, 1, 0)
			Expect(sub.Disconnect(0x00)).To(Succeed())

			ack, err := sub.Connect(ctx, CleanStart(true))
			Expect(err).NotTo(HaveOccurred())
			Expect(ack.SessionPresent).To(BeFalse(), "CONNACK said Session Present 1 to a Clean Start 1 connection")

			pub := f.Client5(ctx, "pub")
			pub.MustPublish(ctx, topic, 1, "after")
			Eventually(control.Payloads).WithContext(ctx).Should(ContainElement("after"))
			Consistently(sub.Payloads).WithContext(ctx).ShouldNot(ContainElement("after"),
				"the Clean Start 1 connection received a message through the subscription of the session it discarded")
		})

	// Brokers count the interval in whole seconds: the session is looked
	// for well inside it, and again well after it.
	ConformanceIt("keeps a session for its Session Expiry Interval and discards it once the interval has passed",
		Statements5("MQTT-3.1.2-23", "MQTT-4.1.0-2"), Catches("v5-session-never-expires", "v5-session-expiry-dropped"), SpecTimeout(30*time.Second), func(ctx SpecContext) {
			const expiry = 3 * time.Second
			c := f.Client5(ctx, "c", SessionExpiry(uint32(expiry/time.Second)))
			Expect(c.Disconnect(0x00)).To(Succeed())

			Elapse(ctx, expiry/3)
			ack, err := c.Connect(ctx, CleanStart(false))
			Expect(err).NotTo(HaveOccurred())
			Expect(ack.SessionPresent).To(BeTrue(), "the session was gone %v after its connection closed, within its Session Expiry Interval of %v", expiry/3, expiry)
			Expect(c.Disconnect(0x00)).To(Succeed())
			left := time.Now()

			Elapse(ctx, expiry+2*time.Second)
			ack, err = c.Connect(ctx, CleanStart(false))
			Expect(err).NotTo(HaveOccurred())
			Expect(ack.SessionPresent).To(BeFalse(), "the session was still there %v after its connection closed, past its Session Expiry Interval of %v",
				time.Since(left).Round(100*time.Millisecond), expiry)
		})

	ConformanceIt("ends the session at once when DISCONNECT sets the Session Expiry Interval to 0",
		Statements5("MQTT-4.1.0-2"), Catches("v5-disconnect-expiry-ignored"), func(ctx SpecContext) {
			c := f.Client5(ctx, "c", SessionExpiry(30))
			leave := func() error { return c.Disconnect(0x00, Prop(wire.PropSessionExpiryInterval, uint32(0))) }
			Expect(leave()).To(Succeed())

			// Each try connects with an interval of 30 s again, so only the
			// DISCONNECT's 0 can end the session.
			comeBackUntilGone(ctx, c, leave, "the client's DISCONNECT changed its Session Expiry Interval from 30 to 0")
		})
})
