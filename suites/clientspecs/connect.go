package clientspecs

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/proxy/wire/topics"
	"github.com/faultline-mqtt/faultline/suites/framework"
)

var _ = Describe("A client program under test", Label("client"), func() {
	f := framework.New()

	It("opens every connection with one well-formed CONNECT", Label("client:connect"),
		framework.Statements("MQTT-3.1.0-1", "MQTT-3.1.0-2", "MQTT-3.1.2-1", "MQTT-3.1.2-3", "MQTT-3.1.2-11",
			"MQTT-3.1.2-13", "MQTT-3.1.2-14", "MQTT-3.1.2-15", "MQTT-3.1.2-22", "MQTT-3.1.3-7"),
		Catches("connect-reserved-flag", "double-connect"),
		SpecTimeout(connectBound+30*time.Second), func(ctx SpecContext) {
			s := launch(f)
			es, ok := s.until(ctx, connectBound, func(es []proxy.Entry) bool { return did(es, wire.CONNECT) || !s.prog.Running() })
			if !ok || !did(es, wire.CONNECT) {
				s.awaitConnected(ctx) // fails, saying how far it got
			}
			es = s.watchFor(ctx, watch())

			var problems, notes []string
			for _, c := range connections(es) {
				sent := c.sent()
				if len(sent) == 0 {
					continue
				}
				if first := sent[0].Packet; first.Type != wire.CONNECT {
					problems = append(problems, fmt.Sprintf("connection %d: its first packet is %s, not CONNECT [MQTT-3.1.0-1]", c.n, first))
				}
				connects := 0
				before := 0
				for _, e := range sent {
					if e.Packet.Type == wire.CONNECT {
						connects++
						if connects == 2 {
							problems = append(problems, fmt.Sprintf("connection %d: a second CONNECT at %s [MQTT-3.1.0-2: one CONNECT per connection]", c.n, since(s.prog.Started(), e.At)))
						}
					} else if c.connack == nil || e.At.Before(c.connackAt) {
						before++
					}
				}
				if before > 0 {
					notes = append(notes, fmt.Sprintf("connection %d: %d packet(s) sent before the CONNACK came (3.1.4 allows it; some brokers are strict)", c.n, before))
				}
				if c.connect == nil {
					continue
				}
				p := c.connect
				if p.Malformed != "" {
					problems = append(problems, fmt.Sprintf("connection %d: malformed CONNECT: %s (%s)", c.n, p.Malformed, p))
				}
				if p.ProtocolLevel == wire.V311 && p.ProtocolName != "MQTT" {
					problems = append(problems, fmt.Sprintf("connection %d: protocol name %q with level 4, want \"MQTT\" [MQTT-3.1.2-1]", c.n, p.ProtocolName))
				}
				if p.ClientID == "" && !p.CleanStart {
					problems = append(problems, fmt.Sprintf("connection %d: an empty client id with CleanSession 0 [MQTT-3.1.3-7]", c.n))
				}
				if len(p.ClientID) > 23 || strings.Trim(p.ClientID, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
					notes = append(notes, fmt.Sprintf("warning: client id %q (%d bytes) is not 1 to 23 letters and digits, the only ids every broker must accept [MQTT-3.1.3-5]: some brokers refuse it", p.ClientID, len(p.ClientID)))
				}
			}
			if len(notes) > 0 {
				AddReportEntry("client notes", strings.Join(notes, "\n"), ReportEntryVisibilityAlways)
			}
			if len(problems) > 0 {
				Fail("the client's CONNECT breaks MQTT 3.1.1:\n  " + strings.Join(problems, "\n  ") + "\n\ntrace:\n" + s.excerpt())
			}
		})

	It("gives each packet that needs one a non-zero packet identifier not in use by another of its unacknowledged packets", Label("client:ids"),
		framework.Statements("MQTT-2.3.1-1", "MQTT-2.3.1-2"),
		Catches("packet-id-zero", "reused-packet-id"),
		SpecTimeout(connectBound+30*time.Second), func(ctx SpecContext) {
			s := launch(f)
			s.awaitConnected(ctx)
			es := s.watchFor(ctx, watch())
			t := newIDTracker(s.prog.Started())
			for _, c := range connections(es) {
				// Identifiers are the client's per connection here: those
				// of an earlier connection may be re-sent on a later one.
				ct := newIDTracker(s.prog.Started())
				ct.replay(c, -1)
				t.carrying += ct.carrying
				t.problems = append(t.problems, ct.problems...)
			}
			if t.carrying == 0 {
				Skip(fmt.Sprintf("not applicable: in %v the client sent no SUBSCRIBE, UNSUBSCRIBE or QoS 1/2 PUBLISH, the packets that carry an identifier", watch()))
			}
			if len(t.problems) > 0 {
				Fail("the client misuses packet identifiers:\n  " + strings.Join(t.problems, "\n  ") + "\n\ntrace:\n" + s.excerpt())
			}
			AddReportEntry("client figures", fmt.Sprintf("%d packets with identifiers, all non-zero and none reusing one in use", t.carrying), ReportEntryVisibilityAlways)
		})

	It("publishes only to valid topic names and subscribes only to valid topic filters", Label("client:topics"),
		framework.Statements("MQTT-3.3.2-2", "MQTT-4.7.1-1", "MQTT-4.7.1-2", "MQTT-4.7.1-3", "MQTT-4.7.3-1", "MQTT-3.8.3-1", "MQTT-3.8.3-3"),
		Catches("wildcard-in-topic"),
		SpecTimeout(connectBound+30*time.Second), func(ctx SpecContext) {
			s := launch(f)
			s.awaitConnected(ctx)
			es := s.watchFor(ctx, watch())
			seen := 0
			var problems []string
			for _, c := range connections(es) {
				for _, e := range c.sent() {
					switch p := e.Packet; p.Type {
					case wire.PUBLISH, wire.SUBSCRIBE, wire.UNSUBSCRIBE:
						seen++
						if p.Malformed != "" {
							problems = append(problems, fmt.Sprintf("at %s: %s: %s", since(s.prog.Started(), e.At), p, p.Malformed))
						}
					}
				}
			}
			if seen == 0 {
				Skip(fmt.Sprintf("not applicable: in %v the client neither published nor subscribed", watch()))
			}
			if len(problems) > 0 {
				Fail("the client sent invalid topic names or filters:\n  " + strings.Join(problems, "\n  ") + "\n\ntrace:\n" + s.excerpt())
			}
		})

	It("ends its connection with DISCONNECT when it is asked to stop (SIGTERM)", Label("client:disconnect"),
		framework.Statements("MQTT-3.14.4-1", "MQTT-3.14.4-2"),
		Catches("no-disconnect-on-term"),
		SpecTimeout(connectBound+45*time.Second), func(ctx SpecContext) {
			s := launch(f)
			s.awaitConnected(ctx)
			// Let it do its work first: a stop in the middle of it is
			// fine too, but seldom what a user does.
			s.until(ctx, watch(), func(es []proxy.Entry) bool {
				return (did(es, wire.PUBLISH) || did(es, wire.SUBSCRIBE)) || !s.prog.Running()
			})
			// Stopped when idle, as a user would: a program stopped in the
			// middle of its work is another test.
			s.quiet(ctx, 500*time.Millisecond, watch())
			how := "when it ended by itself"
			if s.prog.Running() {
				g := grace()
				stopped := time.Now()
				gentle := s.prog.Stop(g)
				if !gentle {
					Fail(fmt.Sprintf("the client did not end within %v of SIGTERM (it was killed)\n\ntrace:\n%s", g, s.excerpt()))
				}
				how = "when stopped with SIGTERM"
				AddReportEntry("client figures", fmt.Sprintf("ended %s after SIGTERM (%s)", since(stopped, s.prog.Ended()), s.prog.Status()), ReportEntryVisibilityAlways)
				if strings.HasPrefix(s.prog.Status(), "killed by") {
					// Not an MQTT violation: the program never got to run
					// any code of its own.
					Skip(fmt.Sprintf("not applicable: the program does not handle SIGTERM (it was %s), so it had no chance to send DISCONNECT; "+
						"its connection simply broke, and the broker publishes its will, if it has one. To stop cleanly, handle SIGTERM "+
						"(in Python: signal.signal(signal.SIGTERM, ...) calling client.disconnect())", s.prog.Status()))
				}
			}
			es := s.settle(ctx)
			var last *conn
			for _, c := range connections(es) {
				if c.connack != nil && c.closedBy != "Faultline cut the link" {
					last = c
				}
			}
			if last == nil {
				Fail("no connection of the client was open at its end\n\ntrace:\n" + s.excerpt())
			}
			sent := last.sent()
			i := len(sent) - 1
			for i >= 0 && sent[i].Packet.Type != wire.DISCONNECT {
				i--
			}
			switch {
			case i < 0 && strings.Contains(last.closedBy, "broker"):
				Fail(fmt.Sprintf("the broker closed the client's connection %d before the client ended, with no DISCONNECT from it\n\ntrace:\n%s", last.n, s.excerpt()))
			case i < 0:
				Fail(fmt.Sprintf("the client closed connection %d %s without sending DISCONNECT: the broker treats that as a lost connection and publishes its will\n\ntrace:\n%s", last.n, how, s.excerpt()))
			case i < len(sent)-1:
				Fail(fmt.Sprintf("the client sent %s after its DISCONNECT [MQTT-3.14.4-2]\n\ntrace:\n%s", sent[i+1].Packet, s.excerpt()))
			}
		})
})

// feed publishes n messages at QoS q to a topic one of the client's
// subscriptions granted QoS q or more matches, through a Faultline client
// of its own, and returns the filter; "" (and the best QoS granted) when
// no subscription was granted QoS q.
func (s *subject) feed(ctx context.Context, es []proxy.Entry, q byte, n int) (string, byte) {
	GinkgoHelper()
	payloads := make([]string, n)
	for i := range payloads {
		payloads[i] = fmt.Sprintf("faultline-qos%d-%d", q, i)
	}
	return s.publishTo(ctx, es, q, payloads...)
}

// feedOne publishes one message with payload at QoS q, like feed.
func (s *subject) feedOne(ctx context.Context, es []proxy.Entry, q byte, payload string) (string, byte) {
	GinkgoHelper()
	return s.publishTo(ctx, es, q, payload)
}

func (s *subject) publishTo(ctx context.Context, es []proxy.Entry, q byte, payloads ...string) (string, byte) {
	GinkgoHelper()
	requested := map[uint16][]wire.Subscription{}
	best := byte(0)
	filter := ""
	for _, c := range connections(es) {
		for _, e := range c.entries {
			if e.Kind != proxy.Passed {
				continue
			}
			switch p := e.Packet; {
			case p.Type == wire.SUBSCRIBE && e.Dir == proxy.ToBroker:
				requested[p.PacketID] = p.Subscriptions
			case p.Type == wire.SUBACK && e.Dir == proxy.FromBroker:
				for i, code := range p.ReasonCodes {
					subs := requested[p.PacketID]
					if i >= len(subs) || code > 2 || strings.HasPrefix(subs[i].Filter, "$") {
						continue
					}
					if code >= best {
						best = code
						if code >= q && filter == "" {
							filter = subs[i].Filter
						}
					}
				}
			}
		}
	}
	if filter == "" {
		return "", best
	}
	pub := s.f.Client(ctx, "faultline-publisher")
	topic := topicFor(filter, s.f.Topic("x"))
	if !topics.Match(filter, topic) {
		Fail(fmt.Sprintf("Faultline could not make a topic name that the client's filter %q matches (made %q)", filter, topic))
	}
	for _, payload := range payloads {
		if err := pub.Publish(ctx, topic, q, payload); err != nil {
			Fail(fmt.Sprintf("Faultline could not publish to %q for the client: %v", topic, err))
		}
	}
	return filter, best
}

// topicFor is a topic name that filter matches: each '+' level becomes
// "x" and a trailing '#' level is dropped (or, alone, becomes own).
func topicFor(filter, own string) string {
	if filter == "#" {
		return own
	}
	levels := strings.Split(filter, "/")
	var out []string
	for _, l := range levels {
		switch l {
		case "+":
			out = append(out, "x")
		case "#":
			out = append(out, "x")
		default:
			out = append(out, l)
		}
	}
	return strings.Join(out, "/")
}
