package conformance

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Last Will: a client announces a will in CONNECT; a watcher subscribed to
// the will's topic sees whether, how and how often the broker publishes it.
var _ = Describe("Last Will", Label("will"), func() {
	f := New()

	// willClient opens a raw connection announcing a will, with keepalive
	// ka. clean=false makes a CleanSession=0 session (ended when the spec
	// ends).
	willClient := func(ctx SpecContext, name, id string, w *wire.Will, ka time.Duration, clean bool) *Raw {
		GinkgoHelper()
		r := f.Raw(ctx, name)
		p := ConnectPacket()
		if id != "" {
			p.ClientID = id
		}
		p.Will, p.KeepAlive, p.CleanStart = w, uint16(ka/time.Second), clean
		if !clean {
			f.PersistentSession(p.ClientID)
		}
		_, err := r.Connect(p)
		Expect(err).NotTo(HaveOccurred(), "the broker did not accept a valid CONNECT: %s", p)
		return r
	}
	will := func(topic, payload string, qos byte, retain bool) *wire.Will {
		return &wire.Will{Topic: topic, Payload: []byte(payload), QoS: qos, Retain: retain}
	}
	// theWill matches the will's delivery.
	theWill := func(payload string, qos byte) OmegaMatcher {
		return SatisfyAll(HaveField("Payload", payload), HaveField("QoS", qos))
	}

	DescribeTable("publishes a client's will when its connection ends without DISCONNECT",
		func(ctx SpecContext, ka time.Duration, end func(ctx SpecContext, r *Raw)) {
			topic := f.Topic("will")
			watcher := f.Subscriber(ctx, "watcher", topic, 1)
			r := willClient(ctx, "doomed", "", will(topic, "gone", 1, false), ka, true)

			end(ctx, r)

			Eventually(watcher.Received).WithContext(ctx).Should(ContainElement(theWill("gone", 1)),
				"the will (QoS 1) never reached the watcher, or not at QoS 1")
			Expect(watcher.Received()).To(HaveEach(HaveField("Retain", false)), "a non-retained will arrived with RETAIN 1")
		},
		ConformanceEntry("the link is reset", 30*time.Second, func(_ SpecContext, r *Raw) { r.Link.Cut() },
			Statements("MQTT-3.1.2-8"), Catches("no-will", "will-qos0")),
		ConformanceEntry("the client closes the network connection", 30*time.Second, func(_ SpecContext, r *Raw) { Expect(r.Close()).To(Succeed()) },
			Statements("MQTT-3.1.2-8"), Catches("no-will", "will-qos0")),
		ConformanceEntry("the client goes silent (link blackholed) until the broker ends the connection on its keepalive of 1 s",
			time.Second, func(ctx SpecContext, r *Raw) {
				r.Link.Blackhole()
				// How soon the broker acts is the keepalive specs' business;
				// here it may take up to 10 s.
				Eventually(r.Link).WithContext(ctx).WithTimeout(10*time.Second).Should(BeClosedByTheBroker(),
					"the broker never ended the connection of a client silent beyond its keepalive")
			},
			Statements("MQTT-3.1.2-8"), Catches("no-will", "will-qos0", "ignore-keepalive")),
		ConformanceEntry("the client breaks the protocol (a PUBLISH with QoS 3)", 30*time.Second, func(_ SpecContext, r *Raw) {
			Expect(r.Write(wire.Raw(0x36, wire.AppendString(nil, "bad"), []byte{0, 1}, []byte("x")))).To(Succeed())
			Expect(r.ExpectClosed(2*time.Second)).To(Succeed(), "the broker did not close the connection on a PUBLISH with QoS 3")
		},
			Statements("MQTT-3.1.2-8", "MQTT-4.8.0-1"), Catches("no-will", "will-qos0")),
	)

	DescribeTable("publishes the will at the QoS the client gave it",
		func(ctx SpecContext, qos byte) {
			topic := f.Topic("will")
			watcher := f.Subscriber(ctx, "watcher", topic, max(qos, 1))
			r := willClient(ctx, "doomed", "", will(topic, "gone", qos, false), 30*time.Second, true)

			r.Link.Cut()

			Eventually(watcher.Payloads).WithContext(ctx).Should(ContainElement("gone"), "the will never reached the watcher")
			Expect(watcher.Received()).To(ContainElement(theWill("gone", qos)), "the will was not published at its Will QoS %d", qos)
		},
		ConformanceEntry("Will QoS 0", byte(0), Statements("MQTT-3.1.2-8"), Catches("no-will")),
		ConformanceEntry("Will QoS 1", byte(1), Statements("MQTT-3.1.2-8"), Catches("no-will", "will-qos0")),
		ConformanceEntry("Will QoS 2", byte(2), Statements("MQTT-3.1.2-8"), Catches("no-will", "will-qos0")),
	)

	ConformanceIt("accepts a will whose message is empty, and publishes it",
		Statements("MQTT-3.1.2-8", "MQTT-3.1.4-4"), Catches("no-will"), func(ctx SpecContext) {
			topic := f.Topic("will")
			watcher := f.Subscriber(ctx, "watcher", topic, 1)
			// The Will Message is a sequence of zero or more bytes.
			r := willClient(ctx, "doomed", "", will(topic, "", 1, false), 30*time.Second, true)

			r.Link.Cut()

			Eventually(watcher.Received).WithContext(ctx).Should(ContainElement(theWill("", 1)), "the empty will never reached the watcher")
		})

	ConformanceIt("publishes a will with Will Retain 1 as a retained message: a client that subscribes afterwards receives it with RETAIN 1",
		Statements("MQTT-3.1.2-17", "MQTT-3.3.1-8"), Catches("no-will", "will-not-retained"), func(ctx SpecContext) {
			topic := f.Topic("will")
			f.Retained(topic)
			watcher := f.Subscriber(ctx, "watcher", topic, 1)
			r := willClient(ctx, "doomed", "", will(topic, "gone", 1, true), 30*time.Second, true)

			r.Link.Cut()
			Eventually(watcher.Payloads).WithContext(ctx).Should(ContainElement("gone"), "the will never reached the watcher")

			late := f.Subscriber(ctx, "late", topic, 1)
			Eventually(late.Received).WithContext(ctx).Should(ContainElement(SatisfyAll(HaveField("Payload", "gone"), HaveField("Retain", true))),
				"a client subscribing after the retained will was published did not receive it as a retained message")
		})

	ConformanceIt("publishes a will with Will Retain 0 as a normal message: it is delivered with RETAIN 0 and not kept for later subscribers",
		Statements("MQTT-3.1.2-16"), Catches("will-always-retained"), func(ctx SpecContext) {
			topic := f.Topic("will")
			f.Retained(topic)
			watcher := f.Subscriber(ctx, "watcher", topic, 1)
			r := willClient(ctx, "doomed", "", will(topic, "gone", 1, false), 30*time.Second, true)

			r.Link.Cut()
			Eventually(watcher.Payloads).WithContext(ctx).Should(ContainElement("gone"), "the will never reached the watcher")
			Expect(watcher.Received()).To(HaveEach(HaveField("Retain", false)), "the will reached an established subscription with RETAIN 1")

			late := f.Subscriber(ctx, "late", topic, 1)
			Consistently(late.Payloads).WithContext(ctx).Should(BeEmpty(),
				"a client subscribing after a non-retained will was published received it: the broker retained it")
		})

	DescribeTable("does not publish the will of a client that ends its connection with DISCONNECT",
		func(ctx SpecContext, cutAfterDisconnect bool) {
			topic := f.Topic("will")
			watcher := f.Subscriber(ctx, "watcher", topic, 1)
			c := f.Client(ctx, "leaving", Will(topic, "gone", 1, false))
			var cut *proxy.Fault
			if cutAfterDisconnect {
				cut = c.Link.CutAfter(proxy.ToBroker, proxy.DISCONNECT)
			}

			c.Disconnect()

			Eventually(c.Link).WithContext(ctx).Should(HaveCrossed(proxy.ToBroker, proxy.DISCONNECT), "the client's DISCONNECT never left")
			if cut != nil {
				Eventually(cut).WithContext(ctx).Should(HaveFired())
			}
			Consistently(watcher.Payloads).WithContext(ctx).WithTimeout(500*time.Millisecond).Should(BeEmpty(),
				"the broker published the will of a client that sent DISCONNECT")
		},
		ConformanceEntry("a normal DISCONNECT", false,
			Statements("MQTT-3.1.2-10", "MQTT-3.14.4-3"), Catches("will-after-disconnect")),
		ConformanceEntry("the link reset right after the DISCONNECT", true,
			Statements("MQTT-3.1.2-10", "MQTT-3.14.4-3"), Catches("will-after-disconnect")),
	)

	ConformanceIt("publishes a will once and then forgets it: a later connection of the same client without a will leaves no will behind",
		Statements("MQTT-3.1.2-10", "MQTT-3.1.2-12"), Catches("no-will", "will-kept-in-session"), func(ctx SpecContext) {
			topic := f.Topic("will")
			watcher := f.Subscriber(ctx, "watcher", topic, 1)
			id := ConnectPacket().ClientID // a fresh client id
			first := willClient(ctx, "doomed", id, will(topic, "gone", 1, false), 30*time.Second, false)

			first.Link.Cut()
			Eventually(watcher.Payloads).WithContext(ctx).Should(ContainElement("gone"), "the will never reached the watcher")

			again := willClient(ctx, "again", id, nil, 30*time.Second, false)
			again.Link.Cut()

			Consistently(func() int { return watcher.Count("gone") }).WithContext(ctx).WithTimeout(500*time.Millisecond).Should(Equal(1),
				"the will was published more than once: again after the client's next connection, which announced no will, ended")
		})
})
