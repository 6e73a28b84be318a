package conformance5

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Retained messages: RETAIN 1 stores or, with an empty payload, removes;
// RETAIN 0 leaves the retained message alone.
var _ = Describe("MQTT 5.0 retained messages", Label("retain"), func() {
	f := New()

	ConformanceIt("keeps the last RETAIN 1 message of a topic, leaves it alone on RETAIN 0, and forwards then forgets it on an empty RETAIN 1 message",
		Statements5("MQTT-3.3.1-5", "MQTT-3.3.1-6", "MQTT-3.3.1-7", "MQTT-3.3.1-8"),
		Catches("v5-retain-flag-dropped", "v5-retain-flag-forced", "v5-empty-retained-swallowed"), func(ctx SpecContext) {
			topic := f.Topic("kept")
			pub := f.Client5(ctx, "pub")
			Expect(pub.PublishRetained(ctx, topic, 1, "first")).Error().NotTo(HaveOccurred())
			Expect(pub.PublishRetained(ctx, topic, 1, "second")).Error().NotTo(HaveOccurred())
			pub.MustPublish(ctx, topic, 1, "not-retained")
			// A broker may acknowledge before it routes: the newcomer below
			// must subscribe after "not-retained" was routed, or it gets
			// it live.
			pub.Sync(ctx)

			// newcomer subscribes and takes what is retained; the marker,
			// published after its SUBACK, comes after any retained message
			newcomer := func(name, marker string) *Client5 {
				GinkgoHelper()
				c := f.Client5(ctx, name)
				c.MustSubscribe(ctx, topic, 1, 0)
				pub.MustPublish(ctx, topic, 1, marker)
				Eventually(c.Payloads).WithContext(ctx).Should(ContainElement(marker), "a message published after %s subscribed never came", name)
				return c
			}
			late := newcomer("late", "marker-1")
			Expect(late.Payloads()).To(Equal([]string{"second", "marker-1"}),
				"a new subscriber must get the last RETAIN 1 message (\"second\") as the retained one, and no RETAIN 0 message")
			m, _ := late.Message("second")
			Expect(m.Retain).To(BeTrue(), "the retained message reached a new subscriber with RETAIN 0")

			By("an empty RETAIN 1 message reaches subscribers and removes the retained one")
			Expect(pub.PublishPacket(ctx, wire.Publish(topic, 1, 0, "", wire.Retained()))).Error().NotTo(HaveOccurred())
			Eventually(func() int { return len(late.Payloads()) }).WithContext(ctx).Should(Equal(3), "the empty RETAIN 1 message did not reach an existing subscriber")
			Expect(late.Payloads()[2]).To(BeEmpty(), "an existing subscriber got %q where the empty RETAIN 1 message should be", late.Payloads()[2])
			last := newcomer("last", "marker-2")
			Expect(last.Payloads()).To(Equal([]string{"marker-2"}), "a retained message was still kept after an empty RETAIN 1 message")
		})
})

// Keep alive and PINGREQ.
var _ = Describe("MQTT 5.0 keep alive", Label("keepalive"), func() {
	f := New()

	ConformanceIt("answers every PINGREQ with a PINGRESP",
		Statements5("MQTT-3.12.4-1"), Catches("v5-pingresp-dropped"), func(ctx SpecContext) {
			c := f.Client5(ctx, "c")
			for range 3 {
				Expect(c.Ping(ctx)).To(Succeed())
			}
		})

	ConformanceIt("closes a connection on which nothing arrives for 1.5 times the keep alive in force (the client's, unless the CONNACK gave a Server Keep Alive)",
		Statements5("MQTT-3.1.2-22", "MQTT-3.2.2-22"), Catches("v5-keep-alive-dropped"), func(ctx SpecContext) {
			const asked = 1
			// Two silent connections, the second opened 2.5 s after the
			// first: a broker that checks keep alives on a coarse periodic
			// timer cannot be on time for both by luck. Time passing is the
			// subject, so the spec lets it pass (Elapse).
			type closed struct {
				err     error
				silence time.Duration
			}
			keepAlive := time.Duration(asked) * time.Second
			watch := func(name string) chan closed {
				GinkgoHelper()
				r := f.Raw5(ctx, name)
				p := ConnectPacket5()
				p.KeepAlive = asked
				start := time.Now()
				ack, err := r.Connect(p)
				Expect(err).NotTo(HaveOccurred())
				if v, ok := Props(ack.Properties).Uint(wire.PropServerKeepAlive); ok {
					keepAlive = time.Duration(v) * time.Second
				}
				if keepAlive == 0 {
					Unsupported("the CONNACK gave Server Keep Alive 0: the broker checks no keep alive")
				}
				// the wait lasts 10 s beyond 1.5 times the keep alive, to
				// measure a late broker too
				bound := keepAlive*3/2 + 10*time.Second
				ch := make(chan closed, 1)
				go func() {
					err := r.ExpectClosed(bound)
					ch <- closed{err, time.Since(start)}
				}()
				return ch
			}
			first := watch("quiet-1")
			Elapse(ctx, 2500*time.Millisecond)
			second := watch("quiet-2")
			limit := keepAlive * 3 / 2
			for i, ch := range []chan closed{first, second} {
				var c closed
				Eventually(ch).WithContext(ctx).WithTimeout(limit + 15*time.Second).Should(Receive(&c))
				Expect(c.err).NotTo(HaveOccurred(), "the broker kept open connection %d, silent for 1.5 times its keep alive of %v and 10 s more", i+1, keepAlive)
				AddReportEntry("keep alive", fmt.Sprintf("keep alive %v: the broker closed silent connection %d after %v (1.5 × keep alive = %v)", keepAlive, i+1, c.silence.Round(time.Millisecond), limit))
				// a broker checks on its own timer: one second of slack
				// beyond the 1.5 times the standard allows
				Expect(c.silence).To(BeNumerically("<=", limit+time.Second), "the broker closed connection %d %v after the client's last packet: later than 1.5 × its keep alive of %v", i+1, c.silence.Round(time.Millisecond), keepAlive)
				Expect(c.silence).To(BeNumerically(">=", keepAlive), "the broker closed connection %d %v after the client's last packet, before its keep alive of %v had passed", i+1, c.silence.Round(time.Millisecond), keepAlive)
			}
		})
})

// CONNECT checks.
var _ = Describe("MQTT 5.0 CONNECT checks", Label("connect"), func() {
	f := New()

	ConformanceIt("closes a connection that sends a second CONNECT",
		Statements5("MQTT-3.1.0-2"), Catches("v5-second-connect-swallowed"), func(ctx SpecContext) {
			r := f.Raw5(ctx, "twice")
			p := ConnectPacket5()
			Expect(r.Connect(p)).Error().NotTo(HaveOccurred())
			Expect(r.Send(p)).To(Succeed())
			Expect(r.ExpectClosed(AckTimeout())).To(Succeed(), "the broker kept a connection open after a second CONNECT")
		})

	ConformanceIt("refuses and closes a 5.0 CONNECT with another protocol name or the reserved flag set, and accepts a well-formed one with CONNACK 0x00 and reserved flags 0",
		Statements5("MQTT-3.1.2-1", "MQTT-3.1.2-3", "MQTT-3.1.4-1", "MQTT-3.1.4-5", "MQTT-3.2.0-1", "MQTT-3.2.0-2", "MQTT-3.2.2-1"),
		Catches("v5-connect-checks-repaired", "v5-connack-twice"), func(ctx SpecContext) {
			refused := func(name string, p wire.Packet, raw []byte) {
				GinkgoHelper()
				r := f.Raw5(ctx, name)
				if raw != nil {
					Expect(r.Write(raw)).To(Succeed())
				} else {
					Expect(r.Send(p)).To(Succeed())
				}
				seen, closed := r.ReadUntilClosed(AckTimeout())
				Expect(closed).To(BeTrue(), "the broker kept open the connection of a CONNECT with %s", name)
				for _, q := range seen {
					// a broker may refuse in the 3.1.1 format, two bytes with
					// 0x01 unacceptable protocol version: it then processes the
					// CONNECT by another specification, as MQTT-3.1.2-1 lets it
					v311Refusal := q.Remaining == 2 && q.ReasonCode == 0x01
					if q.Type == wire.CONNACK && !v311Refusal {
						Expect(q.ReasonCode).To(BeNumerically(">=", 0x80), "the broker accepted a CONNECT with %s (CONNACK 0x%02X)", name, q.ReasonCode)
					}
				}
			}
			named := ConnectPacket5()
			named.ProtocolName = "MQTX"
			refused("protocol name MQTX", named, nil)

			reserved := wire.Encode(ConnectPacket5())
			// the Connect Flags byte follows the fixed header, the protocol
			// name (2+4 bytes) and the protocol level
			h, _, err := wire.ParseHeader(reserved)
			Expect(err).NotTo(HaveOccurred())
			reserved[h.Len+7] |= 0x01
			refused("the reserved flag set", wire.Packet{}, reserved)

			r := f.Raw5(ctx, "well-formed")
			Expect(r.Send(ConnectPacket5())).To(Succeed())
			first, err := r.Read(AckTimeout())
			Expect(err).NotTo(HaveOccurred(), "no CONNACK for a well-formed CONNECT")
			Expect(first.Type).To(Equal(wire.CONNACK), "the broker's first packet was %s, not CONNACK", first.Type)
			Expect(first.ReasonCode).To(BeZero(), "the broker refused a well-formed CONNECT: CONNACK 0x%02X", first.ReasonCode)
			Expect(first.Flags).To(BeZero())
			Expect(r.Send(wire.PingReq())).To(Succeed())
			next, err := r.Read(AckTimeout())
			Expect(err).NotTo(HaveOccurred(), "no PINGRESP for a PINGREQ after the CONNACK")
			Expect(next.Type).To(Equal(wire.PINGRESP), "after its CONNACK the broker sent %s where the PINGRESP was due", next)
		})
})

// Request Problem Information and Request Response Information 0.
var _ = Describe("MQTT 5.0 request problem information", Label("properties"), func() {
	f := New()

	ConformanceIt("sends no Reason String or User Property on acknowledgements, and no Response Information in CONNACK, to a client that asked for neither",
		Statements5("MQTT-3.1.2-29", "MQTT-3.1.2-28"), Catches("v5-problem-information-forced", "v5-response-information-unasked"), func(ctx SpecContext) {
			quiet := []Option5{ConnectProperty(wire.PropRequestProblemInformation, byte(0)), ConnectProperty(wire.PropRequestResponseInformation, byte(0))}
			heard, unheard := f.Topic("heard"), f.Topic("unheard")
			c := f.Client5(ctx, "quiet", quiet...)
			Expect(Props(c.Connack().Properties).Has(wire.PropResponseInformation)).To(BeFalse(), "the CONNACK carried Response Information the client did not ask for")
			c.MustSubscribe(ctx, heard, 2, 0)
			// acknowledgements of every kind, some saying No matching
			// subscribers: the places a broker explains itself
			for _, qos := range []byte{1, 2} {
				for _, topic := range []string{heard, unheard} {
					c.MustPublish(ctx, topic, qos, topic[len(topic)-5:]+string('0'+qos), UserProp("k", "v"))
				}
			}
			Expect(c.Unsubscribe(ctx, nil, heard, unheard)).Error().NotTo(HaveOccurred())
			Expect(c.Ping(ctx)).To(Succeed())
			for _, in := range c.Packets() {
				switch in.Packet.Type {
				case wire.PUBLISH, wire.CONNACK, wire.DISCONNECT:
					continue
				}
				ps := Props(in.Packet.Properties)
				Expect(ps.Has(wire.PropReasonString)).To(BeFalse(), "the broker sent a %s with a Reason String to a client that set Request Problem Information to 0", in.Packet.Type)
				Expect(ps.Has(wire.PropUserProperty)).To(BeFalse(), "the broker sent a %s with a User Property to a client that set Request Problem Information to 0", in.Packet.Type)
			}
		})
})

// Enhanced authentication the client did not ask for.
var _ = Describe("MQTT 5.0 no authentication method", Label("auth"), func() {
	f := New()

	ConformanceIt("sends no AUTH and no Authentication Method to a client whose CONNECT named none",
		Statements5("MQTT-4.12.0-6"), Catches("v5-auth-method-unasked"), func(ctx SpecContext) {
			c := f.Client5(ctx, "plain")
			c.MustSubscribe(ctx, f.Topic("auth"), 1, 0)
			Expect(c.Ping(ctx)).To(Succeed())
			for _, in := range c.Packets() {
				Expect(in.Packet.Type).NotTo(Equal(wire.AUTH), "the broker sent AUTH to a client that named no Authentication Method")
				Expect(Props(in.Packet.Properties).Has(wire.PropAuthenticationMethod)).To(BeFalse(), "the broker's %s carried an Authentication Method the client never named", in.Packet.Type)
			}
		})
})
