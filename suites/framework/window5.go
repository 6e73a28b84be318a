package framework

import (
	"context"
	"fmt"
	"time"
)

// HeldWindow waits, while the client withholds its acknowledgements, for
// what the broker sends before it wants one: the window of unacknowledged
// QoS 1 and 2 PUBLISHes it keeps towards the client. It returns the
// messages received since the client began withholding or last sent its
// withheld acknowledgements (QoS 0 ones among them too, as they need no
// window). A broker may keep any window from one message up to the
// client's Receive Maximum, so this waits for at least one message, then
// until the client has upTo messages in all or nothing has come for a
// quarter of a second (each wait bounded by AckTimeout). The verdicts of
// the specs using it never depend on where a round ends: they judge what
// came while nothing was acknowledged, however much that is.
func (c *Client5) HeldWindow(ctx context.Context, upTo int) ([]Message5, error) {
	c.mu.Lock()
	since, from := len(c.inbox), c.acked
	c.mu.Unlock()
	err := c.wait(ctx, since, fmt.Sprintf("%s: no message came while it withheld its acknowledgements (it had %d)", c.Name, from), func() (bool, error) {
		return len(c.msgs) > from, nil
	})
	if err != nil {
		return nil, err
	}
	deadline := time.NewTimer(AckTimeout())
	defer deadline.Stop()
	for {
		c.mu.Lock()
		n, ch := len(c.msgs), c.changed
		idle := time.Since(c.inbox[len(c.inbox)-1].At)
		c.mu.Unlock()
		if n >= upTo || idle >= quiet {
			return c.Messages()[from:], nil
		}
		wake := time.NewTimer(quiet - idle)
		select {
		case <-ch:
		case <-wake.C:
		case <-deadline.C: // a broker still sending after AckTimeout: judge what came
			wake.Stop()
			return c.Messages()[from:], nil
		case <-ctx.Done():
			wake.Stop()
			return nil, fmt.Errorf("%s: waiting for the broker's window: %w", c.Name, context.Cause(ctx))
		}
		wake.Stop()
	}
}
