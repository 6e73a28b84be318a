package conformance

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// keepaliveSlack is what the measurement of a keepalive disconnect allows
// beyond 1.5 × keepalive: the broker's timer wakes up a little late, and
// the link sees the close a little after the broker makes it.
const keepaliveSlack = 250 * time.Millisecond

// Keepalive: clients talk to the broker over raw connections, so that
// nothing but the spec decides when a packet is sent.
var _ = Describe("Keepalive", Label("keepalive"), func() {
	f := New()

	// connect opens a raw connection announcing keepalive ka.
	connect := func(ctx SpecContext, name string, ka time.Duration) *Raw {
		GinkgoHelper()
		r := f.Raw(ctx, name)
		p := ConnectPacket()
		p.KeepAlive = uint16(ka / time.Second)
		_, err := r.Connect(p)
		Expect(err).NotTo(HaveOccurred())
		return r
	}

	DescribeTable("a client that goes silent is disconnected by the broker within one and a half times its keepalive, and not before the keepalive has passed",
		func(ctx SpecContext, ka time.Duration) {
			limit := ka * 3 / 2
			// Two clients go silent 2.5 s apart, so that a broker checking
			// keepalives on a coarse periodic timer cannot be on time for
			// both by luck. Time passing is the subject: the Sleep sets the
			// second client's phase.
			var links []*proxy.Link
			for i, name := range []string{"silent-1", "silent-2"} {
				if i > 0 {
					time.Sleep(2500 * time.Millisecond)
				}
				r := connect(ctx, name, ka)
				// The cable is pulled: the client's bytes stop, the sockets stay open.
				r.Link.Blackhole()
				links = append(links, r.Link)
			}

			var closes []BrokerClose
			for _, l := range links {
				// Wait long enough to measure a late broker too.
				Eventually(l).WithContext(ctx).WithTimeout(limit+10*time.Second).Should(BeClosedByTheBroker(),
					"the broker kept the connection of %s, silent for more than 1.5 × its keepalive of %v and 10 s more", l.Name(), ka)
				closed, _ := BrokerClosed(l)
				closes = append(closes, closed)
			}
			AddReportEntry("keepalive", fmt.Sprintf("keepalive %v: the broker closed the connections %v and %v after the client's last packet (1.5 × keepalive = %v)",
				ka, closes[0].Silence.Round(time.Millisecond), closes[1].Silence.Round(time.Millisecond), limit))
			for i, c := range closes {
				Expect(c.Silence).To(BeNumerically("<=", limit+keepaliveSlack),
					"the broker closed the connection of %s %v after the client's last packet: later than 1.5 × keepalive (%v)", links[i].Name(), c.Silence, limit)
				Expect(c.Silence).To(BeNumerically(">=", ka),
					"the broker closed the connection of %s %v after the client's last packet: before the keepalive of %v had passed", links[i].Name(), c.Silence, ka)
			}
		},
		ConformanceEntry("keepalive 1 s", time.Second, Statements("MQTT-3.1.2-24"), Catches("ignore-keepalive", "keepalive-too-strict")),
		ConformanceEntry("keepalive 2 s", 2*time.Second, Statements("MQTT-3.1.2-24"), Catches("ignore-keepalive", "keepalive-too-strict")),
	)

	ConformanceIt("keeps a client connected that sends a PINGREQ within every keepalive period",
		Statements("MQTT-3.1.2-24", "MQTT-3.12.4-1"), Catches("keepalive-too-strict"), func(ctx SpecContext) {
			const ka = 2 * time.Second
			r := connect(ctx, "pinger", ka)

			// Time passing is the subject here: the client is silent for
			// 0.9 × keepalive between PINGREQs, longer in all than 1.5 ×
			// keepalive, so a broker that ignored the PINGREQs would drop it.
			for i := range 2 {
				time.Sleep(ka * 9 / 10)
				Expect(r.Send(wire.PingReq())).To(Succeed())
				_, err := r.Expect(wire.PINGRESP, time.Second)
				Expect(err).NotTo(HaveOccurred(), "PINGREQ %d (%v after the previous packet) got no PINGRESP: the connection was dropped", i+1, ka*9/10)
			}
			Expect(r.Link).NotTo(BeClosedByTheBroker())
		})

	ConformanceIt("answers every PINGREQ with a PINGRESP",
		Statements("MQTT-3.12.4-1"), Catches("no-pingresp"), func(ctx SpecContext) {
			r := connect(ctx, "pinger", 30*time.Second)

			for i := range 3 {
				Expect(r.Send(wire.PingReq())).To(Succeed())
				_, err := r.Expect(wire.PINGRESP, 2*time.Second)
				Expect(err).NotTo(HaveOccurred(), "PINGREQ %d got no PINGRESP", i+1)
			}
		})

	ConformanceIt("does not disconnect a silent client whose keepalive is 0",
		Statements("MQTT-3.1.2-24"), Catches("zero-keepalive-enforced"), func(ctx SpecContext) {
			r := connect(ctx, "silent", 0)

			// Keepalive 0 turns the mechanism off: no silence is too long.
			// The spec waits 3 s, longer than 1.5 × any keepalive it uses,
			// and not longer, to stay fast.
			Consistently(r.Link).WithContext(ctx).WithTimeout(3*time.Second).WithPolling(50*time.Millisecond).
				ShouldNot(BeClosedByTheBroker(), "the broker disconnected a client whose keepalive is 0")
			Expect(r.Send(wire.PingReq())).To(Succeed())
			_, err := r.Expect(wire.PINGRESP, 2*time.Second)
			Expect(err).NotTo(HaveOccurred(), "after 3 s of silence with keepalive 0 the connection no longer answers")
		})
})
