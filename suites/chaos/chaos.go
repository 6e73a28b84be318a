// Package chaos runs seeded chaos: publishers at every QoS and subscribers
// with persistent and clean sessions exchange messages through links that
// a seeded schedule hits with resets, packet cuts, blackholes, latency,
// bandwidth limits, fragmentation and outages. Traffic (Publish), faults
// (Plan, Inject) and validation (the history checker) are separate parts.
// The same seed gives the same schedule.
package chaos

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/reports"
	. "github.com/faultline-mqtt/faultline/suites/framework"
	"github.com/faultline-mqtt/faultline/suites/history"
)

var _ = Describe("Chaos", Label("chaos"), func() {
	f := New()

	ConformanceIt("keeps every QoS guarantee while a seeded schedule of faults hits every link",
		Statements("MQTT-4.3.1-1", "MQTT-4.3.2-2", "MQTT-4.3.3-2", "MQTT-4.4.0-1", "MQTT-3.1.2-5", "MQTT-4.6.0-6", "MQTT-3.3.1-1"),
		Catches("lose-publish-on-disconnect", "no-redelivery", "qos2-delivered-twice", "no-dup-on-redelivery", "out-of-order"),
		SpecTimeout(10*time.Minute), func(ctx SpecContext) {
			cfg, err := FromEnv()
			Expect(err).NotTo(HaveOccurred())
			if cfg.Seed == 0 {
				var b [8]byte
				_, _ = rand.Read(b[:])
				cfg.Seed = binary.LittleEndian.Uint64(b[:]) >> 1
			}
			root := f.TopicRoot() + "/chaos"

			subs := []*Client{
				f.Subscriber(ctx, "s2", root+"/#", 2, Persistent(), AutoReconnect()),
				f.Subscriber(ctx, "s1", root+"/#", 1, Persistent(), AutoReconnect()),
				f.Subscriber(ctx, "s0", root+"/#", 1, AutoReconnect(), Resubscribe()),
			}
			pubs := []*Client{
				f.Client(ctx, "p0", AutoReconnect()),
				f.Client(ctx, "p1", Persistent(), AutoReconnect()),
				f.Client(ctx, "p2", Persistent(), AutoReconnect()),
			}
			links := map[string]*proxy.Link{}
			var names []string
			for _, c := range append(pubs, subs...) {
				links[c.Name] = c.Link
				names = append(names, c.Name)
			}
			sort.Strings(names)
			schedule := Plan(cfg.Seed, names, cfg.Length)
			AddReportEntry("chaos schedule", schedule.String(), ReportEntryVisibilityFailureOrVerbose)
			fmt.Fprintf(GinkgoWriter, "chaos: seed %d (rerun with FAULTLINE_CHAOS_SEED=%d), %d messages per publisher over %v\n",
				cfg.Seed, cfg.Seed, cfg.Messages, cfg.Length)

			start := time.Now()
			faults := make(chan []string, 1)
			go func() { faults <- Inject(ctx, schedule, links) }()
			acked := make([][]string, len(pubs))
			done := make(chan struct{}, len(pubs))
			for q, p := range pubs {
				go func() {
					defer func() { done <- struct{}{} }() // also when it failed
					defer GinkgoRecover()
					acked[q] = Publish(ctx, p, fmt.Sprintf("%s/q%d", root, q), byte(q), fmt.Sprintf("q%d", q), cfg.Messages, cfg.Window, cfg.Length)
				}()
			}
			for range pubs {
				<-done
			}
			problems := <-faults
			Expect(problems).To(BeEmpty(), "the fault injector could not apply every fault")

			// Every QoS 1 and 2 message a persistent subscriber was owed.
			owed := append(append([]string{}, acked[1]...), acked[2]...)
			for _, s := range subs[:2] {
				f.Drain(ctx, s, owed...)
			}
			f.Drain(ctx, subs[2])
			v := f.Verdict()
			summary := fmt.Sprintf("seed %d: %v of traffic and faults, %d faults, %s\n%s",
				cfg.Seed, time.Since(start).Round(time.Millisecond), len(schedule.Events), acks(acked), v.Summary())
			AddReportEntry("chaos summary", summary, ReportEntryVisibilityAlways)
			AddReportEntry(reports.ChaosTimelineEntry, timeline(f.History(), start, schedule), ReportEntryVisibilityNever) // the HTML report's chart
			Expect(v).To(Hold(), func() string { return excerpts(f, v.Violations) })
		})
})

func acks(acked [][]string) string {
	var parts []string
	for q, a := range acked {
		parts = append(parts, fmt.Sprintf("QoS %d: %d acknowledged", q, len(a)))
	}
	return strings.Join(parts, ", ")
}

// excerpts shows, for the first violations, the wire around the messages
// they name.
func excerpts(f *Framework, vs []history.Violation) string {
	var b strings.Builder
	for _, group := range ByRule(vs, 2) {
		for _, v := range group.Shown {
			fmt.Fprintf(&b, "%s\n%s\n", v, f.TraceExcerpt(v.MsgIDs, 2, 30))
		}
	}
	return b.String()
}
