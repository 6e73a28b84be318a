package conformance5

import (
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Enhanced authentication (AUTH) and refused CONNECTs. The method is
// FAULTLINE_AUTH_METHOD (the embedded broker's faultline-challenge unless
// set); a broker that refuses it outright makes the specs that need a
// supported method "not supported", with its CONNACK as evidence.

// closeWait bounds how long a broker may take to close a connection it
// refused.
const closeWait = 3 * time.Second

// rightAnswer answers the method's challenges as the method wants.
func rightAnswer(method string) func([]byte) []byte {
	return func(challenge []byte) []byte { return AuthAnswer5(method, challenge) }
}

// wrongAnswer is never the method's answer: the right one with a byte
// added.
func wrongAnswer(method string) func([]byte) []byte {
	return func(challenge []byte) []byte { return append(AuthAnswer5(method, challenge), '!') }
}

// authenticated connects a raw 5.0 connection with the run's method,
// answering rightly; the spec is "not supported" when the broker refuses
// the method outright, and fails when it does not accept the client.
func authenticated(ctx SpecContext, f *Framework, name string) (*Raw, AuthExchange5) {
	GinkgoHelper()
	method, data := AuthMethod5()
	r := f.Raw5(ctx, name)
	x, err := r.Authenticate5(AuthConnect5(method, data), rightAnswer(method))
	Expect(err).NotTo(HaveOccurred())
	RequireAuthMethod5(x)
	Expect(x.Connack.Type).To(Equal(wire.CONNACK), "the broker did not answer the authentication: %s", x)
	Expect(x.Connack.ReasonCode).To(BeZero(), "the broker refused a client that answered its challenges rightly: %s", x)
	return r, x
}

// actedOnNothing checks that payloads, sent to topic on a connection the
// broker refused, neither reached watcher (subscribed to topic before)
// nor stayed retained for a new subscriber.
func actedOnNothing(ctx SpecContext, f *Framework, watcher *Client5, topic string, payloads ...string) {
	GinkgoHelper()
	pub := f.Client5(ctx, "marker")
	pub.MustPublish(ctx, topic, 1, "marker")
	Eventually(watcher.Payloads).WithContext(ctx).Should(ContainElement("marker"))
	Consistently(watcher.Payloads).WithContext(ctx).ShouldNot(ContainElement(BeElementOf(payloads)),
		"the broker published what a refused client sent after its CONNECT")
	newcomer := f.Client5(ctx, "newcomer")
	newcomer.MustSubscribe(ctx, topic, 1, 0)
	pub.MustPublish(ctx, topic, 1, "marker-2")
	Eventually(newcomer.Payloads).WithContext(ctx).Should(ContainElement("marker-2"))
	Expect(newcomer.Payloads()).To(Equal([]string{"marker-2"}),
		"a new subscriber got a retained message the broker kept from a refused client (it must act on nothing sent after a CONNECT it refuses)")
}

// refusal reads what the broker sends on a connection it should refuse:
// it checks that any CONNACK refuses (0x80 or above) and that the
// connection closes within closeWait.
func refusal(r *Raw, what string) []wire.Packet {
	GinkgoHelper()
	seen, closed := r.ReadUntilClosed(closeWait)
	for _, p := range OfType(seen, wire.CONNACK) {
		Expect(p.ReasonCode).To(BeNumerically(">=", 0x80), "the broker accepted %s: %s", what, p)
	}
	Expect(closed).To(BeTrue(), "the broker kept the connection of %s open for %v after refusing it (it sent %s)", what, closeWait, PacketList(seen))
	return seen
}

// methodOf is the Authentication Method a packet names ("" for none).
func methodOf(p wire.Packet) string {
	m, _ := Props(p.Properties).Str(wire.PropAuthenticationMethod)
	return m
}

var _ = Describe("MQTT 5.0 enhanced authentication", Label("auth"), func() {
	f := New()

	ConformanceIt("refuses a CONNECT naming an Authentication Method it does not support, with CONNACK 0x80 or above if any, and closes the connection",
		Statements5("MQTT-4.12.0-1"), Catches("v5-auth-unknown-method-accepted"), func(ctx SpecContext) {
			r := f.Raw5(ctx, "unknown-method")
			method := "faultline-no-such-method"
			x, err := r.Authenticate5(AuthConnect5(method, []byte("data")), func([]byte) []byte { return []byte("data") })
			Expect(err).NotTo(HaveOccurred())
			if x.Connack.Type == wire.CONNACK {
				Expect(x.Connack.ReasonCode).To(BeNumerically(">=", 0x80), "the broker accepted Authentication Method %q, which it cannot support: %s", method, x)
				AddReportEntry("refusal", x.String())
			}
			Expect(r.ExpectClosed(closeWait)).To(Succeed(), "the broker kept open the connection of a CONNECT naming an unsupported Authentication Method")
		})

	ConformanceIt("asks for more authentication data with AUTH 0x18, names the client's method in every AUTH and in the accepting CONNACK, and re-authenticates the client likewise",
		Statements5("MQTT-4.12.0-2", "MQTT-4.12.0-5"), Catches("v5-auth-continue-code-wrong", "v5-auth-method-renamed"), func(ctx SpecContext) {
			method, data := AuthMethod5()
			r := f.Raw5(ctx, "auth")
			x, err := r.Authenticate5(AuthConnect5(method, data), rightAnswer(method))
			RequireAuthMethod5(x)
			for _, a := range x.Challenges {
				Expect(a.ReasonCode).To(Equal(byte(0x18)), "the broker's AUTH before its CONNACK asks for more data, so it must carry 0x18 (Continue authentication): %s", x)
				Expect(methodOf(a)).To(Equal(method), "the broker's AUTH must name the client's Authentication Method: %s", x)
			}
			Expect(err).NotTo(HaveOccurred())
			Expect(x.Connack.ReasonCode).To(BeZero(), "the broker refused a client that answered its challenges rightly: %s", x)
			Expect(methodOf(x.Connack)).To(Equal(method), "the accepting CONNACK must name the client's Authentication Method: %s", x)

			By("a Client5 authenticated with the method re-authenticates (AUTH 0x19, the challenges answered, AUTH 0x00) and its session keeps working")
			c := f.Client5(ctx, "client", EnhancedAuth5())
			Expect(methodOf(c.Connack())).To(Equal(method), "the accepting CONNACK must name the client's Authentication Method: %s", c.Connack())
			topic := f.Topic("after-reauth")
			c.MustSubscribe(ctx, topic, 1, 0)
			Expect(c.Reauthenticate(ctx)).Error().NotTo(HaveOccurred(), "re-authentication with the right answers")
			c.MustPublish(ctx, topic, 1, "after-reauth")
			Eventually(c.Payloads).WithContext(ctx).Should(ContainElement("after-reauth"), "the session did not keep working after re-authentication")
			for _, in := range c.Packets() {
				if in.Packet.Type != wire.AUTH {
					continue
				}
				Expect(methodOf(in.Packet)).To(Equal(method), "the broker's %s must name the client's Authentication Method", in.Packet)
				Expect(in.Packet.ReasonCode).To(BeElementOf(byte(0x18), byte(0x00)), "the broker's %s: an AUTH asking for more data carries 0x18, the one that ends an authentication 0x00", in.Packet)
			}
		})

	ConformanceIt("refuses a client that answers its challenge wrongly, with CONNACK 0x80 or above if any, closes the connection, and acts on nothing the client sent after it",
		Statements5("MQTT-4.12.0-4", "MQTT-3.1.4-2", "MQTT-3.1.4-6"), Catches("v5-auth-answer-repaired"), func(ctx SpecContext) {
			method, data := AuthMethod5()
			authenticated(ctx, f, "right") // the method is supported
			topic := f.Topic("from-wrong")
			watcher := f.Client5(ctx, "watcher")
			watcher.MustSubscribe(ctx, topic, 1, 0)

			publish := wire.Encode(wire.Publish(topic, 0, 0, "from-wrong", wire.Retained(), wire.Version(wire.V5)))
			r := f.Raw5(ctx, "wrong")
			Expect(r.Send(AuthConnect5(method, append(slices.Clone(data), '!')))).To(Succeed())
			first, err := r.Read(AckTimeout())
			var seen []wire.Packet
			switch {
			case err != nil:
				Expect(r.ExpectClosed(closeWait)).To(Succeed())
			case first.Type == wire.AUTH && first.ReasonCode == 0x18:
				// the wrong answer, and behind it, in the same write, a retained PUBLISH
				challenge, _ := Props(first.Properties).Bytes(wire.PropAuthenticationData)
				answer := wire.Encode(AuthPacket5(0x18, method, wrongAnswer(method)(challenge)))
				Expect(r.Write(append(answer, publish...))).To(Succeed())
				seen = refusal(r, "a client that answered the challenge wrongly")
			default:
				seen = append([]wire.Packet{first}, refusal(r, "a CONNECT with wrong authentication data")...)
			}
			Expect(OfType(seen, wire.AUTH)).NotTo(ContainElement(HaveField("ReasonCode", byte(0x00))), "the broker sent AUTH 0x00 (Success) to a wrong answer")
			actedOnNothing(ctx, f, watcher, topic, "from-wrong")
		})

	ConformanceIt("closes the connection of a client whose re-authentication fails, after a DISCONNECT of 0x80 or above if it sends one",
		Statements5("MQTT-4.12.1-2"), Catches("v5-auth-answer-repaired"), func(ctx SpecContext) {
			method, data := AuthMethod5()
			r, _ := authenticated(ctx, f, "reauth")
			Expect(r.Send(AuthPacket5(0x19, method, append(slices.Clone(data), '!')))).To(Succeed())
			var seen []wire.Packet
			for steps := 0; ; steps++ {
				Expect(steps).To(BeNumerically("<", 10), "re-authentication went on for 10 AUTH packets")
				p, err := r.Read(AckTimeout())
				if err != nil {
					break // closed (or silent: ExpectClosed says which)
				}
				seen = append(seen, p)
				if p.Type != wire.AUTH || p.ReasonCode != 0x18 {
					break
				}
				challenge, _ := Props(p.Properties).Bytes(wire.PropAuthenticationData)
				Expect(r.Send(AuthPacket5(0x18, method, wrongAnswer(method)(challenge)))).To(Succeed())
			}
			rest, closed := r.ReadUntilClosed(closeWait)
			seen = append(seen, rest...)
			Expect(closed).To(BeTrue(), "the broker kept the connection open after a failed re-authentication (it sent %s)", PacketList(seen))
			Expect(OfType(seen, wire.AUTH)).NotTo(ContainElement(HaveField("ReasonCode", byte(0x00))), "the broker sent AUTH 0x00 (Success) to a wrong answer: %s", PacketList(seen))
			for _, d := range OfType(seen, wire.DISCONNECT) {
				Expect(d.ReasonCode).To(BeNumerically(">=", 0x80), "the broker ended a failed re-authentication with %s, which is not an error", d)
			}
		})

	ConformanceIt("leaves the Reason String and User Properties out of an AUTH they would push past the client's Maximum Packet Size",
		Statements5("MQTT-3.15.2-2", "MQTT-3.15.2-3"), Catches("v5-auth-explained-past-maximum"), func(ctx SpecContext) {
			_, x := authenticated(ctx, f, "roomy")
			// the sizes of the explanations of the broker's first AUTH
			var explained *wire.Packet
			smallest := 0
			for i, a := range x.Challenges {
				for _, q := range a.Properties {
					if q.ID != wire.PropReasonString && q.ID != wire.PropUserProperty {
						continue
					}
					m := wire.Property{ID: wire.PropAuthenticationMethod, Value: "m"}
					n := len(wire.Encode(wire.Auth(0x18, wire.Props(m, q)))) - len(wire.Encode(wire.Auth(0x18, wire.Props(m))))
					if explained == nil || n < smallest {
						smallest = n
					}
					explained = &x.Challenges[i]
				}
				if explained != nil {
					break
				}
			}
			if explained == nil {
				Unsupported(fmt.Sprintf("the broker's AUTH packets carry no Reason String or User Property, so there is nothing to leave out: %s", x))
			}
			bare := *explained
			bare.Properties = slices.DeleteFunc(slices.Clone(bare.Properties), func(q wire.Property) bool {
				return q.ID == wire.PropReasonString || q.ID == wire.PropUserProperty
			})
			bare.Version = wire.V5
			// room for the AUTH without its explanations, not for any of them
			limit := len(wire.Encode(bare)) + smallest - 1

			method, data := AuthMethod5()
			connect := AuthConnect5(method, data)
			connect.Properties = append(connect.Properties, wire.Property{ID: wire.PropMaximumPacketSize, Value: uint32(limit)})
			r := f.Raw5(ctx, "tight")
			y, err := r.Authenticate5(connect, rightAnswer(method))
			for _, a := range y.Challenges {
				Expect(a.Size()).To(BeNumerically("<=", limit), "the broker sent an AUTH of %d bytes to a client whose Maximum Packet Size is %d: it must leave out its Reason String and User Properties (%s)", a.Size(), limit, a)
			}
			Expect(err).NotTo(HaveOccurred())
			Expect(y.Challenges).NotTo(BeEmpty(), "the broker sent no AUTH to the client with Maximum Packet Size %d, where it sent %d before: %s", limit, len(x.Challenges), y)
			Expect(y.Connack.ReasonCode).To(BeZero(), "the broker did not authenticate the client with Maximum Packet Size %d: %s", limit, y)
		})
})

var _ = Describe("MQTT 5.0 refused CONNECTs", Label("connect"), func() {
	f := New()

	ConformanceIt("refuses a 5.0 CONNECT with a wrong password on the authenticating endpoint, with CONNACK 0x80 or above, closes the connection, and acts on nothing sent after it",
		Statements5("MQTT-3.1.4-2", "MQTT-3.1.4-6"), Label("transports"), Catches("auth-ignores-password", "v5-refused-connect-publish-acted-on"), func(ctx SpecContext) {
			user, password := AuthEndpoint.Credentials()
			topic := f.Topic("from-intruder")
			watcher := f.Client5(ctx, "watcher")
			watcher.MustSubscribe(ctx, topic, 1, 0)

			r := f.Raw5Via(ctx, AuthEndpoint, "intruder")
			connect := ConnectPacket5().With(wire.Login(user, "wrong-"+password))
			publish := wire.Publish(topic, 0, 0, "from-intruder", wire.Retained(), wire.Version(wire.V5))
			Expect(r.Write(append(wire.Encode(connect), wire.Encode(publish)...))).To(Succeed())
			seen := refusal(r, "a CONNECT with a wrong password")
			Expect(OfType(seen, wire.CONNACK)).To(HaveLen(1), "the broker must answer the CONNECT with one CONNACK; it sent %s", PacketList(seen))
			actedOnNothing(ctx, f, watcher, topic, "from-intruder")
		})

	ConformanceIt("closes the connection of a client whose ClientId it rejects, after CONNACK 0x80 or above (0x85) if it sends one",
		Statements5("MQTT-3.1.3-8"), Catches("v5-client-id-refusal-left-open"), func(ctx SpecContext) {
			// ClientIds some brokers reject: none of them is one a broker
			// must accept [MQTT-3.1.3-5]
			base := ConnectPacket5()
			resume := base
			resume.ClientID, resume.CleanStart = "", false
			long := base
			long.ClientID = (base.ClientID + strings.Repeat("L", 1024))[:1024]
			odd := base
			odd.ClientID = base.ClientID + "/#+ \u00e9"
			var accepted []string
			rejected := 0
			for _, c := range []struct {
				name string
				p    wire.Packet
			}{{"an empty ClientId with Clean Start 0", resume}, {"a ClientId of 1024 letters and digits", long}, {`a ClientId with "/#+ é"`, odd}} {
				r := f.Raw5(ctx, "candidate")
				Expect(r.Send(c.p)).To(Succeed())
				first, err := r.Read(AckTimeout())
				if err == nil && first.Type == wire.CONNACK && first.ReasonCode == 0 {
					accepted = append(accepted, fmt.Sprintf("%s (%s)", c.name, first))
					Expect(r.Send(wire.Disconnect(wire.Version(wire.V5)))).To(Succeed())
					continue
				}
				rejected++
				var seen []wire.Packet
				if err == nil {
					seen = append(seen, first)
					Expect(first.Type).To(Equal(wire.CONNACK), "the broker answered a CONNECT with %s by %s", c.name, first)
					Expect(first.ReasonCode).To(BeNumerically(">=", 0x80), "the broker answered a CONNECT with %s by %s", c.name, first)
				}
				more, closed := r.ReadUntilClosed(closeWait)
				seen = append(seen, more...)
				Expect(closed).To(BeTrue(), "the broker rejected %s but kept the connection open for %v (it sent %s)", c.name, closeWait, PacketList(seen))
				AddReportEntry("rejected", fmt.Sprintf("%s: %s, then closed", c.name, PacketList(seen)))
			}
			if rejected == 0 {
				Unsupported("the broker rejected none of the ClientIds tried, so no rejection could be checked: it accepted " + strings.Join(accepted, "; "))
			}
		})
})

var _ = Describe("MQTT 5.0 over websockets", Label("transports", "websocket"), func() {
	f := New()

	ConformanceIt(`selects the "mqtt" subprotocol in its websocket handshake and speaks MQTT 5.0 over it`,
		Statements5("MQTT-6.0.0-4"), Catches("ws-no-subprotocol"), func(ctx SpecContext) {
			w := f.Websocket5(ctx, WSEndpoint, "mqtt")
			Expect(w.Subprotocol).To(Equal("mqtt"), `the broker must select the "mqtt" subprotocol the client offered; its handshake response selected %q`, w.Subprotocol)
			Expect(w.Connect(ConnectPacket5())).Error().NotTo(HaveOccurred(), "MQTT 5.0 over the websocket")
		})

	ConformanceIt("closes the connection of a client that sends an MQTT 5.0 packet in a text frame",
		Statements5("MQTT-6.0.0-1"), Catches("ws-accepts-text-frames"), func(ctx SpecContext) {
			w := f.Websocket5(ctx, WSEndpoint, "mqtt")
			Expect(w.Connect(ConnectPacket5())).Error().NotTo(HaveOccurred(), "the CONNECT in a binary frame was not accepted")
			Expect(w.WriteText(wire.Encode(wire.PingReq()))).To(Succeed())
			seen, closed := w.ReadUntilClosed(closeWait)
			Expect(closed).To(BeTrue(), "the broker must close the connection after a text frame; after %v it was still open (it sent %s)", closeWait, PacketList(seen))
			Expect(OfType(seen, wire.PINGRESP)).To(BeEmpty(), "the broker answered a PINGREQ sent in a text frame: it took the frame as MQTT data")
		})

	ConformanceIt("reads MQTT 5.0 packets split across websocket frames, and several packets in one frame",
		Statements5("MQTT-6.0.0-2"), Catches("ws-one-packet-per-frame"), func(ctx SpecContext) {
			w := f.Websocket5(ctx, WSEndpoint, "mqtt")
			topic := f.Topic("frames")

			connect := wire.Encode(ConnectPacket5())
			for i := 0; i < len(connect); i += 3 {
				Expect(w.Write(connect[i:min(i+3, len(connect))])).To(Succeed())
			}
			ack, err := w.Expect(wire.CONNACK, AckTimeout())
			Expect(err).NotTo(HaveOccurred(), "no CONNACK for a CONNECT sent in 3-byte frames")
			Expect(ack.ReasonCode).To(BeZero(), "the CONNECT sent in 3-byte frames was refused: %v", ack)

			subscribe := wire.Encode(wire.Subscribe(1, wire.Sub(topic, 1)).With(wire.Version(wire.V5)))
			ping := wire.Encode(wire.PingReq())
			Expect(w.Write(append(subscribe, ping...))).To(Succeed())
			got, err := w.ReadAcking(AckTimeout(), func(ps []wire.Packet) bool {
				return len(OfType(ps, wire.SUBACK)) > 0 && len(OfType(ps, wire.PINGRESP)) > 0
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(OfType(got, wire.SUBACK)).NotTo(BeEmpty(), "SUBSCRIBE and PINGREQ in one frame: no SUBACK (got %s)", PacketList(got))
			Expect(OfType(got, wire.PINGRESP)).NotTo(BeEmpty(), "SUBSCRIBE and PINGREQ in one frame: no PINGRESP (got %s)", PacketList(got))

			one := wire.Encode(wire.Publish(topic, 1, 2, "split-across-frames", wire.Version(wire.V5)))
			two := wire.Encode(wire.Publish(topic, 1, 3, "second-in-frame", wire.Version(wire.V5)))
			half := len(one) / 2
			Expect(w.Write(one[:half])).To(Succeed())
			Expect(w.Write(append(slices.Clone(one[half:]), two...))).To(Succeed())
			complete := func(ps []wire.Packet) bool {
				acked, payloads := map[uint16]bool{}, map[string]bool{}
				for _, p := range ps {
					switch p.Type {
					case wire.PUBACK:
						acked[p.PacketID] = true
					case wire.PUBLISH:
						payloads[string(p.Payload)] = true
					}
				}
				return acked[2] && acked[3] && payloads["split-across-frames"] && payloads["second-in-frame"]
			}
			got, err = w.ReadAcking(AckTimeout(), complete)
			Expect(err).NotTo(HaveOccurred())
			Expect(complete(got)).To(BeTrue(), "a PUBLISH split across two frames, the second frame carrying another: both must be acknowledged (ids 2, 3) and delivered; got %s", PacketList(got))
		})
})
