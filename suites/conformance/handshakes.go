package conformance

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// The QoS handshakes cut at every step, on the publisher's link (client to
// broker) and on the subscriber's link (broker to client), with persistent
// sessions and clients that reconnect by themselves. Whatever the cut, the
// history must show QoS 1 delivered at least once and QoS 2 exactly once,
// and the wire must show the broker re-sending what it owes, with DUP=1.
var _ = Describe("QoS handshakes cut at every step, with persistent sessions", Label("handshakes", "faults"), func() {
	f := New()

	DescribeTable("a message whose publisher's link is cut during its handshake still reaches the subscriber as its QoS promises",
		func(ctx SpecContext, qos byte, cut proxy.Cut) {
			topic := f.Topic("telemetry")
			sub := f.Subscriber(ctx, "sub", topic, qos, Persistent(), AutoReconnect())
			pub := f.Client(ctx, "pub", Persistent(), AutoReconnect())
			fault, err := pub.Link.Arm(cut)
			Expect(err).NotTo(HaveOccurred())

			Expect(pub.Publish(ctx, topic, qos, "m1")).To(Succeed(), "the publisher's handshake never completed")

			Expect(fault).To(HaveFired())
			f.Drain(ctx, sub, "m1")
			Expect(f.Verdict()).To(Hold())
		},
		ConformanceEntry("QoS 1: cut in the middle of the PUBLISH", byte(1), proxy.Into(proxy.ToBroker, proxy.Publish(1), 5),
			Statements("MQTT-4.3.2-2", "MQTT-4.5.0-1"), Catches("lose-publish-on-disconnect", "drop-retransmitted-publish")),
		ConformanceEntry("QoS 1: cut after the PUBLISH, before the broker's PUBACK", byte(1), proxy.After(proxy.ToBroker, proxy.Publish(1)),
			Statements("MQTT-4.3.2-2", "MQTT-4.5.0-1"), Catches("lose-publish-on-disconnect")),
		ConformanceEntry("QoS 1: the broker's PUBACK lost", byte(1), proxy.Before(proxy.FromBroker, proxy.PUBACK),
			Statements("MQTT-4.3.2-2", "MQTT-4.5.0-1"), Catches("lose-publish-on-disconnect")),
		ConformanceEntry("QoS 2: cut in the middle of the PUBLISH", byte(2), proxy.Into(proxy.ToBroker, proxy.Publish(2), 5),
			Statements("MQTT-4.3.3-2", "MQTT-4.5.0-1"), Catches("lose-publish-on-disconnect", "drop-retransmitted-publish")),
		ConformanceEntry("QoS 2: cut after the PUBLISH, before the broker's PUBREC", byte(2), proxy.After(proxy.ToBroker, proxy.Publish(2)),
			Statements("MQTT-4.3.3-2", "MQTT-4.5.0-1"), Catches("lose-publish-on-disconnect")),
		ConformanceEntry("QoS 2: the broker's PUBREC lost", byte(2), proxy.Before(proxy.FromBroker, proxy.PUBREC),
			Statements("MQTT-4.3.3-2", "MQTT-4.5.0-1"), Catches("lose-publish-on-disconnect")),
		ConformanceEntry("QoS 2: cut after the PUBREC, before the publisher's PUBREL", byte(2), proxy.After(proxy.FromBroker, proxy.PUBREC),
			Statements("MQTT-4.3.3-2", "MQTT-4.4.0-1"), Catches("lose-publish-on-disconnect")),
		ConformanceEntry("QoS 2: cut after the PUBREL, before the broker's PUBCOMP", byte(2), proxy.After(proxy.ToBroker, proxy.PUBREL),
			Statements("MQTT-4.3.3-2", "MQTT-4.4.0-1"), Catches("lose-publish-on-disconnect")),
		ConformanceEntry("QoS 2: the broker's PUBCOMP lost", byte(2), proxy.Before(proxy.FromBroker, proxy.PUBCOMP),
			Statements("MQTT-4.3.3-2", "MQTT-4.4.0-1"), Catches("lose-publish-on-disconnect")),
	)

	DescribeTable("a message whose subscriber's link is cut during its handshake is re-sent when the subscriber resumes its session, as its QoS promises",
		func(ctx SpecContext, qos byte, cut proxy.Cut) {
			topic := f.Topic("telemetry")
			sub := f.Subscriber(ctx, "sub", topic, qos, Persistent(), AutoReconnect())
			pub := f.Client(ctx, "pub")
			fault, err := sub.Link.Arm(cut)
			Expect(err).NotTo(HaveOccurred())

			Expect(pub.Publish(ctx, topic, qos, "m1")).To(Succeed())

			Eventually(fault).WithContext(ctx).Should(HaveFired())
			f.Drain(ctx, sub, "m1")
			Expect(f.Verdict()).To(Hold())
		},
		ConformanceEntry("QoS 1: cut in the middle of the PUBLISH", byte(1), proxy.Into(proxy.FromBroker, proxy.Publish(1), 5),
			Statements("MQTT-4.4.0-1", "MQTT-4.3.2-1"), Catches("no-redelivery")),
		ConformanceEntry("QoS 1: cut after the PUBLISH, before the subscriber's PUBACK", byte(1), proxy.After(proxy.FromBroker, proxy.Publish(1)),
			Statements("MQTT-4.4.0-1", "MQTT-3.3.1-1"), Catches("no-dup-on-redelivery")),
		ConformanceEntry("QoS 1: the subscriber's PUBACK lost", byte(1), proxy.Before(proxy.ToBroker, proxy.PUBACK),
			Statements("MQTT-4.4.0-1", "MQTT-3.3.1-1"), Catches("no-dup-on-redelivery")),
		ConformanceEntry("QoS 2: cut in the middle of the PUBLISH", byte(2), proxy.Into(proxy.FromBroker, proxy.Publish(2), 5),
			Statements("MQTT-4.4.0-1", "MQTT-4.3.3-1"), Catches("no-redelivery")),
		ConformanceEntry("QoS 2: cut after the PUBLISH, before the subscriber's PUBREC", byte(2), proxy.After(proxy.FromBroker, proxy.Publish(2)),
			Statements("MQTT-4.4.0-1", "MQTT-3.3.1-1"), Catches("no-dup-on-redelivery")),
		ConformanceEntry("QoS 2: the subscriber's PUBREC lost", byte(2), proxy.Before(proxy.ToBroker, proxy.PUBREC),
			Statements("MQTT-4.4.0-1", "MQTT-3.3.1-1"), Catches("no-dup-on-redelivery")),
		// The cut waits for the broker's PUBREL, which proves it read the
		// PUBREC: bytes let through right before a cut may never reach the
		// broker, and then re-sending the PUBLISH would be right.
		ConformanceEntry("QoS 2: cut after the PUBREC, before the broker's PUBREL reaches the subscriber", byte(2), proxy.Before(proxy.FromBroker, proxy.PUBREL),
			Statements("MQTT-4.4.0-1", "MQTT-4.3.3-1"), Catches("publish-instead-of-pubrel")),
		ConformanceEntry("QoS 2: cut after the PUBREL, before the subscriber's PUBCOMP", byte(2), proxy.After(proxy.FromBroker, proxy.PUBREL),
			Statements("MQTT-4.4.0-1", "MQTT-4.3.3-1"), Catches("publish-instead-of-pubrel")),
		ConformanceEntry("QoS 2: the subscriber's PUBCOMP lost", byte(2), proxy.Before(proxy.ToBroker, proxy.PUBCOMP),
			Statements("MQTT-4.4.0-1", "MQTT-4.3.3-1"), Catches("publish-instead-of-pubrel")),
	)
})
