// Package chaos runs seeded chaos: publishers at every QoS and subscribers
// with persistent and clean sessions, MQTT 3.1.1 and 5.0 clients mixed on
// one broker (mix5.go), exchange messages through links that
// a seeded schedule hits with resets, packet cuts, blackholes, latency,
// bandwidth limits, fragmentation and outages. Traffic (Publish), faults
// (Plan, Inject) and validation (the history checker) are separate parts.
// The same seed gives the same schedule.
package chaos

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
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
			versions := map[string]string{}
			var names []string
			for _, c := range append(pubs, subs...) {
				links[c.Name] = c.Link
				versions[c.Name] = "3.1.1"
				names = append(names, c.Name)
			}
			// The 5.0 clients on the same broker: every message crosses
			// versions on its way to one subscriber or another.
			mixed := Mix5(ctx, f, root)
			for _, c := range mixed.Clients() {
				links[c.Name] = c.Link
				versions[c.Name] = "5.0"
				names = append(names, c.Name)
			}
			sort.Strings(names)
			schedule := Plan(cfg.Seed, names, cfg.Length)
			AddReportEntry("chaos schedule", schedule.String(), ReportEntryVisibilityFailureOrVerbose)
			fmt.Fprintf(GinkgoWriter, "chaos: seed %d (rerun with FAULTLINE_CHAOS_SEED=%d), %d messages per publisher over %v; %s\n",
				cfg.Seed, cfg.Seed, cfg.Messages, cfg.Length, mixed)

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
			acked5 := mixed.Publish(ctx, cfg, root)
			for range pubs {
				<-done
			}
			problems := <-faults
			Expect(problems).To(BeEmpty(), "the fault injector could not apply every fault")

			// Every QoS 1 and 2 message a persistent subscriber was owed,
			// whatever the version of its publisher.
			owed := append(append([]string{}, acked[1]...), acked[2]...)
			for _, a := range acked5 {
				owed = append(owed, a...)
			}
			for _, s := range subs[:2] {
				f.Drain(ctx, s, owed...)
			}
			f.Drain(ctx, subs[2])
			mixed.Drain(ctx, owed)
			v := f.Verdict()
			summary := fmt.Sprintf("seed %d: %v of traffic and faults, %d faults, 3.1.1 %s; %s\n%s",
				cfg.Seed, time.Since(start).Round(time.Millisecond), len(schedule.Events), acks(acked), mixed.Acks(acked5), v.Summary())
			if len(v.Violations) > 0 {
				summary += "\n" + byVersion(v.Violations, versions)
			}
			AddReportEntry("chaos summary", summary, ReportEntryVisibilityAlways)
			AddReportEntry(reports.ChaosTimelineEntry, timeline(f.History(), start, schedule, versions), ReportEntryVisibilityNever) // the HTML report's chart
			Expect(v).To(Hold(), func() string { return excerpts(f, v.Violations) + byVersion(v.Violations, versions) })
		})
})

func acks(acked [][]string) string {
	var parts []string
	for q, a := range acked {
		parts = append(parts, fmt.Sprintf("QoS %d: %d acknowledged", q, len(a)))
	}
	return strings.Join(parts, ", ")
}

// byVersion counts each rule's violations by the MQTT versions of the
// publisher and subscriber they name ("3.1.1 → 5.0": a 3.1.1 publisher's
// message at a 5.0 subscriber; "wire → 5.0": a wire rule on a 5.0
// client's link).
func byVersion(vs []history.Violation, versions map[string]string) string {
	count := map[string]map[string]int{}
	for _, v := range vs {
		from, to := versions[v.Publisher], versions[v.Subscriber]
		if from == "" {
			from = "wire" // a wire rule: no publisher
		}
		if to == "" {
			to = "?"
		}
		if count[v.Rule] == nil {
			count[v.Rule] = map[string]int{}
		}
		count[v.Rule][from+" → "+to]++
	}
	var rules []string
	for _, r := range slices.Sorted(maps.Keys(count)) {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(count[r])) {
			parts = append(parts, fmt.Sprintf("%s %d", k, count[r][k]))
		}
		rules = append(rules, fmt.Sprintf("%s: %s", r, strings.Join(parts, ", ")))
	}
	return "violations by publisher → subscriber version: " + strings.Join(rules, "; ")
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
