package conformance

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Client identifiers, packet identifiers and the first packet of a
// connection, checked packet by packet on raw connections.
var _ = Describe("Identifiers", Label("identifiers"), func() {
	f := New()

	ConformanceIt("answers CONNECT with CONNACK before any other packet, even when the client sends more right behind it",
		Statements("MQTT-3.2.0-1"), Catches("pingresp-before-connack"), func(ctx SpecContext) {
			r := f.Raw(ctx, "client")
			connect := ConnectPacket()
			Expect(r.Write(append(wire.Encode(connect), wire.Encode(wire.PingReq())...))).To(Succeed())
			first, err := r.Read(5 * time.Second)
			Expect(err).NotTo(HaveOccurred(), "no answer to CONNECT")
			Expect(first.Type).To(Equal(wire.CONNACK), "the first packet from the broker was %s", first)
		})

	ConformanceIt("accepts client identifiers of 1 to 23 letters and digits, the longest too",
		Statements("MQTT-3.1.3-5"), Catches("long-ids-refused"), func(ctx SpecContext) {
			short := f.NewClient("short").ID
			long := (short + strings.Repeat("0", 23))[:23]
			for _, id := range []string{long, short} {
				r := f.Raw(ctx, "id"+fmt.Sprint(len(id)))
				p := ConnectPacket()
				p.ClientID = id
				ack, err := r.Connect(p)
				Expect(err).NotTo(HaveOccurred(), "client id %q (%d characters): %s", id, len(id), ack)
			}
		})

	ConformanceIt("answers SUBSCRIBE and UNSUBSCRIBE with the packet identifier of the request",
		Statements("MQTT-2.3.1-7", "MQTT-3.8.4-2", "MQTT-3.10.4-4"), Catches("ack-ids-shifted", "no-suback", "no-unsuback"), func(ctx SpecContext) {
			r := f.Raw(ctx, "client")
			_, err := r.Connect(ConnectPacket())
			Expect(err).NotTo(HaveOccurred())
			Expect(r.SubscribeFilters(4242, wire.Sub(f.Topic("a"), 1))).To(Succeed())
			suback, err := r.Expect(wire.SUBACK, 5*time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(suback.PacketID).To(BeEquivalentTo(4242), "SUBACK carries %d", suback.PacketID)
			Expect(r.UnsubscribeFilters(4243, f.Topic("a"))).To(Succeed())
			unsuback, err := r.Expect(wire.UNSUBACK, 5*time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(unsuback.PacketID).To(BeEquivalentTo(4243), "UNSUBACK carries %d", unsuback.PacketID)
		})

	ConformanceIt("acknowledges each step of the QoS 1 and QoS 2 handshakes with the packet identifier of the PUBLISH, both ways",
		Statements("MQTT-2.3.1-6", "MQTT-4.3.2-2", "MQTT-4.3.3-2"), Catches("ack-ids-shifted", "no-puback", "no-pubrec", "no-pubcomp"), func(ctx SpecContext) {
			topic := f.Topic("ids")
			sub := f.Raw(ctx, "sub")
			_, err := sub.Connect(ConnectPacket())
			Expect(err).NotTo(HaveOccurred())
			Expect(sub.SubscribeFilters(1, wire.Sub(topic, 2))).To(Succeed())
			_, err = sub.Expect(wire.SUBACK, 5*time.Second)
			Expect(err).NotTo(HaveOccurred())

			pub := f.Raw(ctx, "pub")
			_, err = pub.Connect(ConnectPacket())
			Expect(err).NotTo(HaveOccurred())
			Expect(pub.Send(wire.Publish(topic, 1, 777, "one"))).To(Succeed())
			ack, err := pub.Expect(wire.PUBACK, 5*time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(ack.PacketID).To(BeEquivalentTo(777), "PUBACK for PUBLISH 777 carries %d", ack.PacketID)
			Expect(pub.Send(wire.Publish(topic, 2, 778, "two"))).To(Succeed())
			rec, err := pub.Expect(wire.PUBREC, 5*time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(rec.PacketID).To(BeEquivalentTo(778), "PUBREC for PUBLISH 778 carries %d", rec.PacketID)
			Expect(pub.Send(wire.PubRel(778))).To(Succeed())
			comp, err := pub.Expect(wire.PUBCOMP, 5*time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(comp.PacketID).To(BeEquivalentTo(778), "PUBCOMP for PUBREL 778 carries %d", comp.PacketID)

			// As the sender to the subscriber: its PUBREL answers the subscriber's PUBREC.
			var delivered wire.Packet
			for delivered.QoS != 2 {
				delivered, err = sub.Expect(wire.PUBLISH, 5*time.Second)
				Expect(err).NotTo(HaveOccurred())
				if delivered.QoS == 1 {
					Expect(sub.Send(wire.PubAck(delivered.PacketID))).To(Succeed())
				}
			}
			Expect(sub.Send(wire.PubRec(delivered.PacketID))).To(Succeed())
			rel, err := sub.Expect(wire.PUBREL, 5*time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(rel.PacketID).To(Equal(delivered.PacketID), "the broker's PUBREL for its PUBLISH %d carries %d", delivered.PacketID, rel.PacketID)
		})

	ConformanceIt("sends QoS 0 messages without a packet identifier",
		Statements("MQTT-2.3.1-5"), Catches("qos0-with-packet-id"), func(ctx SpecContext) {
			topic := f.Topic("zero")
			sub := f.Raw(ctx, "sub")
			_, err := sub.Connect(ConnectPacket())
			Expect(err).NotTo(HaveOccurred())
			Expect(sub.SubscribeFilters(1, wire.Sub(topic, 0))).To(Succeed())
			_, err = sub.Expect(wire.SUBACK, 5*time.Second)
			Expect(err).NotTo(HaveOccurred())
			pub := f.Client(ctx, "pub")
			Expect(pub.Publish(ctx, topic, 0, "plain")).To(Succeed())

			p, err := sub.Expect(wire.PUBLISH, 5*time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Remaining).To(Equal(2+len(topic)+len("plain")),
				"a QoS 0 PUBLISH is topic and payload only; this one has %d bytes more (%s)", p.Remaining-2-len(topic)-len("plain"), p)
			Expect(string(p.Payload)).To(Equal("plain"))
		})

	ConformanceIt("gives each message in flight to a client its own packet identifier, and keeps it when it re-sends the message",
		Statements("MQTT-2.3.1-4", "MQTT-4.4.0-1"), Catches("packet-id-reuse"), func(ctx SpecContext) {
			topic := f.Topic("inflight")
			id := f.NewClient("sub").ID
			f.PersistentSession(id)
			connect := ConnectPacket()
			connect.ClientID, connect.CleanStart = id, false

			first := f.Raw(ctx, "sub")
			_, err := first.Connect(connect)
			Expect(err).NotTo(HaveOccurred())
			Expect(first.SubscribeFilters(1, wire.Sub(topic, 1))).To(Succeed())
			_, err = first.Expect(wire.SUBACK, 5*time.Second)
			Expect(err).NotTo(HaveOccurred())
			pub := f.Client(ctx, "pub")
			publishAll(ctx, pub, topic, 1, "m", 3)

			// Never acknowledged, so whatever the broker sends stays in
			// flight. MQTT sets no minimum in-flight window (section 4.6
			// even suggests one message at a time for ordering), so a
			// broker may hold the rest back until the first is
			// acknowledged: the first must come, the others only if the
			// broker sends more than one at a time.
			ids := map[string]uint16{}
			seen := map[uint16]string{}
			for len(ids) < 3 {
				wait := 5 * time.Second
				if len(ids) > 0 {
					wait = 2 * time.Second
				}
				p, err := first.Expect(wire.PUBLISH, wait)
				if len(ids) > 0 && err != nil {
					AddReportEntry("in-flight window", fmt.Sprintf("the broker sent %d of the 3 messages before any was acknowledged", len(ids)))
					break
				}
				Expect(err).NotTo(HaveOccurred(), "got %d of the 3 messages", len(ids))
				Expect(seen).NotTo(HaveKey(p.PacketID), "packet id %d given to %q while %q was still unacknowledged", p.PacketID, p.Payload, seen[p.PacketID])
				seen[p.PacketID], ids[string(p.Payload)] = string(p.Payload), p.PacketID
			}
			Expect(first.Close()).To(Succeed())

			second := f.Raw(ctx, "sub-again")
			ack, err := second.Connect(connect)
			Expect(err).NotTo(HaveOccurred())
			Expect(ack.SessionPresent).To(BeTrue(), "CONNACK said no session present to the client resuming its CleanSession=0 session")
			resent := 0
			for range 3 {
				p, err := second.Expect(wire.PUBLISH, 5*time.Second)
				Expect(err).NotTo(HaveOccurred(), "got %d of the 3 messages after resuming the session", resent)
				if id, ok := ids[string(p.Payload)]; ok {
					Expect(p.PacketID).To(Equal(id), "%q was re-sent with packet id %d; it had %d", p.Payload, p.PacketID, id)
				}
				resent++
				Expect(second.Send(wire.PubAck(p.PacketID))).To(Succeed())
			}
		})
})
