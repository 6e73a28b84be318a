package clientspecs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/suites/framework"
)

// The keepalive tolerance: a client's timer fires on its own loop, so a
// packet up to this late still counts as within its keepalive.
const keepAliveSlack = time.Second

var _ = Describe("A client program under test, when its link fails", Label("client"), func() {
	f := framework.New()

	// keepAlive reads the client's keepalive from its first accepted
	// CONNECT and skips the spec when it cannot be waited out.
	keepAlive := func(c *conn) time.Duration {
		k := time.Duration(c.connect.KeepAlive) * time.Second
		switch {
		case k == 0:
			Skip("not applicable: the client's CONNECT sets keepalive 0, which turns the keepalive off")
		case k > maxKeepAlive():
			Skip(fmt.Sprintf("not judged in this run: the client's keepalive is %v, longer than this run waits (%s=%v); give the client a shorter keepalive (e.g. mosquitto_sub -k 5) or raise the bound",
				k, EnvMaxKeepAlive, maxKeepAlive()))
		}
		return k
	}

	It("sends a packet at least once per keepalive while it is idle", Label("client:keepalive"),
		framework.Statements("MQTT-3.1.2-23"),
		Catches("no-pingreq"),
		SpecTimeout(connectBound+60*time.Second), func(ctx SpecContext) {
			s := launch(f)
			c := s.awaitConnected(ctx)
			k := keepAlive(c)
			window := 2*k + keepAliveSlack + time.Second
			es, _ := s.until(ctx, window, func(es []proxy.Entry) bool {
				for _, x := range connections(es) {
					if x.n == c.n {
						return !x.closedAt.IsZero()
					}
				}
				return false
			})
			for _, x := range connections(es) {
				if x.n == c.n {
					c = x
				}
			}
			end := time.Now()
			if !c.closedAt.IsZero() {
				end = c.closedAt
			}
			if end.Sub(c.connectAt) < k {
				Skip(fmt.Sprintf("not applicable: its connection lasted %s, less than its keepalive %v (%s): it never had to keep an idle connection alive",
					since(c.connectAt, end), k, c.closedBy))
			}
			last := c.connectAt
			pings := 0
			longest := time.Duration(0)
			for _, e := range c.sent() {
				if gap := e.At.Sub(last); gap > k+keepAliveSlack {
					Fail(fmt.Sprintf("the client sent nothing for %s (from %s to %s) with keepalive %v [MQTT-3.1.2-23]; a client must send PINGREQ when it has nothing else to send\n\ntrace:\n%s",
						since(last, e.At), since(s.prog.Started(), last), since(s.prog.Started(), e.At), k, s.excerpt()))
				}
				longest = max(longest, e.At.Sub(last))
				if e.Packet.Type == wire.PINGREQ {
					pings++
				}
				last = e.At
			}
			if silent := end.Sub(last); silent > k+keepAliveSlack || strings.Contains(c.closedBy, "broker") && silent > k {
				Fail(fmt.Sprintf("the client sent nothing for the last %s of its connection (keepalive %v) [MQTT-3.1.2-23]%s; a client must send PINGREQ when it has nothing else to send\n\ntrace:\n%s",
					since(last, end), k, closedHow(c), s.excerpt()))
			}
			AddReportEntry("client figures", fmt.Sprintf("keepalive %v: longest silence %.2f s, %d PINGREQ in %s watched", k, longest.Seconds(), pings, since(c.connectAt, end)), ReportEntryVisibilityAlways)
		})

	It("treats a link that has gone silent (no PINGRESP) as broken", Label("client:dead-link"),
		// 3.1.2.10: a client that gets no PINGRESP within a reasonable
		// time SHOULD close the connection. No numbered statement says so.
		Catches("ignores-missing-pingresp", "no-pingreq"),
		SpecTimeout(connectBound+60*time.Second), func(ctx SpecContext) {
			s := launch(f)
			c := s.awaitConnected(ctx)
			k := keepAlive(c)
			s.until(ctx, watch()/2, func(es []proxy.Entry) bool { return !s.prog.Running() })
			if !s.prog.Running() {
				Skip(fmt.Sprintf("not applicable: the program ended (%s) before Faultline could darken its link", s.prog.Status()))
			}
			dark := time.Now()
			s.link.Blackhole()
			bound := 2*k + 10*time.Second
			noticed := func(es []proxy.Entry) (time.Time, string) {
				for _, x := range connections(es) {
					switch {
					case x.n == c.n && strings.HasPrefix(x.closedBy, "client closed"):
						return x.closedAt, "closed its connection"
					case x.n > c.n:
						return x.openedAt, "opened a new connection"
					}
				}
				if !s.prog.Running() {
					return s.prog.Ended(), "ended (" + s.prog.Status() + ")"
				}
				return time.Time{}, ""
			}
			es, _ := s.until(ctx, bound, func(es []proxy.Entry) bool { t, _ := noticed(es); return !t.IsZero() })
			at, what := noticed(es)
			if at.IsZero() {
				Fail(fmt.Sprintf("the client still held its dead connection %v after its link went silent (keepalive %v): it should close a connection whose PINGRESP does not come (3.1.2.10)\n\ntrace:\n%s",
					bound, k, s.excerpt()))
			}
			AddReportEntry("client figures", fmt.Sprintf("keepalive %v: it %s %s after its link went silent", k, what, since(dark, at)), ReportEntryVisibilityAlways)
		})

	// breakers end the client's connection: "reset" (the network drops
	// it) or "close" (the broker closes it: Faultline takes the client's
	// session over with the same client id, as a second copy of the
	// client would).
	breakers := map[string]func(ctx context.Context, s *subject, c *conn){
		"reset": func(_ context.Context, s *subject, _ *conn) { s.link.Cut() },
		"close": func(ctx context.Context, s *subject, c *conn) {
			id := c.connect.ClientID
			if id == "" {
				Skip("not applicable: the client lets the broker assign its id, so Faultline cannot make the broker close its connection by taking its session over")
			}
			r := s.f.Raw(ctx, "faultline-takeover")
			hello := framework.ConnectPacket()
			hello.ClientID = id
			if _, err := r.Connect(hello); err != nil {
				Fail(fmt.Sprintf("Faultline could not take the client's session over (CONNECT as %q): %v", id, err))
			}
			_ = r.Send(wire.Disconnect())
			_ = r.Close()
		},
	}

	DescribeTable("reconnects after it loses its connection",
		// Not an MQTT 3.1.1 obligation: what a long-running client must do
		// to keep working. A program that ends instead is not judged.
		func(ctx SpecContext, how string) {
			s := launch(f)
			c := s.awaitConnected(ctx)
			var delays []string
			for round := 1; round <= 2; round++ {
				s.until(ctx, watch()/2, func(es []proxy.Entry) bool { return !s.prog.Running() })
				if !s.prog.Running() {
					if round == 1 {
						Skip(fmt.Sprintf("not applicable: the program ended (%s) before Faultline ended its connection", s.prog.Status()))
					}
					break
				}
				lost := time.Now()
				breakers[how](ctx, s, c)
				es, _ := s.until(ctx, reconnectBound(), func(es []proxy.Entry) bool {
					return acceptedAfter(es, c.n) != nil || !s.prog.Running()
				})
				next := acceptedAfter(es, c.n)
				switch {
				case next != nil:
					delays = append(delays, since(lost, next.connectAt))
					c = next
				case !s.prog.Running() && round == 1:
					Skip(fmt.Sprintf("not applicable: the program ended (%s) %s after its connection was lost (%s), without reconnecting (a one-shot program need not)",
						s.prog.Status(), since(lost, s.prog.Ended()), how))
				case !s.prog.Running():
					AddReportEntry("client figures", fmt.Sprintf("reconnected after %s; ended (%s) after the second loss (%s)", strings.Join(delays, ", "), s.prog.Status(), how), ReportEntryVisibilityAlways)
					return
				default:
					Fail(fmt.Sprintf("the client is still running but has not reconnected %v after its connection was lost (%s, #%d)\n\ntrace:\n%s", reconnectBound(), how, round, s.excerpt()))
				}
			}
			AddReportEntry("client figures", fmt.Sprintf("reconnected each time (%s), the CONNECT coming %s after the loss", how, strings.Join(delays, " and ")), ReportEntryVisibilityAlways)
		},
		func(how string) string {
			if how == "close" {
				return "closed by the broker (its session taken over)"
			}
			return "reset by the network"
		},
		Label("client:reconnect"),
		Entry(nil, "reset", Catches("no-reconnect"), SpecTimeout(connectBound+90*time.Second)),
		Entry(nil, "close", Catches("no-reconnect"), SpecTimeout(connectBound+90*time.Second)),
	)

	It("subscribes again when it reconnects to a broker that kept no session for it", Label("client:resubscribe"),
		// Not an MQTT obligation: without it a subscriber whose session
		// is gone (CONNACK session present 0) silently receives nothing.
		Catches("no-resubscribe"),
		SpecTimeout(connectBound+60*time.Second), func(ctx SpecContext) {
			if declared("publisher") {
				Skip("not applicable: " + EnvRole + "=publisher, so it has no subscriptions to renew")
			}
			s := launch(f)
			c := s.awaitConnected(ctx)
			es, _ := s.until(ctx, watch(), func(es []proxy.Entry) bool { return len(granted(es)) > 0 || !s.prog.Running() })
			filters := granted(es)
			if len(filters) == 0 {
				Skip(fmt.Sprintf("not applicable: in %v the client had no subscription granted", watch()))
			}
			if !s.prog.Running() {
				Skip(fmt.Sprintf("not applicable: the program ended (%s) before Faultline could cut its link", s.prog.Status()))
			}
			// The link goes down, and while it is down Faultline ends the
			// client's session on the broker, as a broker restart or
			// session expiry would.
			if err := s.link.Down(); err != nil {
				Fail(err.Error())
			}
			if id := c.connect.ClientID; id != "" {
				r := s.f.Raw(ctx, "faultline-session-end")
				hello := framework.ConnectPacket()
				hello.ClientID = id
				if _, err := r.Connect(hello); err != nil {
					Fail(fmt.Sprintf("Faultline could not end the client's session (CONNECT as %q): %v", id, err))
				}
				_ = r.Send(wire.Disconnect())
				_ = r.Close()
			}
			if err := s.link.Restore(); err != nil {
				Fail(err.Error())
			}
			restored := time.Now()
			es, _ = s.until(ctx, reconnectBound(), func(es []proxy.Entry) bool { return acceptedAfter(es, c.n) != nil || !s.prog.Running() })
			next := acceptedAfter(es, c.n)
			switch {
			case next == nil && !s.prog.Running():
				Skip(fmt.Sprintf("not applicable: the program ended (%s) after losing its connection", s.prog.Status()))
			case next == nil:
				Skip(fmt.Sprintf("not judged: the client did not reconnect within %v (the reconnect spec judges that)", reconnectBound()))
			case next.connack.SessionPresent:
				Fail(fmt.Sprintf("the broker still had a session for the client after Faultline ended it (CONNACK session present 1): nothing to judge\n\ntrace:\n%s", s.excerpt()))
			}
			missing := func(es []proxy.Entry) []string {
				again := map[string]bool{}
				for _, x := range connections(es) {
					if x.n < next.n {
						continue
					}
					for _, e := range x.sent() {
						if e.Packet.Type == wire.SUBSCRIBE {
							for _, sub := range e.Packet.Subscriptions {
								again[sub.Filter] = true
							}
						}
					}
				}
				var out []string
				for _, f := range filters {
					if !again[f] {
						out = append(out, f)
					}
				}
				return out
			}
			es, _ = s.until(ctx, answerBound, func(es []proxy.Entry) bool { return len(missing(es)) == 0 })
			if m := missing(es); len(m) > 0 {
				Fail(fmt.Sprintf("the client reconnected %s after the link came back, to a broker with no session for it (CONNACK session present 0), but did not subscribe again to %q within %v: it now receives nothing on them\n\ntrace:\n%s",
					since(restored, next.connectAt), m, answerBound, s.excerpt()))
			}
			AddReportEntry("client figures", fmt.Sprintf("reconnected %s after the link came back and subscribed again to %d filter(s)", since(restored, next.connectAt), len(filters)), ReportEntryVisibilityAlways)
		})
})

// granted are the filters the broker granted the client, in order.
func granted(es []proxy.Entry) []string {
	requested := map[uint16][]wire.Subscription{}
	var out []string
	for _, e := range es {
		if e.Kind != proxy.Passed {
			continue
		}
		switch p := e.Packet; {
		case p.Type == wire.SUBSCRIBE && e.Dir == proxy.ToBroker:
			requested[p.PacketID] = p.Subscriptions
		case p.Type == wire.SUBACK && e.Dir == proxy.FromBroker:
			subs := requested[p.PacketID]
			for i, code := range p.ReasonCodes {
				if i < len(subs) && code <= 2 && !slices.Contains(out, subs[i].Filter) {
					out = append(out, subs[i].Filter)
				}
			}
		}
	}
	return out
}

func closedHow(c *conn) string {
	if c.closedBy == "" {
		return ""
	}
	return " (then: " + c.closedBy + ")"
}
