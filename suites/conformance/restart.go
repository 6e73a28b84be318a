package conformance

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Broker restarts: what a broker configured to persist its state keeps
// when it stops and starts again on the same address and data. MQTT lets a
// broker keep its state in memory only, so a broker whose configuration
// does not persist a kind of state (or that the harness cannot restart)
// reports "not supported", with its profile's words on persistence.
//
// Serial: a restart ends every connection to the broker, so these specs
// run alone, on process 1, after the parallel ones.
var _ = Describe("Broker restarts", Label("restart"), Serial, func() {
	f := New()
	const restartTimeout = 4 * time.Minute // RabbitMQ takes up to two minutes to come back

	ConformanceIt("keeps a retained message over a restart: a new subscription afterwards gets it with RETAIN=1",
		Statements("MQTT-3.3.1-5", "MQTT-3.3.1-6"), Catches("forget-retained-on-restart"), SpecTimeout(restartTimeout), func(ctx SpecContext) {
			RequireRestart(KeptRetained)
			topic := f.Topic("setpoint")
			watcher := f.Subscriber(ctx, "watcher", topic, 1)
			pub := f.Client(ctx, "pub")
			Expect(pub.PublishRetained(ctx, topic, 1, "kept")).To(Succeed())
			Eventually(watcher.Payloads).WithContext(ctx).Should(ContainElement("kept"),
				"the retained message never reached the established subscription before the restart")

			f.RestartBroker(ctx)

			sub := f.Subscriber(ctx, "sub", topic, 1)
			Eventually(sub.Received).WithContext(ctx).Should(ContainElement(And(HaveField("Payload", "kept"), HaveField("Retain", true))),
				"a subscription made after the restart must get the retained message \"kept\" with RETAIN=1")
		})

	ConformanceIt("keeps a CleanSession=0 client's session over a restart: session present, and its subscription delivers without subscribing again",
		Statements("MQTT-3.1.2-4", "MQTT-3.2.2-2", "MQTT-4.1.0-1"), Catches("forget-sessions-on-restart"), SpecTimeout(restartTimeout), func(ctx SpecContext) {
			RequireRestart(KeptSessions)
			topic := f.Topic("commands")
			sub := f.Subscriber(ctx, "sub", topic, 1, Persistent())
			sub.Disconnect()

			f.RestartBroker(ctx)

			Expect(sub.Connect(ctx)).To(Succeed())
			pub := f.Client(ctx, "pub")
			Expect(pub.Publish(ctx, topic, 1, "after-restart")).To(Succeed())
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("after-restart"),
				"the session's subscription delivered nothing after the restart: the broker forgot it")
			Expect(sub.SessionPresent()).To(BeTrue(), "the subscription survived the restart, yet CONNACK said no session present")
		})

	DescribeTable("delivers the messages queued for an offline CleanSession=0 subscriber once it comes back after a restart",
		func(ctx SpecContext, qos byte) {
			RequireRestart(KeptSessions, KeptQueues)
			topic := f.Topic("commands")
			sub := f.Subscriber(ctx, "sub", topic, qos, Persistent())
			sub.Disconnect()
			pub := f.Client(ctx, "pub")
			queued := []string{fmt.Sprintf("queued-q%d-1", qos), fmt.Sprintf("queued-q%d-2", qos)}
			for _, p := range queued {
				Expect(pub.Publish(ctx, topic, qos, p)).To(Succeed())
			}

			f.RestartBroker(ctx)

			Expect(sub.Connect(ctx)).To(Succeed())
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElements(queued),
				"the QoS %d messages queued for the session before the restart must reach it when it comes back", qos)
			Expect(sub.SessionPresent()).To(BeTrue(), "the queued messages survived the restart, yet CONNACK said no session present")
			if qos == 2 {
				Consistently(func() []int { return []int{sub.Count(queued[0]), sub.Count(queued[1])} }).WithContext(ctx).
					Should(Equal([]int{1, 1}), "each QoS 2 message must reach the subscriber exactly once")
			}
		},
		ConformanceEntry("QoS 1", byte(1), Statements("MQTT-3.1.2-5", "MQTT-4.1.0-1"), Catches("drop-queued-on-restart"), SpecTimeout(restartTimeout)),
		ConformanceEntry("QoS 2", byte(2), Statements("MQTT-3.1.2-5", "MQTT-4.1.0-1"), Catches("drop-queued-on-restart"), SpecTimeout(restartTimeout)),
	)
})
