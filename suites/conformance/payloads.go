package conformance

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
	"github.com/faultline-mqtt/faultline/suites/framework/payloads"
)

// Payloads of every shape reach subscribers byte for byte: empty, binary,
// at the boundaries of the Remaining Length encoding, and large. Failures
// name payloads by size and SHA-256, never print them. A broker may refuse
// a PUBLISH over a payload limit it is configured with by closing the
// connection: that is reported as not supported, with the size. A broker
// that acknowledges a message and then drops or alters it fails.

// payloadStall bounds a silence in the middle of a payload in transit.
const payloadStall = 5 * time.Second

// payloadWait bounds the whole transfer of size bytes: generous enough for
// a slow machine moving it through two links and the broker.
func payloadWait(size int) time.Duration {
	return 10*time.Second + time.Duration(size/(4<<20))*time.Second
}

// payloadDigests lists a client's received payloads by size and SHA-256.
func payloadDigests(c *Client) func() []string {
	return func() []string {
		var out []string
		for _, p := range c.Payloads() {
			out = append(out, payloads.Digest(p))
		}
		return out
	}
}

// payloadHeaders is the size of a PUBLISH variable header on topic at qos.
func payloadHeaders(topic string, qos byte) int {
	if qos > 0 {
		return 2 + len(topic) + 2
	}
	return 2 + len(topic)
}

type payloadResult struct {
	a   Arrival
	err error
}

// transferPayload subscribes a raw client to topic at qos and publishes
// payload to it from another raw client, streaming both ways, and returns
// what the subscriber received. It reports "not supported" when the broker
// refuses the PUBLISH by closing the publisher's connection, and fails
// when the broker neither takes nor refuses it.
func transferPayload(ctx SpecContext, f *Framework, topic string, qos byte, payload payloads.Generated) Arrival {
	GinkgoHelper()
	sub := f.Raw(ctx, "sub")
	_, err := sub.Connect(ConnectPacket())
	Expect(err).NotTo(HaveOccurred(), "the subscriber could not connect")
	Expect(sub.Send(wire.Subscribe(1, wire.Sub(topic, qos)))).To(Succeed())
	suback, err := sub.Expect(wire.SUBACK, 5*time.Second)
	Expect(err).NotTo(HaveOccurred(), "the subscriber got no SUBACK")
	Expect(suback.ReasonCodes).To(HaveLen(1), "the SUBACK must carry one return code: %v", suback)
	if granted := suback.ReasonCodes[0]; granted != qos {
		Unsupported(fmt.Sprintf("the broker granted QoS %d (SUBACK code 0x%02x) for a QoS %d subscription to %s", min(granted, 3), granted, qos, topic))
	}
	pub := f.Raw(ctx, "pub")
	_, err = pub.Connect(ConnectPacket())
	Expect(err).NotTo(HaveOccurred(), "the publisher could not connect")

	wait := payloadWait(payload.Size)
	arrived := make(chan payloadResult, 1)
	go func() {
		a, err := sub.ReceiveGenerated(wait, payloadStall, payload)
		if err == nil && a.QoS == 1 {
			_ = sub.Send(wire.PubAck(a.PacketID))
		}
		arrived <- payloadResult{a, err}
	}()

	// Whether the broker took the message: its PUBACK at QoS 1; at QoS 0
	// its PINGRESP to a PINGREQ sent right after (packets are handled in
	// the order they arrive).
	remaining := payloadHeaders(topic, qos) + payload.Size
	took, answer := wire.PUBACK, "PUBACK"
	err = pub.PublishGenerated(topic, qos, 1, payload)
	if err == nil && qos == 0 {
		took, answer = wire.PINGRESP, "PINGRESP to the PINGREQ that followed it"
		err = pub.Send(wire.PingReq())
	}
	if err == nil {
		_, err = pub.Expect(took, wait)
	}
	if err != nil {
		if _, closed := pub.ReadUntilClosed(time.Millisecond); closed {
			Unsupported(fmt.Sprintf("the broker closed the connection on a QoS %d PUBLISH with a %d-byte payload (remaining length %d) instead of taking it, as a broker with a payload limit may: %v",
				qos, payload.Size, remaining, err))
		}
		Fail(fmt.Sprintf("the broker neither took nor refused a QoS %d PUBLISH with a %d-byte payload (remaining length %d): no %s within %v, and the connection stayed open: %v",
			qos, payload.Size, remaining, answer, wait, err))
	}

	var r payloadResult
	select {
	case r = <-arrived:
	case <-ctx.Done():
		Fail("the spec ran out of time waiting for the subscriber to receive the payload")
	}
	Expect(r.err).NotTo(HaveOccurred(), "the broker took a QoS %d message with a %d-byte payload but the subscriber did not receive it whole", qos, payload.Size)
	a := r.a
	Expect(a.Topic).To(Equal(topic), "the message arrived on another topic")
	Expect(a.QoS).To(Equal(qos), "the message arrived at another QoS")
	Expect(a.Size == payload.Size && a.FirstDiff < 0).To(BeTrue(), func() string {
		diff := ""
		if a.FirstDiff >= 0 {
			diff = fmt.Sprintf("; the first difference is at byte %d: 0x%02x instead of 0x%02x", a.FirstDiff, a.Got, a.Want)
		}
		return fmt.Sprintf("the payload must arrive byte for byte: published %s, received %s%s", payload.Digest(), a.Digest, diff)
	})
	return a
}

var _ = Describe("Payloads", Label("payloads"), func() {
	f := New()

	DescribeTable("a message with an empty payload reaches the subscriber, empty",
		func(ctx SpecContext, qos byte) {
			topic := f.Topic("empty")
			sub := f.Subscriber(ctx, "sub", topic, qos)
			pub := f.Client(ctx, "pub")

			Expect(pub.Publish(ctx, topic, qos, "")).To(Succeed())

			Eventually(sub.Received).WithContext(ctx).Should(ContainElement(And(HaveField("Topic", topic), HaveField("Payload", ""))),
				"the message with an empty payload never reached the subscriber")
		},
		ConformanceEntry("QoS 0", byte(0), Statements("MQTT-4.5.0-1"), Catches("drop-empty-payload")),
		ConformanceEntry("QoS 1", byte(1), Statements("MQTT-4.5.0-1", "MQTT-3.3.4-1"), Catches("drop-empty-payload")),
		ConformanceEntry("QoS 2", byte(2), Statements("MQTT-4.5.0-1", "MQTT-3.3.4-1"), Catches("drop-empty-payload")),
	)

	ConformanceIt("delivers a payload holding every byte value, 0x00 to 0xFF and back, byte for byte",
		Statements("MQTT-4.5.0-1"), Catches("corrupt-high-bytes", "corrupt-payload"), func(ctx SpecContext) {
			b := make([]byte, 512)
			for i := range 256 {
				b[i], b[511-i] = byte(i), byte(i)
			}
			payload := string(b)
			topic := f.Topic("binary")
			sub := f.Subscriber(ctx, "sub", topic, 1)
			pub := f.Client(ctx, "pub")

			Expect(pub.Publish(ctx, topic, 1, payload)).To(Succeed())

			Eventually(payloadDigests(sub)).WithContext(ctx).Should(ContainElement(payloads.Digest(payload)),
				"the binary payload must arrive byte for byte")
		})

	ConformanceIt("delivers a 96 KiB payload byte for byte over links limited to 256 KB/s",
		Statements("MQTT-4.5.0-1", "MQTT-3.3.4-1"), Label("bandwidth"), Catches("truncate-large-payloads", "corrupt-high-bytes"), func(ctx SpecContext) {
			payload := string(payloads.Generate(96<<10, 96).Bytes())
			topic := f.Topic("slow")
			sub := f.Subscriber(ctx, "sub", topic, 1)
			pub := f.Client(ctx, "pub")
			Expect(pub.Link.Bandwidth(proxy.ToBroker, 256)).To(Succeed())
			Expect(sub.Link.Bandwidth(proxy.FromBroker, 256)).To(Succeed())

			Expect(pub.Publish(ctx, topic, 1, payload)).To(Succeed())

			Eventually(payloadDigests(sub)).WithContext(ctx).Should(ContainElement(payloads.Digest(payload)),
				"the payload must arrive byte for byte")
		})

	DescribeTable("a message whose PUBLISH has a remaining length at a boundary of its encoding reaches the subscriber byte for byte, in a PUBLISH of the same length",
		func(ctx SpecContext, remaining int, qos byte) {
			topic := f.Topic("boundary")
			size := remaining - payloadHeaders(topic, qos)
			Expect(size).To(BeNumerically(">=", 0), "the topic %q is too long for a remaining length of %d", topic, remaining)

			a := transferPayload(ctx, f, topic, qos, payloads.Generate(size, uint64(remaining)))

			Expect(a.Remaining).To(Equal(remaining), "the PUBLISH to the subscriber should have the remaining length of the one published")
		},
		payloadBoundaries(),
	)

	DescribeTable("a large message reaches the subscriber byte for byte",
		func(ctx SpecContext, size int) {
			topic := f.Topic("large")
			size = min(size, wire.MaxRemaining-payloadHeaders(topic, 1))

			transferPayload(ctx, f, topic, 1, payloads.Generate(size, uint64(size)))
		},
		payloadSizes(),
	)
})

// payloadBoundaries are the remaining lengths on either side of each step
// of the Variable Byte Integer encoding, at QoS 0 and 1. Those over
// PublicMaxPayload are labelled "large" (public mode does not send them).
func payloadBoundaries() []TableEntry {
	var out []TableEntry
	for _, b := range []struct {
		remaining int
		what      string
		catches   []string
	}{
		{127, "the largest 1-byte length", []string{"corrupt-high-bytes"}},
		{128, "the smallest 2-byte length", []string{"corrupt-high-bytes"}},
		{16383, "the largest 2-byte length", []string{"corrupt-high-bytes"}},
		{16384, "the smallest 3-byte length", []string{"corrupt-high-bytes", "drop-at-length-boundary"}},
		{2097151, "the largest 3-byte length", []string{"corrupt-high-bytes", "drop-at-length-boundary", "truncate-large-payloads"}},
		{2097152, "the smallest 4-byte length", []string{"corrupt-high-bytes", "drop-at-length-boundary", "truncate-large-payloads"}},
	} {
		for _, qos := range []byte{0, 1} {
			stmts := []string{"MQTT-4.5.0-1"}
			if qos == 1 {
				stmts = append(stmts, "MQTT-3.3.4-1")
			}
			args := []any{b.remaining, qos, Statements(stmts...), Catches(b.catches...)}
			if b.remaining > PublicMaxPayload {
				args = append(args, Label("large")) // too much for a shared broker
			}
			out = append(out, ConformanceEntry(fmt.Sprintf("remaining length %d (%s), QoS %d", b.remaining, b.what, qos), args...))
		}
	}
	return out
}

// payloadSizes are 1 MiB, 16 MiB, 64 MiB and 256 MiB (the largest payload
// a PUBLISH can carry, just under 256 MiB), as far as FAULTLINE_MAX_PAYLOAD
// allows (16 MiB by default), and that bound itself. Sizes over 16 MiB are
// labelled "large".
func payloadSizes() []TableEntry {
	limit, err := MaxPayload()
	if err != nil {
		panic(err)
	}
	sizes := []int{}
	for _, s := range []int{1 << 20, 16 << 20, 64 << 20, 256 << 20} {
		if s <= limit {
			sizes = append(sizes, s)
		}
	}
	if limit < 256<<20 && (len(sizes) == 0 || sizes[len(sizes)-1] != limit) {
		sizes = append(sizes, limit)
	}
	var out []TableEntry
	for _, s := range sizes {
		args := []any{s, Statements("MQTT-4.5.0-1", "MQTT-3.3.4-1"), Catches("truncate-large-payloads", "corrupt-high-bytes"),
			SpecTimeout(DefaultSpecTimeout + 2*payloadWait(s))}
		name := payloadSizeName(s)
		if s == 256<<20 {
			name = "256 MiB (the largest payload a PUBLISH can carry: 256 MiB less its headers)"
		}
		if s > 16<<20 {
			args = append(args, Label("large"))
		}
		out = append(out, ConformanceEntry(name+", QoS 1", args...))
	}
	return out
}

func payloadSizeName(n int) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
