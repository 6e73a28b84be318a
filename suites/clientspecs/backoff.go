package clientspecs

import (
	"fmt"
	"math"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/suites/framework"
)

// The reconnect attempts the back-off spec refuses in a row, and the
// shortest wait after a failed attempt that is not "at once".
const (
	backoffAttempts = 5
	noWait          = 50 * time.Millisecond
)

var _ = Describe("A client program under test, while its broker cannot be reached", Label("client"), func() {
	f := framework.New()

	It("waits between its reconnect attempts instead of retrying at once (waits and growth reported as figures)", Label("client:backoff"),
		// Not an MQTT obligation: a client that retries at once, again and
		// again, floods a broker that is struggling to come back (and with
		// a fleet of such clients, keeps it down).
		Catches("no-backoff"),
		SpecTimeout(connectBound+60*time.Second), func(ctx SpecContext) {
			s := launch(f)
			c := s.awaitConnected(ctx)
			s.until(ctx, watch()/2, func([]proxy.Entry) bool { return !s.prog.Running() })
			if !s.prog.Running() {
				Skip(fmt.Sprintf("not applicable: the program ended (%s) before Faultline ended its connection", s.prog.Status()))
			}
			// Each of the next attempts reaches the broker, but its
			// CONNACK never reaches the client: the connection is reset
			// just before it, as when a broker is coming back.
			var faults []*proxy.Fault
			for i := 1; i <= backoffAttempts; i++ {
				fault, err := s.link.Arm(proxy.Before(proxy.FromBroker, proxy.Packet(wire.CONNACK)).Nth(i))
				if err != nil {
					Fail(err.Error())
				}
				faults = append(faults, fault)
			}
			lost := time.Now()
			s.link.Cut()
			last := faults[len(faults)-1]
			es, _ := s.until(ctx, reconnectBound(), func([]proxy.Entry) bool {
				select {
				case <-last.Fired():
					return true
				default:
					return !s.prog.Running()
				}
			})
			if err := s.link.Restore(); err != nil {
				Fail(err.Error())
			}
			var attempts []*conn
			for _, x := range connections(es) {
				if x.n > c.n {
					attempts = append(attempts, x)
				}
			}
			switch {
			case len(attempts) == 0 && !s.prog.Running():
				Skip(fmt.Sprintf("not applicable: the program ended (%s) after its connection was lost, without trying to reconnect (a one-shot program need not)", s.prog.Status()))
			case len(attempts) == 0:
				Skip(fmt.Sprintf("not judged: the client made no reconnect attempt within %v (the reconnect spec judges that)", reconnectBound()))
			}
			// The wait before each attempt: from the loss, then from the
			// end of the attempt before it.
			var waits []time.Duration
			from := lost
			for _, a := range attempts {
				waits = append(waits, a.openedAt.Sub(from))
				from = a.closedAt
				if from.IsZero() {
					break
				}
			}
			figures := backoffFigures(waits)
			if len(waits) > 1 {
				atOnce := true
				for _, w := range waits[1:] {
					atOnce = atOnce && w < noWait
				}
				if atOnce && len(waits) >= backoffAttempts-1 {
					Fail(fmt.Sprintf("the client retried at once after each failed attempt: %s; it should wait, and wait longer each time (back off), so that a broker coming back is not flooded\n\ntrace:\n%s",
						figures, s.excerpt()))
				}
			}
			AddReportEntry("client figures", figures, ReportEntryVisibilityAlways)
		})
})

// backoffFigures tells the waits before a client's reconnect attempts:
// each, and how they grew.
func backoffFigures(waits []time.Duration) string {
	var parts []string
	for _, w := range waits {
		parts = append(parts, fmt.Sprintf("%.2f", w.Seconds()))
	}
	text := fmt.Sprintf("%d reconnect attempt(s), each refused (reset before its CONNACK); waits before them: %s s (the first from the loss, the others from the failed attempt before)",
		len(waits), strings.Join(parts, ", "))
	if len(waits) < 3 {
		return text
	}
	// Growth between the waits after failures (the first wait follows a
	// connection that had worked, which many clients treat apart).
	after := waits[1:]
	first, final := after[0], after[len(after)-1]
	ratio := 0.0
	if first > 0 {
		ratio = float64(final) / float64(first)
	}
	switch {
	case final < noWait:
		text += "; it retries at once"
	case ratio >= 1.5:
		step := 1.0
		if n := len(after) - 1; n > 0 && first > 0 {
			step = math.Pow(ratio, 1/float64(n))
		}
		text += fmt.Sprintf("; it backs off: the wait grew ×%.1f from %.2f s to %.2f s (about ×%.1f per attempt)", ratio, first.Seconds(), final.Seconds(), step)
	default:
		text += fmt.Sprintf("; a steady wait of about %.2f s, no growth (fine for one client; a fleet reconnecting together is gentler on a broker with a growing, jittered wait)", final.Seconds())
	}
	return text
}
