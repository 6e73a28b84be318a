package chaos

import (
	"time"

	"github.com/faultline-mqtt/faultline/reports"
	"github.com/faultline-mqtt/faultline/suites/history"
)

// timeline counts the run's traffic per time bucket, from the start of the
// traffic, and lists its faults and each client's MQTT version: the HTML
// report's chaos chart.
func timeline(h history.History, start time.Time, s Schedule, versions map[string]string) reports.ChaosTimeline {
	offset := start.Sub(h.Base)
	end := time.Duration(0)
	for _, e := range h.Events {
		end = max(end, e.At-offset)
	}
	for _, e := range s.Events {
		end = max(end, e.At+e.For)
	}
	bucket := max(250*time.Millisecond, (end / 60).Round(50*time.Millisecond))
	n := int(end/bucket) + 1
	t := reports.ChaosTimeline{Seed: s.Seed, Bucket: bucket.Seconds(),
		Published: make([]int, n), Acked: make([]int, n), Delivered: make([]int, n), Versions: versions}
	at := func(d time.Duration) int { return min(max(int((d-offset)/bucket), 0), n-1) }
	for _, e := range h.Events {
		switch e.Kind {
		case history.KindPublish:
			t.Published[at(e.At)]++
			if e.Outcome == history.OutcomeAcked {
				t.Acked[at(e.At)]++
			}
		case history.KindDelivered:
			t.Delivered[at(e.At)]++
		}
	}
	for _, e := range s.Events {
		t.Faults = append(t.Faults, reports.FaultWindow{Link: e.Link, Kind: e.Kind.String(),
			From: e.At.Seconds(), To: (e.At + e.For).Seconds()})
	}
	return t
}
