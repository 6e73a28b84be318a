package framework

import (
	"context"
	"time"

	"github.com/onsi/ginkgo/v2"
)

// Drain5 is Drain for a 5.0 subscriber: it waits until sub has received
// every payload at least once, its link has finished every QoS 2 handshake
// it started and then stayed quiet, or DrainTimeout passes; then it marks
// the subscriber drained in the history. It does not fail by itself.
func (f *Framework) Drain5(ctx context.Context, sub *Client5, payloads ...string) {
	ginkgo.GinkgoHelper()
	deadline := time.Now().Add(DrainTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		if sub.hasAll(payloads) && sub.settled() {
			break
		}
		select {
		case <-ctx.Done():
			f.rec.Drained(sub.Name)
			return
		case <-tick.C:
		}
	}
	f.rec.Drained(sub.Name)
}

func (c *Client5) hasAll(payloads []string) bool {
	c.mu.Lock()
	got := make(map[string]bool, len(c.msgs))
	for _, m := range c.msgs {
		got[m.Payload] = true
	}
	c.mu.Unlock()
	for _, p := range payloads {
		if !got[p] {
			return false
		}
	}
	return true
}

// settled says whether no QoS 2 delivery to the client waits for its
// PUBREL, no acknowledgement is withheld, and nothing has crossed its link
// for a while.
func (c *Client5) settled() bool {
	if last, ok := c.Link.Trace().Last(); ok && time.Since(last.At) < quiet {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.unreleased) == 0 && len(c.held) == 0
}
