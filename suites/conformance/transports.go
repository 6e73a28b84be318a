package conformance

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// MQTT over the broker's other transports: TLS, mutual TLS, websockets and
// an endpoint that checks credentials (MQTT_BROKER_TLS, MQTT_BROKER_MTLS,
// MQTT_BROKER_WS, MQTT_BROKER_WSS, MQTT_AUTH_BROKER; the embedded broker
// offers them all). Clients still get their own links: TLS and websockets
// end in the harness, so cuts and traces work on every transport. A spec
// whose endpoint is not configured reports "not supported".

// refusalWait bounds how long the broker may take to refuse a client and
// close its connection.
const refusalWait = 3 * time.Second

// events renders a link's connection events for failure messages.
func events(l *proxy.Link) string {
	ev := Events(l)
	if len(ev) == 0 {
		return "(the link recorded no event)"
	}
	return "link events:\n  " + strings.Join(ev, "\n  ")
}

// accepted says whether a CONNACK that accepts the connection is among ps.
func accepted(ps []wire.Packet) bool {
	for _, p := range ps {
		if p.Type == wire.CONNACK && p.ReasonCode == 0 {
			return true
		}
	}
	return false
}

var _ = Describe("MQTT over every transport", Label("transports"), func() {
	f := New()

	DescribeTable("a QoS 1 message reaches the subscriber, also when the publisher's link is cut 5 bytes into the PUBLISH: the publisher reconnects and resends it, and the trace shows the cut and the resent PUBLISH",
		func(ctx SpecContext, e Endpoint) {
			topic := f.Topic("telemetry")
			sub := f.SubscriberVia(ctx, e, "sub", topic, 1)
			pub := f.ClientVia(ctx, e, "pub", Persistent(), AutoReconnect())

			Expect(pub.Publish(ctx, topic, 1, "before-cut")).To(Succeed(), "the publisher never got its PUBACK over the %s", e)
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("before-cut"), "the message never reached the subscriber over the %s", e)

			cut := pub.Link.CutInto(proxy.ToBroker, proxy.Publish(1).On(topic), 5)
			Expect(pub.Publish(ctx, topic, 1, "across-cut")).To(Succeed(), "the publisher never got its PUBACK after the cut")
			Expect(cut).To(HaveFired())
			Expect(pub.Connections()).To(BeNumerically(">=", 2), "the publisher did not reconnect after the cut")
			Eventually(sub.Payloads).WithContext(ctx).Should(ContainElement("across-cut"),
				"the QoS 1 message cut on its way and resent after the reconnect never reached the subscriber")
			Expect(sub.Received()).To(HaveEach(HaveField("QoS", byte(1))), "a QoS 1 message to a QoS 1 subscription must arrive at QoS 1")

			// The links saw plain MQTT: the resent PUBLISH (DUP=1) went to the
			// broker on the publisher's new connection, and both messages came
			// to the subscriber.
			Expect(pub.Link).To(HaveCrossed(proxy.ToBroker, proxy.Publish(1).On(topic).Dup()))
			Expect(pub.Link).To(HaveCrossed(proxy.FromBroker, proxy.PUBACK))
			Expect(sub.Link).To(HaveCrossed(proxy.FromBroker, proxy.Publish(1).On(topic)))
			Expect(f.TraceText()).To(ContainSubstring("FAULT"), "the trace must show the cut")
		},
		ConformanceEntry("over ssl://, the broker's certificate checked against MQTT_CA_FILE", TLSEndpoint,
			Statements("MQTT-4.3.2-2", "MQTT-4.5.0-1"), Label("tls"),
			Catches("drop-retransmitted-publish", "qos1-as-qos0", "tls-certificate-from-other-ca", "tls-port-plaintext")),
		ConformanceEntry("over mutual TLS, with the client's certificate", MutualTLSEndpoint,
			Statements("MQTT-4.3.2-2", "MQTT-4.5.0-1"), Label("tls", "mtls"),
			Catches("drop-retransmitted-publish", "qos1-as-qos0", "tls-certificate-from-other-ca")),
		ConformanceEntry("over ws://, in binary websocket frames", WSEndpoint,
			Statements("MQTT-4.3.2-2", "MQTT-4.5.0-1", "MQTT-6.0.0-1"), Label("websocket"),
			Catches("drop-retransmitted-publish", "qos1-as-qos0", "ws-text-frames")),
		ConformanceEntry("over wss://, in binary websocket frames, the broker's certificate checked", WSSEndpoint,
			Statements("MQTT-4.3.2-2", "MQTT-4.5.0-1", "MQTT-6.0.0-1"), Label("websocket", "tls"),
			Catches("drop-retransmitted-publish", "qos1-as-qos0", "ws-text-frames", "tls-certificate-from-other-ca")),
		ConformanceEntry("on the authenticating endpoint, with the right user name and password", AuthEndpoint,
			Statements("MQTT-3.1.4-4", "MQTT-4.3.2-2", "MQTT-4.5.0-1"), Label("auth"),
			Catches("drop-retransmitted-publish", "qos1-as-qos0")),
	)
})

var _ = Describe("TLS", Label("transports", "tls"), func() {
	f := New()

	// MQTT 3.1.1 leaves security to the transport (chapter 5, not
	// normative): no statement id applies.
	ConformanceIt("refuses a client that does not trust the broker's certificate, and the failure names the certificate problem",
		Catches("tls-port-plaintext"), func(ctx SpecContext) {
			r := f.RawVia(ctx, TLSEndpoint.Untrusting(), "client")
			_ = r.Send(ConnectPacketVia(TLSEndpoint)) // the link may already have given up

			seen, closed := r.ReadUntilClosed(refusalWait)
			Expect(seen).To(BeEmpty(), "a client that does not trust the broker's certificate must get no MQTT through; it got %s\n%s", PacketList(seen), events(r.Link))
			Expect(closed).To(BeTrue(), "the connection of a client that does not trust the broker's certificate must end\n%s", events(r.Link))
			Expect(Events(r.Link)).To(ContainElement(MatchRegexp(`x509: .*certificate|certificate signed by unknown authority`)),
				"the refusal must name the certificate problem (e.g. \"x509: certificate signed by unknown authority\")")
		})

	ConformanceIt("refuses a client without a client certificate on the mutual-TLS endpoint, and acts on nothing it sent",
		Label("mtls"), Catches("mtls-client-cert-optional"), func(ctx SpecContext) {
			topic, willTopic := f.Topic("from-nocert"), f.Topic("will")
			watcher := f.SubscriberVia(ctx, MutualTLSEndpoint, "watcher", f.TopicRoot()+"/#", 1)
			r := f.RawVia(ctx, MutualTLSEndpoint.WithoutClientCertificate(), "nocert")
			connect := ConnectPacketVia(MutualTLSEndpoint)
			connect.Will = &wire.Will{Topic: willTopic, QoS: 1, Payload: []byte("nocert-will")}
			publish := wire.Publish(topic, 0, 0, "from-nocert")
			_ = r.Write(append(wire.Encode(connect), wire.Encode(publish)...))

			seen, closed := r.ReadUntilClosed(refusalWait)
			Expect(accepted(seen)).To(BeFalse(), "the mutual-TLS endpoint accepted a client without a certificate: %s\n%s", PacketList(seen), events(r.Link))
			Expect(closed).To(BeTrue(), "the connection of a client without a certificate must end on the mutual-TLS endpoint\n%s", events(r.Link))

			pub := f.ClientVia(ctx, MutualTLSEndpoint, "pub")
			Expect(pub.Publish(ctx, topic, 1, "marker")).To(Succeed())
			Eventually(watcher.Payloads).WithContext(ctx).Should(ContainElement("marker"))
			Consistently(watcher.Payloads).WithContext(ctx).ShouldNot(ContainElement(BeElementOf("from-nocert", "nocert-will")),
				"the broker acted on what a client without a certificate sent")
		})
})

var _ = Describe("The authenticating endpoint", Label("transports", "auth"), func() {
	f := New()

	DescribeTable("refuses a CONNECT with bad credentials with CONNACK 0x04 or 0x05 and Session Present 0, closes the connection, and acts on nothing the client sent after it",
		func(ctx SpecContext, credentials func(user, password string) (string, *string)) {
			user, password := AuthEndpoint.Credentials()
			topic, willTopic := f.Topic("from-intruder"), f.Topic("will")
			watcher := f.SubscriberVia(ctx, AuthEndpoint, "watcher", f.TopicRoot()+"/#", 1)

			r := f.RawVia(ctx, AuthEndpoint, "intruder")
			connect := ConnectPacket()
			connect.Username, connect.HasUsername, connect.Password, connect.HasPassword = "", false, nil, false
			if u, p := credentials(user, password); u != "" {
				connect.Username, connect.HasUsername = u, true
				if p != nil {
					connect.Password, connect.HasPassword = []byte(*p), true
				}
			}
			connect.Will = &wire.Will{Topic: willTopic, QoS: 1, Payload: []byte("intruder-will")}
			publish := wire.Publish(topic, 0, 0, "from-intruder")
			Expect(r.Write(append(wire.Encode(connect), wire.Encode(publish)...))).To(Succeed())

			seen, closed := r.ReadUntilClosed(refusalWait)
			Expect(seen).To(HaveLen(1), "the broker must answer with exactly one CONNACK; it sent %s", PacketList(seen))
			ack := seen[0]
			Expect(ack.Type).To(Equal(wire.CONNACK), "the broker must answer with CONNACK: %v", ack)
			Expect(ack.ReasonCode).To(BeElementOf(byte(0x04), byte(0x05)),
				"the CONNACK must refuse the connection: 0x04 (bad user name or password) or 0x05 (not authorized); got %v", ack)
			Expect(ack.SessionPresent).To(BeFalse(), "a CONNACK with a non-zero return code must have Session Present 0: %v", ack)
			Expect(closed).To(BeTrue(), "the broker must close the connection after its refusing CONNACK; it was still open after %v", refusalWait)

			pub := f.ClientVia(ctx, AuthEndpoint, "pub")
			Expect(pub.Publish(ctx, topic, 1, "marker")).To(Succeed())
			Eventually(watcher.Payloads).WithContext(ctx).Should(ContainElement("marker"))
			Consistently(watcher.Payloads).WithContext(ctx).ShouldNot(ContainElement(BeElementOf("from-intruder", "intruder-will")),
				"the broker acted on what a refused client sent after its CONNECT")
		},
		ConformanceEntry("a wrong password", func(user, password string) (string, *string) {
			wrong := "wrong-" + password
			return user, &wrong
		}, Statements("MQTT-3.2.2-4", "MQTT-3.2.2-5", "MQTT-3.1.4-5"), Catches("auth-ignores-password")),
		ConformanceEntry("the right user name and no password", func(user, _ string) (string, *string) {
			return user, nil
		}, Statements("MQTT-3.2.2-4", "MQTT-3.2.2-5", "MQTT-3.1.4-5"), Catches("auth-ignores-password")),
		ConformanceEntry("no user name and no password, where the endpoint requires them", func(string, string) (string, *string) {
			if AuthAllowsAnonymous() {
				Unsupported(fmt.Sprintf("%s=1: the authenticating endpoint lets clients without credentials in", EnvAuthAnonymous))
			}
			return "", nil
		}, Statements("MQTT-3.2.2-4", "MQTT-3.2.2-5", "MQTT-3.1.4-5"), Catches("auth-allows-anonymous")),
	)
})

var _ = Describe("MQTT over websockets", Label("transports", "websocket"), func() {
	f := New()

	DescribeTable(`selects the "mqtt" subprotocol in its websocket handshake`,
		func(ctx SpecContext, e Endpoint) {
			w := f.Websocket(ctx, e, "mqtt")
			Expect(w.Subprotocol).To(Equal("mqtt"), `the broker must select the "mqtt" subprotocol the client offered; its handshake response selected %q`, w.Subprotocol)
			_, err := w.Connect(ConnectPacketVia(e))
			Expect(err).NotTo(HaveOccurred(), "MQTT over the websocket")
		},
		ConformanceEntry("over ws://", WSEndpoint, Statements("MQTT-6.0.0-4"), Catches("ws-no-subprotocol")),
		ConformanceEntry("over wss://", WSSEndpoint, Statements("MQTT-6.0.0-4"), Label("tls"), Catches("ws-no-subprotocol")),
	)

	ConformanceIt("closes the connection of a client that sends an MQTT packet in a text frame",
		Statements("MQTT-6.0.0-1"), Catches("ws-accepts-text-frames"), func(ctx SpecContext) {
			w := f.Websocket(ctx, WSEndpoint, "mqtt")
			_, err := w.Connect(ConnectPacketVia(WSEndpoint))
			Expect(err).NotTo(HaveOccurred(), "the CONNECT in a binary frame was not accepted")

			Expect(w.WriteText(wire.Encode(wire.PingReq()))).To(Succeed())

			seen, closed := w.ReadUntilClosed(refusalWait)
			Expect(closed).To(BeTrue(), "the broker must close the connection after a text frame; after %v it was still open (it sent %s)", refusalWait, PacketList(seen))
			for _, p := range seen {
				Expect(p.Type).NotTo(Equal(wire.PINGRESP), "the broker answered a PINGREQ sent in a text frame: it took the frame as MQTT data")
			}
		})

	ConformanceIt("reads MQTT packets split across websocket frames, and several packets in one frame",
		Statements("MQTT-6.0.0-2"), Catches("ws-one-packet-per-frame"), func(ctx SpecContext) {
			w := f.Websocket(ctx, WSEndpoint, "mqtt")
			topic := f.Topic("frames")

			// The CONNECT in 3-byte frames.
			connect := wire.Encode(ConnectPacketVia(WSEndpoint))
			for i := 0; i < len(connect); i += 3 {
				Expect(w.Write(connect[i:min(i+3, len(connect))])).To(Succeed())
			}
			ack, err := w.Expect(wire.CONNACK, 5*time.Second)
			Expect(err).NotTo(HaveOccurred(), "no CONNACK for a CONNECT sent in 3-byte frames")
			Expect(ack.ReasonCode).To(BeZero(), "the CONNECT sent in 3-byte frames was refused: %v", ack)

			// SUBSCRIBE and PINGREQ in one frame.
			subscribe := wire.Encode(wire.Subscribe(1, wire.Sub(topic, 1)))
			ping := wire.Encode(wire.PingReq())
			Expect(w.Write(append(subscribe, ping...))).To(Succeed())
			sawSuback, sawPing := false, false
			for !(sawSuback && sawPing) {
				p, err := w.Read(5 * time.Second)
				Expect(err).NotTo(HaveOccurred(), "SUBSCRIBE and PINGREQ in one frame: SUBACK seen %v, PINGRESP seen %v", sawSuback, sawPing)
				sawSuback = sawSuback || p.Type == wire.SUBACK
				sawPing = sawPing || p.Type == wire.PINGRESP
			}

			// A PUBLISH split across two frames, the second one also
			// carrying a whole PUBLISH.
			one := wire.Encode(wire.Publish(topic, 1, 2, "split-across-frames"))
			two := wire.Encode(wire.Publish(topic, 1, 3, "second-in-frame"))
			half := len(one) / 2
			Expect(w.Write(one[:half])).To(Succeed())
			Expect(w.Write(append(append([]byte(nil), one[half:]...), two...))).To(Succeed())

			acked, got := map[uint16]bool{}, map[string]bool{}
			for !(acked[2] && acked[3] && got["split-across-frames"] && got["second-in-frame"]) {
				p, err := w.Read(5 * time.Second)
				Expect(err).NotTo(HaveOccurred(), "waiting for the PUBACKs of ids 2 and 3 and both messages back: acked %v, received %v", acked, got)
				switch p.Type {
				case wire.PUBACK:
					acked[p.PacketID] = true
				case wire.PUBLISH:
					got[string(p.Payload)] = true
					if p.QoS == 1 {
						Expect(w.Send(wire.PubAck(p.PacketID))).To(Succeed())
					}
				}
			}
		})
})
