package conformance

import (
	"context"
	"fmt"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// rtTopicsOf lists the topics of the messages a client received, in order.
func rtTopicsOf(c *Client) func() []string {
	return func() []string {
		var out []string
		for _, m := range c.Received() {
			out = append(out, m.Topic)
		}
		return out
	}
}

// rtReceivedOn lists the messages a client received on one topic.
func rtReceivedOn(c *Client, topic string) func() []string {
	return func() []string {
		var out []string
		for _, m := range c.Received() {
			if m.Topic == topic {
				out = append(out, fmt.Sprintf("%q qos=%d retain=%d", m.Payload, m.QoS, rtBit(m.Retain)))
			}
		}
		return out
	}
}

// rtWildcardsGot lists what the subscribers got on topic, each line naming
// the subscriber and its filter.
func rtWildcardsGot(topic string, subs ...*Client) func() []string {
	return func() []string {
		var out []string
		for _, c := range subs {
			for _, m := range rtReceivedOn(c, topic)() {
				out = append(out, fmt.Sprintf("%s got %s", c.Name, m))
			}
		}
		return out
	}
}

// rtWithin polls cond until it holds or d passes; it says whether it held.
// For the evidence of a broker's legal refusal, where Eventually would fail.
func rtWithin(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}

// rtRawConnect opens a raw connection of the spec's, connected.
func rtRawConnect(ctx context.Context, f *Framework, name string) *Raw {
	GinkgoHelper()
	r := f.Raw(ctx, name)
	_, err := r.Connect(ConnectPacket())
	Expect(err).NotTo(HaveOccurred(), "%s could not connect", name)
	return r
}

var _ = Describe("Topic routing", Label("routing"), func() {
	f := New()

	// Every topic and filter is relative to the spec's topic root. The first
	// entry is the factory of the IoT course: sensors/<floor>/temperature/<unit>.
	DescribeTable("a message reaches a subscription exactly when its topic matches the subscription's filter",
		func(ctx SpecContext, filter string, matching, others []string) {
			sub := f.Subscriber(ctx, "sub", f.Topic(filter), 1)
			pub := f.Client(ctx, "pub")
			var want []string
			for i, t := range others { // the ones that must not arrive go first
				Expect(pub.Publish(ctx, f.Topic(t), 1, fmt.Sprintf("other%d", i))).To(Succeed())
			}
			for i, t := range matching {
				Expect(pub.Publish(ctx, f.Topic(t), 1, fmt.Sprintf("match%d", i))).To(Succeed())
				want = append(want, f.Topic(t))
			}

			Eventually(rtTopicsOf(sub)).WithContext(ctx).Should(ConsistOf(want),
				"filter %s must get the messages of exactly the topics it matches", f.Topic(filter))
			Consistently(rtTopicsOf(sub)).WithContext(ctx).Should(ConsistOf(want),
				"filter %s must not get the messages of %v", f.Topic(filter), others)
		},
		ConformanceEntry("sensors/+/temperature/#: '+' is one level, '#' any number including none",
			"sensors/+/temperature/#",
			[]string{"sensors/1/temperature", "sensors/1/temperature/celsius", "sensors/2/temperature/celsius/raw"},
			[]string{"sensors/1/humidity/celsius", "sensors/1/2/temperature/celsius", "sensors/temperature/celsius", "sensors/1/temperatures"},
			Statements("MQTT-3.3.2-3", "MQTT-4.7.1-2", "MQTT-4.7.1-3"), Catches("plus-matches-many", "hash-excludes-parent")),
		ConformanceEntry("sport/#: '#' also matches the parent level",
			"sport/#",
			[]string{"sport", "sport/tennis", "sport/tennis/player1", "sport/"},
			[]string{"sports", "sportsfan/tennis"},
			Statements("MQTT-3.3.2-3", "MQTT-4.7.1-2"), Catches("hash-excludes-parent")),
		ConformanceEntry("sport/+: '+' matches exactly one level, an empty one too",
			"sport/+",
			[]string{"sport/tennis", "sport/"},
			[]string{"sport", "sport/tennis/player1"},
			Statements("MQTT-3.3.2-3", "MQTT-4.7.1-3", "MQTT-4.7.3-4"), Catches("plus-matches-many", "empty-levels-collapsed")),
		ConformanceEntry("a/+/b: an empty level is a level",
			"a/+/b",
			[]string{"a//b", "a/x/b"},
			[]string{"a/b", "a/x/y/b"},
			Statements("MQTT-3.3.2-3", "MQTT-4.7.1-3", "MQTT-4.7.3-4"), Catches("plus-matches-many", "empty-levels-collapsed")),
	)

	ConformanceIt("does not match a topic starting with '$' against filters starting with '+' or '#'",
		Statements("MQTT-4.7.2-1"), Catches("dollar-topics-matched"), func(ctx SpecContext) {
			dollar, plain := f.DollarTopic("status"), f.Topic("status")
			exact := f.Subscriber(ctx, "exact", dollar, 0)
			plus := f.Subscriber(ctx, "plus", "+/"+BelowFirstLevel(plain), 0)
			hash := f.Subscriber(ctx, "hash", "#", 0)
			pub := f.Client(ctx, "pub")

			Expect(pub.Publish(ctx, dollar, 1, "dollar")).To(Succeed())
			Expect(pub.Publish(ctx, plain, 1, "plain")).To(Succeed())

			if !rtWithin(ctx, 2*time.Second, func() bool { return slices.Contains(exact.Payloads(), "dollar") }) {
				Unsupported(fmt.Sprintf("the broker acknowledged a PUBLISH to %s but delivered it to no subscriber, not even one with that exact filter: it does not let clients publish to this '$' topic", dollar))
			}
			Eventually(rtReceivedOn(plus, plain)).WithContext(ctx).ShouldNot(BeEmpty(), "%s must match %s", "+/"+BelowFirstLevel(plain), plain)
			Eventually(rtReceivedOn(hash, plain)).WithContext(ctx).ShouldNot(BeEmpty(), "# must match %s", plain)
			Consistently(rtWildcardsGot(dollar, plus, hash)).WithContext(ctx).
				Should(BeEmpty(), "the filters of plus (%s) and hash (#) must not match %s, a topic starting with '$'", "+/"+BelowFirstLevel(plain), dollar)
		})

	ConformanceIt("does not send the retained message of a topic starting with '$' to new subscriptions whose filters start with '+' or '#'",
		Statements("MQTT-4.7.2-1"), Catches("dollar-topics-matched"), func(ctx SpecContext) {
			dollar, plain := f.DollarTopic("status"), f.Topic("status")
			pub := f.Client(ctx, "pub")
			Expect(pub.PublishRetained(ctx, dollar, 1, "dollar")).To(Succeed())
			Expect(pub.PublishRetained(ctx, plain, 1, "plain")).To(Succeed())
			exact := f.Subscriber(ctx, "exact", dollar, 0)
			if !rtWithin(ctx, 2*time.Second, func() bool { return slices.Contains(exact.Payloads(), "dollar") }) {
				Unsupported(fmt.Sprintf("the broker acknowledged a retained PUBLISH to %s but a new subscription with that exact filter did not get it: it does not let clients publish (or retain) on this '$' topic", dollar))
			}

			plus := f.Subscriber(ctx, "plus", "+/"+BelowFirstLevel(plain), 0)
			hash := f.Subscriber(ctx, "hash", "#", 0)

			Eventually(rtReceivedOn(plus, plain)).WithContext(ctx).ShouldNot(BeEmpty(), "%s must get the retained message of %s", "+/"+BelowFirstLevel(plain), plain)
			Eventually(rtReceivedOn(hash, plain)).WithContext(ctx).ShouldNot(BeEmpty(), "# must get the retained message of %s", plain)
			Consistently(rtWildcardsGot(dollar, plus, hash)).WithContext(ctx).
				Should(BeEmpty(), "the filters of plus (%s) and hash (#) must not match %s, a topic starting with '$', not even for retained messages", "+/"+BelowFirstLevel(plain), dollar)
		})

	DescribeTable("a message matching several subscriptions of one client reaches it at the highest QoS granted among them, and at most once per subscription",
		func(ctx SpecContext, wildQoS, exactQoS, publishQoS byte) {
			topic := f.Topic("sensors/1/temperature")
			filters := []struct {
				filter string
				qos    byte
			}{{f.Topic("sensors/#"), wildQoS}, {topic, exactQoS}}
			sub := f.Client(ctx, "sub")
			for _, s := range filters {
				filter, qos := s.filter, s.qos
				granted, err := sub.Subscribe(ctx, filter, qos)
				Expect(err).NotTo(HaveOccurred())
				if granted != qos {
					Unsupported(fmt.Sprintf("the broker granted QoS %d (SUBACK code 0x%02x) for a QoS %d subscription to %s", min(granted, 3), granted, qos, filter))
				}
			}
			pub := f.Client(ctx, "pub")

			Expect(pub.Publish(ctx, topic, publishQoS, "reading")).To(Succeed())

			want := min(publishQoS, max(wildQoS, exactQoS))
			Eventually(sub.Received).WithContext(ctx).Should(ContainElement(HaveField("QoS", want)),
				"the message must reach the client at least once at QoS min(%d, max(%d, %d)) = %d", publishQoS, wildQoS, exactQoS, want)
			allowed := []byte{min(publishQoS, wildQoS), min(publishQoS, exactQoS)}
			Consistently(rtReceivedOn(sub, topic)).WithContext(ctx).Should(SatisfyAll(
				WithTransform(func(ms []string) int { return len(ms) }, BeNumerically("<=", 2)),
				HaveEach(Or(ContainSubstring(fmt.Sprintf("qos=%d", allowed[0])), ContainSubstring(fmt.Sprintf("qos=%d", allowed[1]))))),
				"one copy at the highest QoS, and at most one more for the other subscription, at its own QoS %v", allowed)
		},
		ConformanceEntry("QoS 1 message; subscriptions QoS 1 (sensors/#) and QoS 0 (exact)", byte(1), byte(0), byte(1),
			Statements("MQTT-3.3.5-1"), Catches("overlap-lowest-qos")),
		ConformanceEntry("QoS 2 message; subscriptions QoS 0 (sensors/#) and QoS 2 (exact)", byte(0), byte(2), byte(2),
			Statements("MQTT-3.3.5-1"), Catches("overlap-lowest-qos")),
	)

	ConformanceIt("stops sending a subscription's messages once it is unsubscribed",
		Statements("MQTT-3.10.4-2", "MQTT-3.10.4-4"), Catches("unsubscribe-ignored", "no-unsuback"), func(ctx SpecContext) {
			topic := f.Topic("alarms")
			sub := f.Subscriber(ctx, "sub", topic, 1)
			control := f.Subscriber(ctx, "control", topic, 1)
			pub := f.Client(ctx, "pub")
			Expect(pub.Publish(ctx, topic, 1, "before")).To(Succeed())
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("before"))

			Expect(sub.Unsubscribe(ctx, topic)).To(Succeed(), "no UNSUBACK for the UNSUBSCRIBE")
			Expect(pub.Publish(ctx, topic, 1, "after")).To(Succeed())

			Eventually(control.Payloads).WithContext(ctx).Should(ContainElement("after"))
			Consistently(sub.Payloads).WithContext(ctx).ShouldNot(ContainElement("after"), "the client unsubscribed from %s before \"after\" was published", topic)
		})

	ConformanceIt("answers an UNSUBSCRIBE with an UNSUBACK carrying its packet id, even when the client had no such subscription",
		Statements("MQTT-3.10.4-5", "MQTT-3.10.4-4"), Catches("unsuback-only-when-subscribed"), func(ctx SpecContext) {
			r := rtRawConnect(ctx, f, "raw")

			Expect(r.UnsubscribeFilters(0x1234, f.Topic("never-subscribed"))).To(Succeed())

			ack, err := r.Expect(wire.UNSUBACK, 2*time.Second)
			Expect(err).NotTo(HaveOccurred(), "the broker must answer an UNSUBSCRIBE that deletes nothing with an UNSUBACK")
			Expect(ack.PacketID).To(Equal(uint16(0x1234)), "the UNSUBACK must carry the UNSUBSCRIBE's packet id")
		})

	ConformanceIt("answers an UNSUBSCRIBE of several filters with one UNSUBACK and deletes every subscription it names",
		Statements("MQTT-3.10.4-6", "MQTT-3.10.4-2"), Catches("unsubscribe-ignored"), func(ctx SpecContext) {
			a, b := f.Topic("sensors/1/temperature"), f.Topic("sensors/2/temperature")
			r := rtRawConnect(ctx, f, "raw")
			Expect(r.SubscribeFilters(1, wire.Sub(a, 1), wire.Sub(b, 1))).To(Succeed())
			suback, err := r.Expect(wire.SUBACK, 5*time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(suback.ReasonCodes).To(HaveEach(BeNumerically("<=", 2)), "the broker refused a plain subscription")

			Expect(r.UnsubscribeFilters(2, a, f.Topic("never-subscribed"), b)).To(Succeed())
			got, err := r.ReadAcking(5*time.Second, func(ps []wire.Packet) bool { return len(OfType(ps, wire.UNSUBACK)) > 0 })
			Expect(err).NotTo(HaveOccurred(), "the broker closed the connection")
			more, err := r.ReadAcking(300*time.Millisecond, nil) // a second UNSUBACK would come now
			Expect(err).NotTo(HaveOccurred(), "the broker closed the connection")
			got = append(got, more...)
			Expect(OfType(got, wire.UNSUBACK)).To(ConsistOf(HaveField("PacketID", uint16(2))),
				"one UNSUBACK, with the UNSUBSCRIBE's packet id, answers the three filters")

			control := f.Subscriber(ctx, "control", f.Topic("sensors/+/temperature"), 1)
			pub := f.Client(ctx, "pub")
			Expect(pub.Publish(ctx, a, 1, "a1")).To(Succeed())
			Expect(pub.Publish(ctx, b, 1, "b1")).To(Succeed())
			Eventually(control.Payloads).WithContext(ctx).Should(ContainElements("a1", "b1"))
			got, err = r.ReadAcking(300*time.Millisecond, nil)
			Expect(err).NotTo(HaveOccurred(), "the broker closed the connection")
			Expect(OfType(got, wire.PUBLISH)).To(BeEmpty(), "both subscriptions were deleted before a1 and b1 were published")
		})

	ConformanceIt("deletes only the subscription whose filter is character for character the UNSUBSCRIBE's, wildcards taken literally",
		Statements("MQTT-3.10.4-1"), Catches("unsubscribe-matches-wildcards"), func(ctx SpecContext) {
			temperature, humidity := f.Topic("sensors/1/temperature"), f.Topic("sensors/1/humidity")
			anyTemperature := f.Topic("sensors/+/temperature")
			sub := f.Client(ctx, "sub")
			for _, filter := range []string{anyTemperature, humidity} {
				granted, err := sub.Subscribe(ctx, filter, 1)
				Expect(err).NotTo(HaveOccurred())
				Expect(granted).To(BeNumerically("<=", 2), "the broker refused the subscription to %s", filter)
			}
			pub := f.Client(ctx, "pub")

			// A topic the first filter matches, a filter that matches the
			// second, a filter that matches both: none is a subscription.
			for _, filter := range []string{temperature, f.Topic("sensors/+/humidity"), f.Topic("sensors/#")} {
				Expect(sub.Unsubscribe(ctx, filter)).To(Succeed())
			}
			Expect(pub.Publish(ctx, temperature, 1, "t1")).To(Succeed())
			Expect(pub.Publish(ctx, humidity, 1, "h1")).To(Succeed())
			Eventually(sub.Payloads).WithContext(ctx).Should(ConsistOf("t1", "h1"),
				"UNSUBSCRIBE of %s, %s and %s must delete neither %s nor %s", temperature, f.Topic("sensors/+/humidity"), f.Topic("sensors/#"), anyTemperature, humidity)

			Expect(sub.Unsubscribe(ctx, anyTemperature)).To(Succeed())
			Expect(pub.Publish(ctx, temperature, 1, "t2")).To(Succeed())
			Expect(pub.Publish(ctx, humidity, 1, "h2")).To(Succeed())
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("h2"))
			Consistently(sub.Payloads).WithContext(ctx).ShouldNot(ContainElement("t2"), "%s was unsubscribed by its exact filter", anyTemperature)
		})

	ConformanceIt("replaces a subscription's QoS when the client subscribes to the same filter again",
		Statements("MQTT-3.8.4-3", "MQTT-3.8.4-6"), Catches("resubscribe-ignored"), func(ctx SpecContext) {
			topic := f.Topic("alarms")
			sub := f.Subscriber(ctx, "sub", topic, 1)
			granted, err := sub.Subscribe(ctx, topic, 0)
			Expect(err).NotTo(HaveOccurred())
			Expect(granted).To(Equal(byte(0)), "a QoS 0 subscription must be granted QoS 0")
			pub := f.Client(ctx, "pub")

			Expect(pub.Publish(ctx, topic, 1, "a1")).To(Succeed())

			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("a1"))
			Consistently(rtReceivedOn(sub, topic)).WithContext(ctx).Should(Equal([]string{`"a1" qos=0 retain=0`}),
				"the second SUBSCRIBE replaced the QoS 1 subscription by a QoS 0 one: one copy, at QoS 0")
		})

	ConformanceIt("matches topics case-sensitively",
		Statements("MQTT-4.7.3-4"), Catches("case-insensitive-topics"), func(ctx SpecContext) {
			exact := f.Topic("Floor1/Temperature")
			sub := f.Subscriber(ctx, "sub", exact, 1)
			pub := f.Client(ctx, "pub")

			Expect(pub.Publish(ctx, f.Topic("floor1/temperature"), 1, "lower")).To(Succeed())
			Expect(pub.Publish(ctx, f.Topic("FLOOR1/TEMPERATURE"), 1, "upper")).To(Succeed())
			Expect(pub.Publish(ctx, exact, 1, "exact")).To(Succeed())

			Eventually(rtTopicsOf(sub)).WithContext(ctx).Should(ConsistOf(exact), "only %s matches %s", exact, exact)
			Consistently(rtTopicsOf(sub)).WithContext(ctx).Should(ConsistOf(exact), "topics differing only in case are different topics")
		})

	ConformanceIt("routes non-ASCII topics as they are, without normalising them",
		Statements("MQTT-4.7.3-4"), Catches("case-insensitive-topics"), func(ctx SpecContext) {
			composed := f.Topic("\u00c9tage-1/temp\u00e9rature")    // "Étage-1/température", É and é precomposed (NFC)
			decomposed := f.Topic("E\u0301tage-1/temp\u00e9rature") // the same text with É as E + U+0301 (NFD)
			lower := f.Topic("\u00e9tage-1/temp\u00e9rature")       // "étage-1/température"
			exact := f.Subscriber(ctx, "exact", composed, 1)
			plus := f.Subscriber(ctx, "plus", f.Topic("+/temp\u00e9rature"), 1)
			pub := f.Client(ctx, "pub")

			Expect(pub.Publish(ctx, decomposed, 1, "nfd")).To(Succeed())
			Expect(pub.Publish(ctx, lower, 1, "lower")).To(Succeed())
			Expect(pub.Publish(ctx, composed, 1, "nfc")).To(Succeed())

			Eventually(rtTopicsOf(plus)).WithContext(ctx).Should(ConsistOf(composed, decomposed, lower),
				"+/température matches all three, each delivered with its topic byte for byte")
			// "nfc" went last: once it is in, whatever else the broker
			// routed to the exact subscriber is in too.
			Eventually(rtTopicsOf(exact)).WithContext(ctx).Should(ContainElement(composed), "%q never reached a subscriber of exactly that topic", composed)
			Consistently(rtTopicsOf(exact)).WithContext(ctx).Should(ConsistOf(composed),
				"%q matches only itself: not its decomposed form %q nor its lower case %q", composed, decomposed, lower)
		})

	invalid := func(ctx SpecContext, f *Framework, rel string) (*Raw, string) {
		r := rtRawConnect(ctx, f, "raw")
		filter := f.TopicRoot() + "/" + rel
		Expect(r.SubscribeFilters(1, wire.Sub(filter, 1))).To(Succeed())
		return r, filter
	}

	// MQTT 3.1.1 has no SUBACK code for a malformed filter: sending one is a
	// protocol violation, and the broker must close the connection
	// [MQTT-4.8.0-1]. The first table checks the weaker promise that the
	// broker never grants such a filter (a failure code 0x80 or a close).
	DescribeTable("never grants a subscription to an invalid topic filter",
		func(ctx SpecContext, rel string) {
			r, filter := invalid(ctx, f, rel)
			got, err := r.ReadAcking(2*time.Second, func(ps []wire.Packet) bool { return len(OfType(ps, wire.SUBACK)) > 0 })
			acks := OfType(got, wire.SUBACK)
			if len(acks) == 0 {
				Expect(err).To(HaveOccurred(), "the broker neither answered the SUBSCRIBE to %q nor closed the connection within 2s", filter)
				return
			}
			Expect(acks[0].ReasonCodes).To(Equal([]byte{0x80}), "the broker granted a subscription to the invalid filter %q: %s", filter, acks[0])
		},
		ConformanceEntry("'#' followed by another level: sensors/#/temperature", "sensors/#/temperature",
			Statements("MQTT-4.7.1-2"), Catches("invalid-filter-accepted")),
		ConformanceEntry("'#' inside a level: sensors/floor#", "sensors/floor#",
			Statements("MQTT-4.7.1-2"), Catches("invalid-filter-accepted")),
		ConformanceEntry("'+' inside a level: sensors/floor+/temperature", "sensors/floor+/temperature",
			Statements("MQTT-4.7.1-3"), Catches("invalid-filter-accepted")),
		ConformanceEntry("'+' before text in a level: sensors/+1", "sensors/+1",
			Statements("MQTT-4.7.1-3"), Catches("invalid-filter-accepted")),
	)

	DescribeTable("closes the connection of a client that subscribes to an invalid topic filter, a protocol violation",
		func(ctx SpecContext, rel string) {
			r, filter := invalid(ctx, f, rel)
			Expect(r.ExpectClosed(2*time.Second)).To(Succeed(), "after a SUBSCRIBE to the invalid filter %q", filter)
		},
		ConformanceEntry("'#' followed by another level: sensors/#/temperature", "sensors/#/temperature",
			Statements("MQTT-4.7.1-2", "MQTT-4.8.0-1"), Catches("invalid-filter-accepted")),
		ConformanceEntry("'#' inside a level: sensors/floor#", "sensors/floor#",
			Statements("MQTT-4.7.1-2", "MQTT-4.8.0-1"), Catches("invalid-filter-accepted")),
		ConformanceEntry("'+' inside a level: sensors/floor+/temperature", "sensors/floor+/temperature",
			Statements("MQTT-4.7.1-3", "MQTT-4.8.0-1"), Catches("invalid-filter-accepted")),
		ConformanceEntry("'+' before text in a level: sensors/+1", "sensors/+1",
			Statements("MQTT-4.7.1-3", "MQTT-4.8.0-1"), Catches("invalid-filter-accepted")),
	)

	ConformanceIt("answers a SUBSCRIBE of several filters with one SUBACK holding one return code per filter, in the filters' order",
		Statements("MQTT-3.8.4-1", "MQTT-3.8.4-2", "MQTT-3.8.4-4", "MQTT-3.8.4-5", "MQTT-3.9.3-1", "MQTT-3.9.3-2", "MQTT-3.8.4-6"), Catches("suback-codes-reordered"), func(ctx SpecContext) {
			topics := []string{f.Topic("sensors/1/temperature"), f.Topic("sensors/2/temperature"), f.Topic("sensors/3/temperature")}
			r := rtRawConnect(ctx, f, "sub")
			Expect(r.SubscribeFilters(7,
				wire.Sub(topics[0], 0),
				wire.Sub(topics[1], 1),
				wire.Sub(topics[2], 2))).To(Succeed())
			got, err := r.ReadAcking(5*time.Second, func(ps []wire.Packet) bool { return len(OfType(ps, wire.SUBACK)) > 0 })
			Expect(err).NotTo(HaveOccurred(), "the broker closed the connection after a valid SUBSCRIBE")
			acks := OfType(got, wire.SUBACK)
			Expect(acks).To(HaveLen(1), "no SUBACK within 5s")
			codes := acks[0].ReasonCodes
			Expect(acks[0].PacketID).To(Equal(uint16(7)))
			Expect(codes).To(HaveLen(3), "one return code per filter of the SUBSCRIBE")
			Expect(codes).To(HaveEach(BeElementOf(byte(0), byte(1), byte(2), byte(0x80))), "SUBACK return codes are 0x00, 0x01, 0x02 or 0x80")

			// Code i must be filter i's: its messages come at that QoS.
			pub := f.Client(ctx, "pub")
			expected := 0
			for i, t := range topics {
				Expect(pub.Publish(ctx, t, 2, fmt.Sprintf("m%d", i))).To(Succeed())
				if codes[i] != 0x80 {
					expected++
				}
			}
			if expected == 0 {
				Unsupported(fmt.Sprintf("the broker refused all three subscriptions (SUBACK %s)", acks[0]))
			}
			got, err = r.ReadAcking(5*time.Second, func(ps []wire.Packet) bool { return len(OfType(ps, wire.PUBLISH)) >= expected })
			Expect(err).NotTo(HaveOccurred(), "the broker closed the connection")
			more, err := r.ReadAcking(300*time.Millisecond, nil)
			Expect(err).NotTo(HaveOccurred(), "the broker closed the connection")
			delivered := map[string]byte{}
			for _, p := range OfType(append(got, more...), wire.PUBLISH) {
				Expect(delivered).NotTo(HaveKey(p.Topic), "a message on %s arrived twice", p.Topic)
				delivered[p.Topic] = p.QoS
			}
			for i, t := range topics {
				if codes[i] == 0x80 {
					Expect(delivered).NotTo(HaveKey(t), "filter %d (%s) was refused (0x80), yet its message arrived", i, t)
					continue
				}
				Expect(delivered).To(HaveKeyWithValue(t, min(2, codes[i])),
					"SUBACK %v gives filter %d (%s, requested QoS %d) QoS %d, so its QoS 2 message must come at QoS %d", codes, i, t, i, codes[i], codes[i])
			}
			Expect(OfType(r.Link.Trace().Packets(proxy.FromBroker), wire.SUBACK)).To(HaveLen(1), "one SUBSCRIBE, one SUBACK")
		})
})
