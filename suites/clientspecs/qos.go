package clientspecs

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/suites/framework"
)

var _ = Describe("A client program under test, at QoS 1 and 2", Label("client"), func() {
	f := framework.New()

	DescribeTable("re-sends its unfinished messages when it reconnects with its session, after the link is cut mid-handshake",
		func(ctx SpecContext, qos byte, cut proxy.Cut) {
			if declared("subscriber") {
				Skip("not applicable: " + EnvRole + "=subscriber, so it publishes nothing to re-send")
			}
			s := launch(f)
			fault, err := s.link.Arm(cut)
			if err != nil {
				Fail(err.Error())
			}
			first := s.awaitConnected(ctx)
			if first.connect.CleanStart {
				Skip("not applicable: the client connects with CleanSession 1, so it keeps no session to resume [MQTT-4.4.0-1 binds a client reconnecting with CleanSession 0]")
			}
			s.until(ctx, watch(), func([]proxy.Entry) bool {
				select {
				case <-fault.Fired():
					return true
				default:
					return !s.prog.Running()
				}
			})
			select {
			case <-fault.Fired():
			default:
				Skip(fmt.Sprintf("not applicable: in %v the client's traffic never reached the cut (%s): it sent no QoS %d PUBLISH that got that far", watch(), cut, qos))
			}
			es := s.entries()
			var cutConn *conn
			stop := -1
			for _, c := range connections(es) {
				for i, e := range c.entries {
					if e.Kind == proxy.Injected && stop < 0 {
						cutConn, stop = c, i
					}
				}
				if cutConn != nil {
					break
				}
			}
			if cutConn == nil {
				Fail("the cut fired but the trace shows no connection it ended\n\ntrace:\n" + s.excerpt())
			}
			// What the client had unfinished when the link broke: what it
			// sent (also the packets the cut made vanish), less what the
			// broker's answers that reached it finished.
			t := newIDTracker(s.prog.Started())
			t.replay(cutConn, stop)
			for _, e := range cutConn.entries[stop:] {
				if e.Dir == proxy.ToBroker && e.Kind == proxy.Dropped && e.Packet.Type != 0 {
					t.sent(e)
				}
			}
			owed := t.unfinished()
			if len(owed) == 0 {
				Fail("the cut fired but Faultline finds no unfinished QoS 1/2 message of the client at that point\n\ntrace:\n" + s.excerpt())
			}
			broke := time.Now()
			es, _ = s.until(ctx, reconnectBound(), func(es []proxy.Entry) bool {
				return acceptedAfter(es, cutConn.n) != nil || !s.prog.Running()
			})
			next := acceptedAfter(es, cutConn.n)
			switch {
			case next == nil && !s.prog.Running():
				Skip(fmt.Sprintf("not applicable: the program ended (%s) after the cut without reconnecting; re-sending is owed on a reconnect", s.prog.Status()))
			case next == nil:
				Skip(fmt.Sprintf("not judged: the client did not reconnect within %v of the cut (the reconnect spec judges that)", reconnectBound()))
			case next.connect.CleanStart:
				Skip("not applicable: the client reconnected with CleanSession 1, discarding its session, so nothing is owed [MQTT-4.4.0-1 binds CleanSession 0]")
			}
			// Everything owed comes before the client's new traffic, but
			// give it the answer bound to do so.
			resent := func(es []proxy.Entry) []proxy.Entry {
				var out []proxy.Entry
				for _, c := range connections(es) {
					if c.n != next.n {
						continue
					}
					for _, e := range c.sent() {
						for _, q := range owed {
							if e.Packet.PacketID == q.id && (e.Packet.Type == wire.PUBLISH || e.Packet.Type == wire.PUBREL) {
								out = append(out, e)
							}
						}
					}
				}
				return out
			}
			es, _ = s.until(ctx, answerBound, func(es []proxy.Entry) bool { return len(resent(es)) >= len(owed) })
			got := resent(es)
			var problems []string
			for _, q := range owed {
				var first *proxy.Entry
				for i := range got {
					if got[i].Packet.PacketID == q.id {
						first = &got[i]
						break
					}
				}
				switch {
				case first == nil && q.released:
					problems = append(problems, fmt.Sprintf("%s: no PUBREL re-sent on the new connection [MQTT-4.4.0-1]", q))
				case first == nil:
					problems = append(problems, fmt.Sprintf("%s: not re-sent on the new connection [MQTT-4.4.0-1]", q))
				case q.released && first.Packet.Type == wire.PUBLISH:
					problems = append(problems, fmt.Sprintf("%s: re-sent as a PUBLISH after its PUBREL had gone, instead of the PUBREL [MQTT-4.3.3-1]", q))
				case !q.released && first.Packet.Type == wire.PUBREL:
					problems = append(problems, fmt.Sprintf("%s: released (PUBREL) without its PUBLISH being acknowledged", q))
				case !q.released && !first.Packet.DUP:
					problems = append(problems, fmt.Sprintf("%s: re-sent with DUP=0 [MQTT-3.3.1-1: DUP must be 1 on a re-delivery]", q))
				case !q.released && first.Packet.Topic != q.topic:
					problems = append(problems, fmt.Sprintf("%s: re-sent on another topic %q", q, first.Packet.Topic))
				}
			}
			if len(problems) == 0 {
				for i := 1; i < len(got) && i < len(owed); i++ {
					if got[i].Packet.PacketID != owed[i].id {
						problems = append(problems, fmt.Sprintf("re-sent out of order: %s before %s [MQTT-4.6.0-1]", got[i].Packet, owed[i]))
						break
					}
				}
			}
			if len(problems) > 0 {
				Fail(fmt.Sprintf("after %s the client reconnected (%s after the cut) but:\n  %s\n\ntrace:\n%s",
					fault, since(broke, next.connectAt), strings.Join(problems, "\n  "), s.excerpt()))
			}
			AddReportEntry("client figures", fmt.Sprintf("after %s: reconnected %s after the cut and re-sent %d unfinished message(s) %s after its CONNACK",
				fault, since(broke, next.connectAt), len(owed), since(next.connackAt, got[len(got)-1].At)), ReportEntryVisibilityAlways)
		},
		func(qos byte, cut proxy.Cut) string { return fmt.Sprintf("QoS %d, %s", qos, cut) },
		Label("client:resend"), framework.Statements("MQTT-4.4.0-1", "MQTT-3.3.1-1", "MQTT-2.3.1-3", "MQTT-4.6.0-1"),
		Entry(nil, byte(1), proxy.Before(proxy.ToBroker, proxy.Publish(1)), Catches("dup-flag-missing-on-resend"), SpecTimeout(connectBound+60*time.Second)),
		Entry(nil, byte(1), proxy.Before(proxy.FromBroker, proxy.PUBACK), Catches("dup-flag-missing-on-resend"), SpecTimeout(connectBound+60*time.Second)),
		Entry(nil, byte(2), proxy.Before(proxy.ToBroker, proxy.Publish(2)), Catches("dup-flag-missing-on-resend"), SpecTimeout(connectBound+60*time.Second)),
		Entry(nil, byte(2), proxy.Before(proxy.FromBroker, proxy.PUBREC), Catches("dup-flag-missing-on-resend"), SpecTimeout(connectBound+60*time.Second)),
		Entry(nil, byte(2), proxy.Before(proxy.ToBroker, proxy.PUBREL), Catches("pubrel-not-resent"), SpecTimeout(connectBound+60*time.Second)),
		Entry(nil, byte(2), proxy.Before(proxy.FromBroker, proxy.PUBCOMP), Catches("pubrel-not-resent"), SpecTimeout(connectBound+60*time.Second)),
	)

	DescribeTable("acknowledges each message it receives with the packet its QoS calls for, carrying the message's identifier",
		func(ctx SpecContext, qos byte) {
			if declared("publisher") {
				Skip("not applicable: " + EnvRole + "=publisher, so it receives no messages")
			}
			s := launch(f)
			s.awaitConnected(ctx)
			es, _ := s.until(ctx, watch(), func(es []proxy.Entry) bool {
				for _, e := range es {
					if e.Dir == proxy.FromBroker && e.Kind == proxy.Passed && e.Packet.Type == wire.SUBACK {
						return true
					}
				}
				return !s.prog.Running()
			})
			if _, subscriber := role(es); !subscriber {
				Skip(fmt.Sprintf("not applicable: in %v the client subscribed to nothing (and %s does not say subscriber)", watch(), EnvRole))
			}
			if len(granted(es)) == 0 {
				Skip(fmt.Sprintf("not judged: %s says subscriber, but in %v the client had no subscription granted (%s sets how long Faultline watches)", EnvRole, watch(), EnvWatch))
			}
			if !s.prog.Running() {
				Skip(fmt.Sprintf("not applicable: the program ended (%s) before Faultline could publish to it", s.prog.Status()))
			}
			filter, best := s.feed(ctx, es, qos, 3)
			if filter == "" {
				Skip(fmt.Sprintf("not applicable: the broker granted the client's subscriptions QoS %d at most, so no message reaches it at QoS %d", best, qos))
			}
			// Every QoS n delivery to the client, and what it answered.
			type delivery struct {
				at       time.Time
				id       uint16
				answers  []wire.Type
				released bool
			}
			judge := func(es []proxy.Entry) ([]*delivery, bool) {
				var ds []*delivery
				open := map[uint16]*delivery{}
				for _, e := range es {
					if e.Kind != proxy.Passed {
						continue
					}
					p := e.Packet
					switch {
					case e.Dir == proxy.FromBroker && p.Type == wire.PUBLISH && p.QoS == qos:
						d := &delivery{at: e.At, id: p.PacketID}
						ds = append(ds, d)
						open[p.PacketID] = d
					case e.Dir == proxy.FromBroker && p.Type == wire.PUBREL:
						if d := open[p.PacketID]; d != nil {
							d.released = true
						}
					case e.Dir == proxy.ToBroker && (p.Type == wire.PUBACK || p.Type == wire.PUBREC || p.Type == wire.PUBCOMP):
						if d := open[p.PacketID]; d != nil {
							d.answers = append(d.answers, p.Type)
						}
					}
				}
				complete := len(ds) > 0
				for _, d := range ds {
					if qos == 1 && len(d.answers) == 0 || qos == 2 && (len(d.answers) == 0 || d.released && len(d.answers) < 2) {
						complete = false
					}
				}
				return ds, complete
			}
			es, _ = s.until(ctx, answerBound, func(es []proxy.Entry) bool { _, ok := judge(es); return ok })
			ds, _ := judge(es)
			if len(ds) == 0 {
				Fail(fmt.Sprintf("Faultline published 3 QoS %d messages to %q, which the client subscribed to, but none reached it within %v\n\ntrace:\n%s", qos, filter, answerBound, s.excerpt()))
			}
			var problems []string
			for _, d := range ds {
				want := []wire.Type{wire.PUBACK}
				if qos == 2 {
					want = []wire.Type{wire.PUBREC}
					if d.released {
						want = append(want, wire.PUBCOMP)
					}
				}
				if fmt.Sprint(d.answers) != fmt.Sprint(want) {
					problems = append(problems, fmt.Sprintf("QoS %d PUBLISH id=%d at %s: the client answered %v with that id, want %v",
						qos, d.id, since(s.prog.Started(), d.at), d.answers, want))
				}
			}
			if len(problems) > 0 {
				Fail("the client acknowledges wrongly:\n  " + strings.Join(problems, "\n  ") + "\n\ntrace:\n" + s.excerpt())
			}
			AddReportEntry("client figures", fmt.Sprintf("%d QoS %d messages on %q, each acknowledged as its QoS calls for", len(ds), qos, filter), ReportEntryVisibilityAlways)
		},
		func(qos byte) string { return fmt.Sprintf("QoS %d", qos) },
		Label("client:receive"),
		Entry(nil, byte(1), framework.Statements("MQTT-3.3.4-1", "MQTT-4.3.2-2", "MQTT-2.3.1-6"), Catches("wrong-ack-type"), SpecTimeout(connectBound+40*time.Second)),
		Entry(nil, byte(2), framework.Statements("MQTT-3.3.4-1", "MQTT-4.3.3-2", "MQTT-2.3.1-6"), Catches("wrong-ack-type"), SpecTimeout(connectBound+40*time.Second)),
	)

	It("hands a QoS 2 message to its application once, even when the broker re-sends it after a lost PUBREC", Label("client:exactly-once"),
		framework.Statements("MQTT-4.3.3-2"),
		Catches("qos2-duplicate-delivery"),
		SpecTimeout(connectBound+60*time.Second), func(ctx SpecContext) {
			if declared("publisher") {
				Skip("not applicable: " + EnvRole + "=publisher, so it receives no messages")
			}
			s := launch(f)
			first := s.awaitConnected(ctx)
			es, _ := s.until(ctx, watch(), func(es []proxy.Entry) bool { return len(granted(es)) > 0 || !s.prog.Running() })
			if len(granted(es)) == 0 {
				Skip(fmt.Sprintf("not applicable: in %v the client had no subscription granted", watch()))
			}
			if first.connect.CleanStart {
				Skip("not applicable: the client connects with CleanSession 1, so the broker does not re-send a message to it after a reconnect")
			}
			// With CLIENT_ECHO, Faultline also listens on the echo topic: a
			// program may publish onward through another connection.
			var listener *framework.Client
			if s.echo != "" {
				listener = f.Subscriber(ctx, "faultline-echo", s.echo, 2)
			}
			fault := s.link.CutBefore(proxy.ToBroker, proxy.PUBREC)
			payload := "faultline-once-" + uniqueID()
			filter, best := s.feedOne(ctx, es, 2, payload)
			if filter == "" {
				Skip(fmt.Sprintf("not applicable: the broker granted the client's subscriptions QoS %d at most, so no message reaches it at QoS 2", best))
			}
			s.until(ctx, answerBound, func([]proxy.Entry) bool {
				select {
				case <-fault.Fired():
					return true
				default:
					return !s.prog.Running()
				}
			})
			select {
			case <-fault.Fired():
			default:
				Fail(fmt.Sprintf("the client sent no PUBREC within %v of a QoS 2 message on %q [MQTT-4.3.3-2]\n\ntrace:\n%s", answerBound, filter, s.excerpt()))
			}
			// The broker re-sends the PUBLISH (DUP=1, same id) once the
			// client is back; the client must answer it without handing
			// it to its application again.
			done := func(es []proxy.Entry) bool {
				for _, c := range connections(es) {
					if c.n <= first.n {
						continue
					}
					for _, e := range c.sent() {
						if e.Packet.Type == wire.PUBCOMP {
							return true
						}
					}
				}
				return !s.prog.Running()
			}
			es, _ = s.until(ctx, reconnectBound()+answerBound, done)
			redelivered := false
			for _, c := range connections(es) {
				for _, e := range c.entries {
					if c.n > first.n && e.Dir == proxy.FromBroker && e.Kind == proxy.Passed && e.Packet.Type == wire.PUBLISH && e.Packet.DUP {
						redelivered = true
					}
				}
			}
			switch {
			case !s.prog.Running() && acceptedAfter(es, first.n) == nil:
				Skip(fmt.Sprintf("not applicable: the program ended (%s) after the cut without reconnecting", s.prog.Status()))
			case acceptedAfter(es, first.n) == nil:
				Skip(fmt.Sprintf("not judged: the client did not reconnect within %v (the reconnect spec judges that)", reconnectBound()))
			case !redelivered:
				Skip("not judged: the broker did not re-send the message with DUP=1 after the reconnect, so there was no duplicate to refuse")
			case !done(es):
				Fail(fmt.Sprintf("the client never completed the re-sent QoS 2 message with PUBCOMP within %v [MQTT-4.3.3-2]\n\ntrace:\n%s", answerBound, s.excerpt()))
			}
			count := func() int {
				n := 0
				for _, l := range s.prog.Lines() {
					if strings.Contains(l, payload) {
						n++
					}
				}
				return n
			}
			if s.echo != "" {
				// What crossed the client's link, re-sends left out; what
				// reached the listener when nothing did.
				count = func() int {
					if n := s.echoed(payload); n > 0 {
						return n
					}
					n := 0
					for _, m := range listener.Received() {
						if strings.Contains(m.Payload, payload) {
							n++
						}
					}
					return n
				}
			}
			// What it prints or echoes may trail the wire a little.
			s.until(ctx, time.Second, func([]proxy.Entry) bool { return count() > 1 })
			switch n := count(); {
			case n == 0 && s.echo != "":
				Skip(fmt.Sprintf("not judged: the client published nothing holding the message's payload %q to %s=%q, so Faultline cannot see what reached its application", payload, EnvEcho, s.echo))
			case n > 1 && s.echo != "":
				Fail(fmt.Sprintf("the client handed the same QoS 2 message to its application %d times: it published %q onward to %q %d times after the broker re-sent it (DUP=1, same id) [MQTT-4.3.3-2]\n\ntrace:\n%s",
					n, payload, s.echo, n, s.excerpt()))
			case n == 0:
				Skip(fmt.Sprintf("not judged: the program printed no line holding the message's payload %q, so Faultline cannot see what reached its application (print each message you receive, and flush)", payload))
			case n > 1:
				Fail(fmt.Sprintf("the client handed the same QoS 2 message to its application %d times: its output holds %q on %d lines after the broker re-sent it (DUP=1, same id) [MQTT-4.3.3-2]\n\ntrace:\n%s",
					n, payload, n, s.excerpt()))
			}
			how := "printed"
			if s.echo != "" {
				how = "published onward to " + s.echo
			}
			AddReportEntry("client figures", "the re-sent QoS 2 message (DUP=1) was acknowledged and "+how+" once", ReportEntryVisibilityAlways)
		})
})
