package conformance

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/faultline-mqtt/faultline/suites/framework"
)

var _ = Describe("QoS delivery", Label("qos"), func() {
	f := New()

	DescribeTable("a message published at one QoS reaches a subscriber once, with its payload, at the lower of the publish QoS and the granted QoS",
		func(ctx SpecContext, publishQoS, subscribeQoS byte) {
			topic := f.Topic("qos")
			sub := f.Subscriber(ctx, "sub", topic, subscribeQoS)
			pub := f.Client(ctx, "pub")
			payload := fmt.Sprintf("qos%d-to-sub%d", publishQoS, subscribeQoS)

			Expect(pub.Publish(ctx, topic, publishQoS, payload)).To(Succeed())

			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement(payload))
			want := min(publishQoS, subscribeQoS)
			Expect(sub.Received()).To(HaveEach(HaveField("QoS", want)),
				"delivered QoS must be min(publish QoS %d, granted QoS %d) = %d", publishQoS, subscribeQoS, want)
			Expect(sub.Received()).To(HaveEach(HaveField("Payload", payload)))
			if want != 1 { // QoS 0: at most once; QoS 2: exactly once (QoS 1 may repeat)
				Consistently(sub.Payloads).WithContext(ctx).Should(HaveLen(1))
			}
		},
		ConformanceEntry("QoS 0 to a QoS 0 subscription", byte(0), byte(0), Statements("MQTT-3.8.4-6", "MQTT-4.5.0-1"), Catches("corrupt-payload", "duplicate-qos0", "no-suback", "connack-after-15s")),
		ConformanceEntry("QoS 0 to a QoS 1 subscription", byte(0), byte(1), Statements("MQTT-3.8.4-6"), Catches("corrupt-payload", "duplicate-qos0")),
		ConformanceEntry("QoS 0 to a QoS 2 subscription", byte(0), byte(2), Statements("MQTT-3.8.4-6"), Catches("corrupt-payload", "duplicate-qos0")),
		ConformanceEntry("QoS 1 to a QoS 0 subscription", byte(1), byte(0), Statements("MQTT-3.8.4-6"), Catches("corrupt-payload", "duplicate-qos0", "no-qos-downgrade")),
		ConformanceEntry("QoS 1 to a QoS 1 subscription", byte(1), byte(1), Statements("MQTT-3.8.4-6", "MQTT-4.3.2-2"), Catches("corrupt-payload", "qos1-as-qos0", "no-puback")),
		ConformanceEntry("QoS 1 to a QoS 2 subscription", byte(1), byte(2), Statements("MQTT-3.8.4-6"), Catches("corrupt-payload", "qos1-as-qos0")),
		ConformanceEntry("QoS 2 to a QoS 0 subscription", byte(2), byte(0), Statements("MQTT-3.8.4-6"), Catches("corrupt-payload", "duplicate-qos0", "no-qos-downgrade")),
		ConformanceEntry("QoS 2 to a QoS 1 subscription", byte(2), byte(1), Statements("MQTT-3.8.4-6"), Catches("corrupt-payload", "qos1-as-qos0", "no-qos-downgrade")),
		ConformanceEntry("QoS 2 to a QoS 2 subscription", byte(2), byte(2), Statements("MQTT-3.8.4-6", "MQTT-4.3.3-2"), Catches("corrupt-payload", "qos2-as-qos1", "qos2-delivered-twice", "no-pubrec", "no-pubcomp")),
	)

	// The granted QoS belongs to the subscription, whatever its filter: a
	// broker that looks it up by the topic name misses wildcard ones.
	DescribeTable("a message reaches a wildcard subscription at the lower of the publish QoS and the granted QoS",
		func(ctx SpecContext, publishQoS, subscribeQoS byte, filter string) {
			topic := f.Topic("qos/1/level")
			sub := f.Subscriber(ctx, "sub", f.Topic(filter), subscribeQoS)
			pub := f.Client(ctx, "pub")
			payload := fmt.Sprintf("qos%d-to-sub%d", publishQoS, subscribeQoS)

			Expect(pub.Publish(ctx, topic, publishQoS, payload)).To(Succeed())

			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement(payload))
			want := min(publishQoS, subscribeQoS)
			Expect(sub.Received()).To(HaveEach(HaveField("QoS", want)),
				"delivered QoS through %s must be min(publish QoS %d, granted QoS %d) = %d", filter, publishQoS, subscribeQoS, want)
		},
		ConformanceEntry("QoS 2 to a QoS 1 subscription qos/#", byte(2), byte(1), "qos/#", Statements("MQTT-3.8.4-6"), Catches("no-qos-downgrade")),
		ConformanceEntry("QoS 2 to a QoS 1 subscription qos/+/level", byte(2), byte(1), "qos/+/level", Statements("MQTT-3.8.4-6"), Catches("no-qos-downgrade")),
		ConformanceEntry("QoS 2 to a QoS 0 subscription qos/#", byte(2), byte(0), "qos/#", Statements("MQTT-3.8.4-6"), Catches("no-qos-downgrade")),
		ConformanceEntry("QoS 1 to a QoS 0 subscription qos/+/level", byte(1), byte(0), "qos/+/level", Statements("MQTT-3.8.4-6"), Catches("no-qos-downgrade")),
	)
})
