package conformance

import (
	"encoding/binary"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Protocol violations, sent as raw bytes. Where MQTT says the broker must
// close the connection it must do so promptly (violationWait), publish the
// offender's will if its connection had been accepted, act on nothing the
// offending packet asked for, and go on serving every other client.

// violationWait bounds how long the broker may take to close an
// offender's connection.
const violationWait = 3 * time.Second

const offenderWill = "offender-will"

// violationScene is what every violation spec watches: a bystander client
// on its own link that publishes to itself before and after the violation,
// and a watcher subscribed to every topic of the spec, which sees the
// offender's will and any message the broker should not have acted on.
type violationScene struct {
	f         *Framework
	bystander *Client
	own       string // the bystander's topic
	watcher   *Client
	will      string // the offender's will topic
	connect   wire.Packet
}

func newViolationScene(ctx SpecContext, f *Framework) *violationScene {
	GinkgoHelper()
	s := &violationScene{f: f, own: f.Topic("bystander"), will: f.Topic("will")}
	s.watcher = f.Subscriber(ctx, "watcher", f.TopicRoot()+"/#", 1)
	s.bystander = f.Subscriber(ctx, "bystander", s.own, 1)
	Expect(s.bystander.Publish(ctx, s.own, 1, "before")).To(Succeed())
	Eventually(s.bystander.Payloads).WithContext(ctx).Should(ContainElement("before"))
	s.connect = ConnectPacket()
	s.connect.Will = &wire.Will{Topic: s.will, QoS: 1, Payload: []byte(offenderWill)}
	return s
}

// offender opens the raw connection that will break the protocol: a
// CONNECT with a will, accepted.
func (s *violationScene) offender(ctx SpecContext) *Raw {
	GinkgoHelper()
	r := s.f.Raw(ctx, "offender")
	_, err := r.Connect(s.connect)
	Expect(err).NotTo(HaveOccurred(), "the offender's well-formed CONNECT was not accepted")
	return r
}

// expectClosed checks that the broker closed r within violationWait.
func (s *violationScene) expectClosed(r *Raw, after string) {
	GinkgoHelper()
	Expect(r.ExpectClosed(violationWait)).To(Succeed(), "the broker must close the connection of a client that sent %s", after)
}

// expectWill checks that the offender's will was published.
func (s *violationScene) expectWill(ctx SpecContext) {
	GinkgoHelper()
	Eventually(s.watcher.Payloads).WithContext(ctx).Should(ContainElement(offenderWill),
		"the broker closed the offender's accepted connection for a protocol violation, without DISCONNECT: it must publish the offender's will")
}

// expectUnharmed checks that the bystander still publishes and receives on
// its first connection, and that none of the forbidden payloads reached
// the watcher.
func (s *violationScene) expectUnharmed(ctx SpecContext, forbidden ...string) {
	GinkgoHelper()
	Expect(s.bystander.Publish(ctx, s.own, 1, "after")).To(Succeed(), "the bystander could not publish after another client's violation")
	Eventually(s.bystander.Payloads).WithContext(ctx).Should(ContainElement("after"),
		"the bystander's own message, published after another client's violation, never came back to it")
	Consistently(func(g Gomega) {
		g.Expect(s.bystander.Losses()).To(BeZero(), "the bystander lost its connection when another client broke the protocol")
		g.Expect(s.watcher.Losses()).To(BeZero(), "the watcher lost its connection when another client broke the protocol")
		for _, p := range forbidden {
			g.Expect(s.watcher.Count(p)).To(BeZero(), "the broker delivered %q, which it must not act on", p)
		}
	}).WithContext(ctx).Should(Succeed())
	Expect(s.bystander.Connections()).To(Equal(1), "the bystander had to reconnect")
}

// violation sends one protocol violation on the offender's accepted
// connection. It returns the payload of any message the violating packet
// carried: the broker must never deliver it.
type violation func(ctx SpecContext, s *violationScene, r *Raw) (forbidden string)

// violSends writes bytes made from the spec's topic root.
func violSends(build func(root string) []byte) violation {
	return func(ctx SpecContext, s *violationScene, r *Raw) string {
		GinkgoHelper()
		Expect(r.Write(build(s.f.TopicRoot()))).To(Succeed())
		return ""
	}
}

// violPublishesTo sends a PUBLISH, written byte by byte, to a topic name made
// of the spec's topic root and a suffix; first is its first byte.
func violPublishesTo(first byte, suffix string) violation {
	return func(ctx SpecContext, s *violationScene, r *Raw) string {
		GinkgoHelper()
		const payload = "violating-message"
		body := wire.AppendString(nil, s.f.TopicRoot()+suffix)
		if first&0x06 != 0 {
			body = binary.BigEndian.AppendUint16(body, 1)
		}
		Expect(r.Write(wire.Raw(first, body, []byte(payload)))).To(Succeed())
		return payload
	}
}

func violID(id uint16) []byte { return binary.BigEndian.AppendUint16(nil, id) }

// violLines shows packets as trace lines in failure messages.
func violLines(ps []wire.Packet) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

var _ = Describe("A connected client that breaks the protocol", Label("violations"), func() {
	f := New()

	DescribeTable("is disconnected by the broker, which publishes its will, acts on nothing the offending packet asked for, and keeps serving every other client",
		func(ctx SpecContext, what string, v violation) {
			s := newViolationScene(ctx, f)
			r := s.offender(ctx)

			forbidden := v(ctx, s, r)

			s.expectClosed(r, what)
			s.expectUnharmed(ctx, forbidden)
			s.expectWill(ctx)
		},
		ConformanceEntry("a PUBLISH whose topic name holds the single-level wildcard '+'",
			"a PUBLISH to a topic name with '+'", violPublishesTo(0x32, "/+/x"),
			Statements("MQTT-3.3.2-2", "MQTT-4.7.1-1", "MQTT-4.8.0-1", "MQTT-3.1.2-8"),
			Catches("accept-wildcard-publish", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a PUBLISH whose topic name holds the multi-level wildcard '#'",
			"a PUBLISH to a topic name with '#'", violPublishesTo(0x30, "/#"),
			Statements("MQTT-3.3.2-2", "MQTT-4.7.1-1", "MQTT-4.8.0-1", "MQTT-3.1.2-8"),
			Catches("accept-wildcard-publish", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a second CONNECT",
			"a second CONNECT", violation(func(ctx SpecContext, s *violationScene, r *Raw) string {
				GinkgoHelper()
				Expect(r.Send(s.connect)).To(Succeed())
				return ""
			}),
			Statements("MQTT-3.1.0-2", "MQTT-3.1.2-8"),
			Catches("accept-second-connect", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a PUBLISH with QoS 3 (both QoS bits set)",
			"a PUBLISH with QoS 3", violPublishesTo(0x36, "/qos3"),
			Statements("MQTT-3.3.1-4", "MQTT-2.2.2-2", "MQTT-3.1.2-8"),
			Catches("ignore-reserved-flags", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a SUBSCRIBE whose fixed-header flags are 0000 instead of 0010",
			"a SUBSCRIBE with flags 0000", violSends(func(root string) []byte {
				return wire.Raw(0x80, violID(1), wire.AppendString(nil, root+"/sub"), []byte{1})
			}),
			Statements("MQTT-3.8.1-1", "MQTT-2.2.2-1", "MQTT-2.2.2-2", "MQTT-3.1.2-8"),
			Catches("ignore-reserved-flags", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("an UNSUBSCRIBE whose fixed-header flags are 0000 instead of 0010",
			"an UNSUBSCRIBE with flags 0000", violSends(func(root string) []byte {
				return wire.Raw(0xA0, violID(1), wire.AppendString(nil, root+"/sub"))
			}),
			Statements("MQTT-3.10.1-1", "MQTT-2.2.2-1", "MQTT-2.2.2-2", "MQTT-3.1.2-8"),
			Catches("ignore-reserved-flags", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a PUBREL whose fixed-header flags are 0000 instead of 0010, in a QoS 2 handshake",
			"a PUBREL with flags 0000", violation(func(ctx SpecContext, s *violationScene, r *Raw) string {
				GinkgoHelper()
				Expect(r.Send(wire.Publish(s.f.Topic("qos2"), 2, 7, "qos2-message"))).To(Succeed())
				_, err := r.Expect(wire.PUBREC, 5*time.Second)
				Expect(err).NotTo(HaveOccurred(), "the broker did not answer a QoS 2 PUBLISH with PUBREC")
				Expect(r.Write(wire.Raw(0x60, violID(7)))).To(Succeed())
				return ""
			}),
			Statements("MQTT-3.6.1-1", "MQTT-2.2.2-1", "MQTT-2.2.2-2", "MQTT-3.1.2-8"),
			Catches("ignore-reserved-flags", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a PINGREQ whose fixed-header flags are 0001 instead of 0000",
			"a PINGREQ with flags 0001", violSends(func(string) []byte { return wire.Raw(0xC1) }),
			Statements("MQTT-2.2.2-1", "MQTT-2.2.2-2", "MQTT-3.1.2-8"),
			Catches("ignore-reserved-flags", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a DISCONNECT whose fixed-header flags are 0001 instead of 0000 (a malformed DISCONNECT does not discard the will)",
			"a DISCONNECT with flags 0001", violSends(func(string) []byte { return wire.Raw(0xE1) }),
			Statements("MQTT-3.14.1-1", "MQTT-2.2.2-2", "MQTT-3.1.2-8"),
			Catches("ignore-reserved-flags", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a packet whose remaining length runs to a fifth byte",
			"a remaining length of five bytes", violSends(func(string) []byte {
				return []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x01, 'x'}
			}),
			Statements("MQTT-4.8.0-1", "MQTT-3.1.2-8"),
			Catches("violation-kills-everyone")),
		ConformanceEntry("a PUBLISH whose topic name is not valid UTF-8 (byte 0xFF)",
			"a topic name that is not UTF-8", violPublishesTo(0x32, "/bad\xff"),
			Statements("MQTT-1.5.3-1", "MQTT-3.3.2-1", "MQTT-3.1.2-8"),
			Catches("accept-bad-utf8", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a PUBLISH whose topic name encodes a UTF-16 surrogate (U+D800)",
			"a topic name with a surrogate code point", violPublishesTo(0x32, "/surrogate\xed\xa0\x80"),
			Statements("MQTT-1.5.3-1", "MQTT-3.3.2-1", "MQTT-3.1.2-8"),
			Catches("accept-bad-utf8", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a PUBLISH whose topic name contains U+0000",
			"a topic name with U+0000", violPublishesTo(0x32, "/nul\x00x"),
			Statements("MQTT-1.5.3-2", "MQTT-4.7.3-2", "MQTT-3.1.2-8"),
			Catches("accept-bad-utf8", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a QoS 1 PUBLISH with packet identifier 0",
			"a PUBLISH with packet identifier 0", violSends(func(root string) []byte {
				return wire.Raw(0x32, wire.AppendString(nil, root+"/id0"), violID(0), []byte("violating-message"))
			}),
			Statements("MQTT-2.3.1-1", "MQTT-4.8.0-1", "MQTT-3.1.2-8"),
			Catches("violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a SUBSCRIBE with packet identifier 0",
			"a SUBSCRIBE with packet identifier 0", violSends(func(root string) []byte {
				return wire.Raw(0x82, violID(0), wire.AppendString(nil, root+"/sub"), []byte{1})
			}),
			Statements("MQTT-2.3.1-1", "MQTT-4.8.0-1", "MQTT-3.1.2-8"),
			Catches("violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a QoS 0 PUBLISH with DUP set",
			"a QoS 0 PUBLISH with DUP set", violPublishesTo(0x38, "/dup"),
			Statements("MQTT-3.3.1-2", "MQTT-4.8.0-1", "MQTT-3.1.2-8"),
			Catches("ignore-reserved-flags", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a PUBLISH with an empty topic name",
			"a PUBLISH with an empty topic name", violSends(func(string) []byte {
				return wire.Raw(0x30, wire.AppendString(nil, ""), []byte("violating-message"))
			}),
			Statements("MQTT-4.7.3-1", "MQTT-4.8.0-1", "MQTT-3.1.2-8"),
			Catches("violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a SUBSCRIBE that requests QoS 3",
			"a SUBSCRIBE requesting QoS 3", violSends(func(root string) []byte {
				return wire.Raw(0x82, violID(1), wire.AppendString(nil, root+"/sub"), []byte{3})
			}),
			Statements("MQTT-3.8.3-4", "MQTT-3.1.2-8"),
			Catches("accept-qos3-subscribe", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a SUBSCRIBE whose requested-QoS byte has a reserved bit set (0x81)",
			"a SUBSCRIBE with a reserved option bit", violSends(func(root string) []byte {
				return wire.Raw(0x82, violID(1), wire.AppendString(nil, root+"/sub"), []byte{0x81})
			}),
			Statements("MQTT-3.8.3-4", "MQTT-3.1.2-8"),
			Catches("accept-qos3-subscribe", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("a SUBSCRIBE with no topic filter",
			"a SUBSCRIBE with no topic filter", violSends(func(string) []byte { return wire.Raw(0x82, violID(1)) }),
			Statements("MQTT-3.8.3-3", "MQTT-4.8.0-1", "MQTT-3.1.2-8"),
			Catches("ack-empty-subscribe", "violation-without-will", "violation-kills-everyone")),
		ConformanceEntry("an UNSUBSCRIBE with no topic filter",
			"an UNSUBSCRIBE with no topic filter", violSends(func(string) []byte { return wire.Raw(0xA2, violID(1)) }),
			Statements("MQTT-3.10.3-2", "MQTT-4.8.0-1", "MQTT-3.1.2-8"),
			Catches("ack-empty-subscribe", "violation-without-will", "violation-kills-everyone")),
	)
})

var _ = Describe("A client whose first packet is not CONNECT", Label("violations"), func() {
	f := New()

	DescribeTable("is disconnected without an answer, its packet not acted on, and every other client served as before",
		func(ctx SpecContext, first func(root string) []byte) {
			s := newViolationScene(ctx, f)
			r := f.Raw(ctx, "offender")

			Expect(r.Write(first(f.TopicRoot()))).To(Succeed())

			seen, closed := r.ReadUntilClosed(violationWait)
			Expect(closed).To(BeTrue(), "the broker must close a connection whose first packet is not CONNECT; after %v it was still open (it sent %v)", violationWait, violLines(seen))
			Expect(violLines(seen)).To(BeEmpty(), "the broker answered a packet sent before CONNECT")
			s.expectUnharmed(ctx, "before-connect")
		},
		ConformanceEntry("a PUBLISH", func(root string) []byte {
			return wire.Encode(wire.Publish(root+"/early", 0, 0, "before-connect"))
		}, Statements("MQTT-4.8.0-1"), Catches("serve-before-connect", "violation-kills-everyone")),
		ConformanceEntry("a SUBSCRIBE", func(root string) []byte {
			return wire.Encode(wire.Subscribe(1, wire.Sub(root+"/#", 1)))
		}, Statements("MQTT-4.8.0-1"), Catches("serve-before-connect", "violation-kills-everyone")),
		ConformanceEntry("a PINGREQ", func(string) []byte {
			return wire.Encode(wire.PingReq())
		}, Statements("MQTT-4.8.0-1"), Catches("serve-before-connect", "violation-kills-everyone")),
	)
})

// violConnectBytes encodes a CONNECT and lets patch change its connect flags
// byte, for flag combinations the encoder will not produce.
func violConnectBytes(p wire.Packet, patch func(flags byte) byte) []byte {
	b := wire.Encode(p)
	h, _, _ := wire.ParseHeader(b)
	at := h.Len + 2 + len(p.ProtocolName) + 1 // protocol name, level
	if p.ProtocolName == "" {
		at += len("MQTT")
	}
	if patch != nil {
		b[at] = patch(b[at])
	}
	return b
}

var _ = Describe("A client whose CONNECT the broker must refuse", Label("violations"), func() {
	f := New()

	// refused sends a CONNECT with a will, followed in the same write by a
	// PUBLISH the broker must not act on, and returns what the broker sent
	// and whether it closed the connection within violationWait.
	refused := func(ctx SpecContext, connect []byte) (*violationScene, []wire.Packet, bool) {
		s := newViolationScene(ctx, f)
		r := f.Raw(ctx, "offender")
		publish := wire.Encode(wire.Publish(f.Topic("after-connect"), 0, 0, "after-refused-connect"))
		Expect(r.Write(append(connect, publish...))).To(Succeed())
		seen, closed := r.ReadUntilClosed(violationWait)
		return s, seen, closed
	}
	will := func() *wire.Will { return &wire.Will{Topic: f.Topic("will"), QoS: 1, Payload: []byte(offenderWill)} }

	ConformanceIt("answers a protocol level it does not support (6) with CONNACK 0x01, closes the connection, and acts on nothing the client sent after it",
		Statements("MQTT-3.1.2-2", "MQTT-3.2.2-4", "MQTT-3.2.2-5", "MQTT-3.1.4-5"),
		Catches("accept-unsupported-level", "connack-for-bad-connect", "violation-kills-everyone"), func(ctx SpecContext) {
			p := ConnectPacket()
			p.ProtocolLevel, p.Will = 6, will()

			s, seen, closed := refused(ctx, wire.Encode(p))

			Expect(violLines(seen)).To(HaveLen(1), "the broker must answer with exactly one CONNACK (return code 0x01) and nothing else")
			Expect(seen[0].Type).To(Equal(wire.CONNACK), "the broker must answer with CONNACK")
			Expect(seen[0].ReasonCode).To(Equal(byte(0x01)), "the CONNACK for an unsupported protocol level must carry return code 0x01 (unacceptable protocol version): %v", seen[0])
			Expect(seen[0].SessionPresent).To(BeFalse(), "a CONNACK with a non-zero return code must have Session Present 0: %v", seen[0])
			Expect(closed).To(BeTrue(), "the broker must close the connection after its refusing CONNACK; it was still open after %v", violationWait)
			s.expectUnharmed(ctx, "after-refused-connect", offenderWill)
		})

	ConformanceIt("does not accept a CONNECT whose protocol name is not \"MQTT\", nor act on anything the client sent after it",
		Statements("MQTT-3.1.2-1", "MQTT-3.1.4-5"),
		Catches("connack-for-bad-connect", "violation-kills-everyone"), func(ctx SpecContext) {
			p := ConnectPacket()
			p.ProtocolName, p.Will = "MQTX", will()

			s, seen, _ := refused(ctx, wire.Encode(p))

			// The broker may close the connection or follow another
			// specification, but never go on as MQTT 3.1.1.
			for _, pkt := range seen {
				Expect(pkt.Type == wire.CONNACK && pkt.ReasonCode == 0).To(BeFalse(), "the broker accepted a CONNECT with protocol name \"MQTX\": %v", pkt)
			}
			s.expectUnharmed(ctx, "after-refused-connect", offenderWill)
		})

	DescribeTable("closes the connection without any CONNACK when the CONNECT breaks the rules of its flags, and acts on nothing the client sent after it",
		func(ctx SpecContext, connect func() []byte) {
			s, seen, closed := refused(ctx, connect())

			Expect(closed).To(BeTrue(), "the broker must close the connection of a non-conforming CONNECT; after %v it was still open (it sent %v)", violationWait, violLines(seen))
			Expect(violLines(seen)).To(BeEmpty(), "the broker must close the connection without sending a CONNACK for a non-conforming CONNECT")
			s.expectUnharmed(ctx, "after-refused-connect", offenderWill)
		},
		ConformanceEntry("the reserved connect flag (bit 0) set", func() []byte {
			p := ConnectPacket()
			p.Will, p.ConnectFlags = will(), 0x01
			return wire.Encode(p)
		}, Statements("MQTT-3.1.2-3", "MQTT-3.1.4-1", "MQTT-3.1.4-5"),
			Catches("connack-for-bad-connect", "ignore-reserved-flags", "violation-kills-everyone")),
		ConformanceEntry("a will QoS of 3", func() []byte {
			p := ConnectPacket()
			p.Will = will()
			p.Will.QoS = 3
			return wire.Encode(p)
		}, Statements("MQTT-3.1.4-1", "MQTT-3.1.4-5"),
			Catches("connack-for-bad-connect", "violation-kills-everyone")),
		ConformanceEntry("a will QoS of 1 without the will flag", func() []byte {
			return violConnectBytes(ConnectPacket(), func(b byte) byte { return b | 0x08 })
		}, Statements("MQTT-3.1.4-1", "MQTT-3.1.4-5"),
			Catches("connack-for-bad-connect", "violation-kills-everyone")),
		ConformanceEntry("the password flag without the user name flag", func() []byte {
			p := ConnectPacket()
			p.Will = will()
			p.Username, p.HasUsername, p.Password, p.HasPassword = "", false, []byte("secret"), true
			return wire.Encode(p)
		}, Statements("MQTT-3.1.4-1", "MQTT-3.1.4-5"),
			Catches("connack-for-bad-connect", "violation-kills-everyone")),
	)
})

var _ = Describe("UTF-8 topic names", Label("violations", "utf8"), func() {
	f := New()

	ConformanceIt("keep a U+FEFF (bytes EF BB BF) in a topic name: the message reaches the subscription to that exact name, on that name, and no subscription to the name without it",
		Statements("MQTT-1.5.3-3"), Catches("strip-bom"), func(ctx SpecContext) {
			topic := f.Topic("\uFEFFbom")
			stripped := f.Topic("bom")
			sub := f.Subscriber(ctx, "sub", topic, 1)
			other := f.Subscriber(ctx, "other", stripped, 1)
			pub := f.Client(ctx, "pub")

			Expect(pub.Publish(ctx, topic, 1, "with-bom")).To(Succeed())
			Expect(pub.Publish(ctx, stripped, 1, "without-bom")).To(Succeed())

			Eventually(other.Payloads).WithContext(ctx).Should(ContainElement("without-bom"))
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("with-bom"),
				"the message published to a topic name holding U+FEFF never reached the subscription to that name")
			Expect(sub.Received()).To(HaveEach(HaveField("Topic", topic)), "the topic name must arrive with its U+FEFF")
			Expect(other.Payloads()).To(Equal([]string{"without-bom"}), "the subscription to the name without U+FEFF must get only its own message")
		})
})
