package framework

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/suites/history"
)

// DrainTimeout bounds how long Drain waits for messages to arrive.
const DrainTimeout = 10 * time.Second

// quiet is how long a subscriber's link must stay silent before the
// harness stops waiting for more deliveries to it (late duplicates).
const quiet = 250 * time.Millisecond

// Drain waits until sub has received every payload at least once, its link
// has finished every handshake it started and then stayed quiet, or
// DrainTimeout passes; then it marks the subscriber drained in the history.
// It does not fail by itself: the checker judges what did or did not arrive.
func (f *Framework) Drain(ctx context.Context, sub *Client, payloads ...string) {
	f.drain(ctx, sub.Name, func() bool { return hasAll(sub.Payloads(), payloads) && sub.settled() })
}

// drain waits until done says the subscriber has settled, or DrainTimeout
// or ctx ends, and marks it drained in the history (Drain, Drain5).
func (f *Framework) drain(ctx context.Context, name string, done func() bool) {
	deadline := time.Now().Add(DrainTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) && !done() {
		select {
		case <-ctx.Done():
			deadline = time.Now()
		case <-tick.C:
		}
	}
	f.rec.Drained(name)
}

// hasAll says whether got holds every one of want.
func hasAll(got, want []string) bool {
	have := make(map[string]bool, len(got))
	for _, p := range got {
		have[p] = true
	}
	for _, p := range want {
		if !have[p] {
			return false
		}
	}
	return true
}

// settled says whether every QoS handshake on the client's link has ended
// and nothing has crossed it for a while.
func (c *Client) settled() bool {
	if last, ok := c.Link.Trace().Last(); ok && time.Since(last.At) < quiet {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.unreleased) == 0 && len(c.awaiting) == 0
}

// Verdict judges the spec's history so far with the checker of
// suites/history (all rules unless some are named).
func (f *Framework) Verdict(rules ...string) history.Verdict {
	var opts []history.Option
	if len(rules) > 0 {
		opts = append(opts, history.Rules(rules...))
	}
	return history.Check(f.History(), opts...)
}

// describe renders a verdict for failure messages.
func describe(v history.Verdict) string {
	var b strings.Builder
	for _, group := range ByRule(v.Violations, 3) {
		for _, x := range group.Shown {
			fmt.Fprintf(&b, "  %s\n", x)
		}
		if group.More > 0 {
			fmt.Fprintf(&b, "  … and %d more %s\n", group.More, group.Rule)
		}
	}
	b.WriteString(v.Summary())
	return b.String()
}

// RuleGroup is up to a few violations of one rule, and how many more.
type RuleGroup struct {
	Rule  string
	Shown []history.Violation
	More  int
}

// ByRule groups violations by rule, in the order rules first appear,
// keeping at most most of each: a rare rule is not drowned by a common one.
func ByRule(vs []history.Violation, most int) []RuleGroup {
	var groups []RuleGroup
	index := map[string]int{}
	for _, v := range vs {
		i, ok := index[v.Rule]
		if !ok {
			i = len(groups)
			index[v.Rule] = i
			groups = append(groups, RuleGroup{Rule: v.Rule})
		}
		if len(groups[i].Shown) < most {
			groups[i].Shown = append(groups[i].Shown, v)
		} else {
			groups[i].More++
		}
	}
	return groups
}

// ExpectFirstSendsWithoutDup checks that each of the messages sent
// reached sub, and that the first copy of each carried DUP=0: they were
// queued while sub had no connection, so the broker had never sent them
// before [MQTT-3.3.1-3].
func ExpectFirstSendsWithoutDup(sub *Client, sent ...string) {
	ginkgo.GinkgoHelper()
	first := map[string]Message{}
	for _, m := range sub.Received() {
		if _, seen := first[m.Payload]; !seen {
			first[m.Payload] = m
		}
	}
	for _, payload := range sent {
		m, ok := first[payload]
		gomega.Expect(ok).To(gomega.BeTrue(), "%s never received %q, queued for it while it had no connection", sub.Name, payload)
		gomega.Expect(m.Dup).To(gomega.BeFalse(),
			"%s's first copy of %q came with DUP=1, but the broker had never sent it before (it was queued while %s had no connection): a first delivery must carry DUP=0 [MQTT-3.3.1-3]",
			sub.Name, payload, sub.Name)
	}
}
