package conformance

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// rtMsg matches a received message by payload and RETAIN flag.
func rtMsg(payload string, retain bool) types.GomegaMatcher {
	return SatisfyAll(HaveField("Payload", payload), HaveField("Retain", retain))
}

// rtRetainedOn lists "payload retain=…" of what a client received, for
// failure messages that show the flags.
func rtRetainedOn(c *Client) func() []string {
	return func() []string {
		var out []string
		for _, m := range c.Received() {
			out = append(out, fmt.Sprintf("%q retain=%d qos=%d on %s", m.Payload, rtBit(m.Retain), m.QoS, m.Topic))
		}
		return out
	}
}

// rtRouted waits until watcher, subscribed before the messages were
// published, has received every payload: the broker has then finished
// routing them, and a subscription made afterwards gets them only as
// retained messages (a broker may still be routing a message it has
// acknowledged, and a subscription made meanwhile may get it live too).
func rtRouted(ctx SpecContext, watcher *Client, payloads ...string) {
	GinkgoHelper()
	Eventually(watcher.Payloads).WithContext(ctx).Should(ContainElements(payloads), "the broker never routed %q to a subscriber", payloads)
}

func rtBit(b bool) int {
	if b {
		return 1
	}
	return 0
}

var _ = Describe("Retained messages", Label("retained"), func() {
	f := New()

	// The factory of the IoT course: sensors/<floor>/<quantity> under the
	// spec's topic root.
	DescribeTable("a new subscription gets the retained message of every topic its filter matches, with RETAIN=1",
		func(ctx SpecContext, filter string, want []string) {
			watcher := f.Subscriber(ctx, "watcher", f.Topic("sensors/#"), 0)
			pub := f.Client(ctx, "pub")
			for _, m := range []struct{ topic, payload string }{
				{"sensors/1/temperature", "t1"}, {"sensors/2/temperature", "t2"}, {"sensors/1/humidity", "h1"},
			} {
				Expect(pub.PublishRetained(ctx, f.Topic(m.topic), 1, m.payload)).To(Succeed())
			}
			rtRouted(ctx, watcher, "t1", "t2", "h1")

			sub := f.Subscriber(ctx, "sub", f.Topic(filter), 1)

			Eventually(sub.Payloads).WithContext(ctx).Should(ConsistOf(want),
				"a new subscription to %s must get the retained messages %v", filter, want)
			Consistently(sub.Payloads).WithContext(ctx).Should(ConsistOf(want),
				"a new subscription to %s must get each matching retained message once, and no other", filter)
			Expect(rtRetainedOn(sub)()).To(HaveEach(ContainSubstring("retain=1")),
				"a message sent because of a new subscription must carry RETAIN=1")
		},
		ConformanceEntry("an exact filter", "sensors/1/temperature", []string{"t1"},
			Statements("MQTT-3.3.1-5", "MQTT-3.3.1-6", "MQTT-3.3.1-8"), Catches("no-retain", "no-retain-flag-on-new-subscription")),
		ConformanceEntry("a '+' filter: sensors/+/temperature", "sensors/+/temperature", []string{"t1", "t2"},
			Statements("MQTT-3.3.1-6", "MQTT-3.3.1-8"), Catches("no-retain", "no-retain-flag-on-new-subscription", "plus-matches-many")),
		ConformanceEntry("a '#' filter: sensors/#", "sensors/#", []string{"t1", "t2", "h1"},
			Statements("MQTT-3.3.1-6", "MQTT-3.3.1-8"), Catches("no-retain", "no-retain-flag-on-new-subscription")),
	)

	ConformanceIt("sends a retained message to an established subscription with RETAIN=0, and to a new one with RETAIN=1",
		Statements("MQTT-3.3.1-9", "MQTT-3.3.1-8"), Catches("retain-flag-on-live", "no-retain-flag-on-new-subscription"), func(ctx SpecContext) {
			topic := f.Topic("setpoint")
			watcher := f.Subscriber(ctx, "watcher", topic, 0)
			pub := f.Client(ctx, "pub")
			Expect(pub.PublishRetained(ctx, topic, 1, "stored")).To(Succeed())
			rtRouted(ctx, watcher, "stored")
			sub := f.Subscriber(ctx, "sub", topic, 1)
			Eventually(sub.Received).WithContext(ctx).Should(ContainElement(HaveField("Payload", "stored")))

			Expect(pub.PublishRetained(ctx, topic, 1, "live")).To(Succeed())

			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("live"))
			Expect(sub.Received()).To(ConsistOf(rtMsg("stored", true), rtMsg("live", false)),
				"expected \"stored\" with RETAIN=1 (sent for the new subscription) and \"live\" with RETAIN=0 (forwarded to the established subscription), got %v",
				rtRetainedOn(sub)())
		})

	ConformanceIt("keeps only the latest retained message of a topic",
		Statements("MQTT-3.3.1-5", "MQTT-3.3.1-6"), Catches("retained-first-only"), func(ctx SpecContext) {
			topic := f.Topic("setpoint")
			watcher := f.Subscriber(ctx, "watcher", topic, 0)
			pub := f.Client(ctx, "pub")
			for _, p := range []string{"v1", "v2", "v3"} {
				Expect(pub.PublishRetained(ctx, topic, 1, p)).To(Succeed())
			}
			rtRouted(ctx, watcher, "v1", "v2", "v3")

			sub := f.Subscriber(ctx, "sub", topic, 1)

			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("v3"), "a new subscription must get the latest retained message")
			Consistently(sub.Payloads).WithContext(ctx).Should(Equal([]string{"v3"}),
				"a topic has one retained message, the latest: v1 and v2 were replaced")
		})

	// A QoS 0 retained message must discard the one before; the broker
	// SHOULD keep it as the new retained message but MAY drop it.
	ConformanceIt("lets a QoS 0 retained message discard the topic's previous retained message",
		Statements("MQTT-3.3.1-7"), Catches("retained-first-only"), func(ctx SpecContext) {
			topic := f.Topic("setpoint")
			watcher := f.Subscriber(ctx, "watcher", topic, 1)
			pub := f.Client(ctx, "pub")
			Expect(pub.PublishRetained(ctx, topic, 1, "q1")).To(Succeed())
			Expect(pub.PublishRetained(ctx, topic, 0, "q0")).To(Succeed())
			Eventually(watcher.Payloads).WithContext(ctx).Should(ContainElement("q0"), "the QoS 0 message never reached the broker's subscribers")

			sub := f.Subscriber(ctx, "sub", topic, 1)

			Consistently(sub.Payloads).WithContext(ctx).Should(Or(BeEmpty(), Equal([]string{"q0"})),
				"after a QoS 0 retained message the topic's retained message is that message or none; the QoS 1 one before must be gone")
			for _, m := range sub.Received() {
				Expect(m.QoS).To(Equal(byte(0)), "the retained QoS 0 message must keep QoS 0, not the granted QoS 1")
				Expect(m.Retain).To(BeTrue(), "a message sent because of a new subscription must carry RETAIN=1")
			}
		})

	ConformanceIt("clears a topic's retained message on an empty retained PUBLISH, and still delivers that PUBLISH to current subscribers",
		Statements("MQTT-3.3.1-10", "MQTT-3.3.1-11"), Catches("empty-retained-not-cleared", "empty-retained-not-forwarded"), func(ctx SpecContext) {
			topic := f.Topic("setpoint")
			watcher := f.Subscriber(ctx, "watcher", topic, 1)
			pub := f.Client(ctx, "pub")
			Expect(pub.PublishRetained(ctx, topic, 1, "e1")).To(Succeed())
			Eventually(watcher.Payloads).WithContext(ctx).Should(ContainElement("e1"))

			Expect(pub.PublishRetained(ctx, topic, 1, "")).To(Succeed())

			Eventually(watcher.Payloads).WithContext(ctx).Should(ContainElement(""),
				"an empty retained PUBLISH must still be delivered normally to the topic's current subscribers")
			sub := f.Subscriber(ctx, "sub", topic, 1)
			Consistently(rtRetainedOn(sub)).WithContext(ctx).Should(BeEmpty(),
				"after an empty retained PUBLISH the topic has no retained message: neither the old one nor an empty one")
		})

	ConformanceIt("neither stores nor clears a retained message when a PUBLISH has RETAIN=0",
		Statements("MQTT-3.3.1-12"), Catches("retain-every-publish"), func(ctx SpecContext) {
			kept, never := f.Topic("kept"), f.Topic("never")
			watcher := f.Subscriber(ctx, "watcher", never, 1)
			pub := f.Client(ctx, "pub")
			Expect(pub.PublishRetained(ctx, kept, 1, "k1")).To(Succeed())
			Expect(pub.Publish(ctx, kept, 1, "k2")).To(Succeed())
			Expect(pub.Publish(ctx, kept, 1, "")).To(Succeed())
			Expect(pub.Publish(ctx, never, 1, "n1")).To(Succeed())
			// The last one routed: the broker has handled the others. (How
			// it routes them is judged elsewhere.)
			rtRouted(ctx, watcher, "n1")

			// Exact filters: a broker that sends no retained messages to
			// wildcard subscriptions [MQTT-3.3.1-6] is not judged here.
			sub := f.Subscriber(ctx, "sub", kept, 1)
			granted, err := sub.Subscribe(ctx, never, 1)
			Expect(err).NotTo(HaveOccurred())
			Expect(granted).To(BeEquivalentTo(1), "the broker granted QoS 1 to the same client for %s, but not for %s", kept, never)

			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("k1"),
				"RETAIN=0 messages (\"k2\", and an empty one) must not replace or clear the retained \"k1\"")
			Consistently(rtRetainedOn(sub)).WithContext(ctx).Should(ConsistOf(fmt.Sprintf("%q retain=1 qos=1 on %s", "k1", kept)),
				"only \"k1\" was published with RETAIN=1: no RETAIN=0 message may be stored (%s has no retained message)", never)
		})

	DescribeTable("a retained message reaches a new subscription at the lower of its own QoS and the granted QoS",
		func(ctx SpecContext, retainedQoS, grantedQoS byte) {
			topic := f.Topic("setpoint")
			payload := fmt.Sprintf("retained-qos%d", retainedQoS)
			watcher := f.Subscriber(ctx, "watcher", topic, 0)
			pub := f.Client(ctx, "pub")
			Expect(pub.PublishRetained(ctx, topic, retainedQoS, payload)).To(Succeed())
			rtRouted(ctx, watcher, payload)

			sub := f.Subscriber(ctx, "sub", topic, grantedQoS)

			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement(payload), "a new subscription must get the retained message")
			want := min(retainedQoS, grantedQoS)
			Consistently(sub.Received).WithContext(ctx).Should(ConsistOf(SatisfyAll(rtMsg(payload, true), HaveField("QoS", want))),
				"the retained message must arrive once, with RETAIN=1, at QoS min(%d, %d) = %d; got %v", retainedQoS, grantedQoS, want, rtRetainedOn(sub)())
		},
		ConformanceEntry("QoS 1 retained, QoS 0 subscription", byte(1), byte(0), Statements("MQTT-3.8.4-6", "MQTT-3.3.1-5"), Catches("no-retain")),
		ConformanceEntry("QoS 1 retained, QoS 1 subscription", byte(1), byte(1), Statements("MQTT-3.8.4-6", "MQTT-3.3.1-5"), Catches("no-retain", "retained-as-qos0")),
		ConformanceEntry("QoS 1 retained, QoS 2 subscription", byte(1), byte(2), Statements("MQTT-3.8.4-6", "MQTT-3.3.1-5"), Catches("no-retain", "retained-as-qos0")),
		ConformanceEntry("QoS 2 retained, QoS 0 subscription", byte(2), byte(0), Statements("MQTT-3.8.4-6", "MQTT-3.3.1-5"), Catches("no-retain")),
		ConformanceEntry("QoS 2 retained, QoS 1 subscription", byte(2), byte(1), Statements("MQTT-3.8.4-6", "MQTT-3.3.1-5"), Catches("no-retain", "retained-as-qos0")),
		ConformanceEntry("QoS 2 retained, QoS 2 subscription", byte(2), byte(2), Statements("MQTT-3.8.4-6", "MQTT-3.3.1-5"), Catches("no-retain", "retained-as-qos0")),
	)

	ConformanceIt("keeps a retained message after its publisher has disconnected and its session has ended",
		Statements("MQTT-3.1.2-7"), Catches("retained-lost-with-session"), func(ctx SpecContext) {
			topic := f.Topic("setpoint")
			watcher := f.Subscriber(ctx, "watcher", topic, 0)
			pub := f.Client(ctx, "pub", Persistent())
			Expect(pub.PublishRetained(ctx, topic, 1, "kept")).To(Succeed())
			rtRouted(ctx, watcher, "kept")
			pub.Disconnect()
			// A clean-session connection with the same client id ends the
			// session; a round trip on that connection proves the broker has
			// acted on it before anyone looks for the retained message.
			again := f.Client(ctx, "pub-again", WithID(pub.ID))
			again.Sync(ctx)
			again.Disconnect()
			// The session is provably gone: a new persistent connection
			// finds no session to resume.
			back := f.Client(ctx, "pub-back", WithID(pub.ID), Persistent())
			Expect(back.SessionPresent()).To(BeFalse(), "a clean-session connection must end the publisher's session [MQTT-3.1.2-6]")
			back.Sync(ctx)

			sub := f.Subscriber(ctx, "sub", topic, 1)

			Eventually(sub.Received).WithContext(ctx).Should(ContainElement(rtMsg("kept", true)),
				"retained messages are not session state: the publisher's ended session must not take \"kept\" with it")
		})

	ConformanceIt("sends the retained messages again when a client repeats a subscription",
		Statements("MQTT-3.8.4-3"), Catches("resubscribe-ignored"), func(ctx SpecContext) {
			topic := f.Topic("setpoint")
			watcher := f.Subscriber(ctx, "watcher", topic, 0)
			pub := f.Client(ctx, "pub")
			Expect(pub.PublishRetained(ctx, topic, 1, "r1")).To(Succeed())
			rtRouted(ctx, watcher, "r1")
			sub := f.Subscriber(ctx, "sub", topic, 1)
			Eventually(sub.Received).WithContext(ctx).Should(ContainElement(rtMsg("r1", true)))

			granted, err := sub.Subscribe(ctx, topic, 1)
			Expect(err).NotTo(HaveOccurred())
			Expect(granted).To(Equal(byte(1)), "the repeated subscription was refused")

			Eventually(func() int { return sub.Count("r1") }).WithContext(ctx).Should(Equal(2),
				"a repeated SUBSCRIBE must re-send the matching retained messages")
			Expect(sub.Received()).To(HaveEach(rtMsg("r1", true)), "both copies are sent because of a subscription: RETAIN=1")
		})
})
