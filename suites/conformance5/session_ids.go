package conformance5

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// The client id names the session: two clients' sessions never mix.
var _ = Describe("MQTT 5.0 sessions by client id", Label("sessions"), func() {
	f := New()

	ConformanceIt("keeps each client id's session apart: a client resuming its session gets what its own subscriptions queued, never another client's",
		Statements5("MQTT-3.1.3-2"), Catches("v5-client-id-digits-ignored"), func(ctx SpecContext) {
			clients := []*Client5{f.NewClient5("a", SessionExpiry(60)), f.NewClient5("b", SessionExpiry(60))}
			topics := []string{f.Topic("for-a"), f.Topic("for-b")}
			payloads := []string{"for-a", "for-b"}
			// one after the other: never two connections at once
			for i, c := range clients {
				Expect(c.Connect(ctx)).Error().NotTo(HaveOccurred())
				c.MustSubscribe(ctx, topics[i], 1, 0)
				Expect(c.Disconnect(0x00)).To(Succeed())
			}
			pub := f.Client5(ctx, "pub")
			for i := range clients {
				pub.MustPublish(ctx, topics[i], 1, payloads[i])
			}
			// a round trip on the publisher's connection: the broker has
			// routed both messages before the clients come back
			_, err := pub.Unsubscribe(ctx, nil, f.Topic("sync/pub"))
			Expect(err).NotTo(HaveOccurred())

			for i, c := range clients {
				other := payloads[1-i]
				Expect(c.Connect(ctx, CleanStart(false))).Error().NotTo(HaveOccurred())
				Expect(c.SessionPresent()).To(BeTrue(), "client %s (id %s) did not find its session", c.Name, c.ID)
				Eventually(c.Payloads).WithContext(ctx).Should(ContainElement(payloads[i]),
					"client %s (id %s) resumed a session without the message queued for its own subscription", c.Name, c.ID)
				Expect(c.Ping(ctx)).To(Succeed())
				Expect(c.Payloads()).NotTo(ContainElement(other), "client %s (id %s) got %q, queued for the other client's session", c.Name, c.ID, other)
				Expect(c.Disconnect(0x00)).To(Succeed())
			}
		})
})
