package framework

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// A Client5 waits for the broker's answers (CONNACK, SUBACK, UNSUBACK,
// PUBACK, PUBREC, PUBCOMP, PINGRESP) as the 3.1.1 clients do (stall.go):
// at most the acknowledgement bound after its request crossed the link,
// and the failure says what never came ("the broker never sent PUBCOMP
// for packet id 7 (PUBREL sent 5.0 s ago)"). That failure counts in the
// run's record of missing answers, and once the same answer is missing
// in reports.StallAfter specs, a Client5 waits for it only stallGrace.
// An answer a fault kept away (the link cut the connection) is not
// missing: that wait ends at its own limit, with the old words.

// answerLimit5 bounds a Client5's wait for an answer whatever happens:
// a little over the acknowledgement bound, which runs from the moment
// the request crossed the link, a little after it was written (cut
// short, as every wait's, for an answer the run found withheld).
func answerLimit5() time.Duration { return ackTimeout() + 500*time.Millisecond }

// waitAnswer waits, as wait does, until cond (called under c.mu) holds
// or fails; it waits for the broker's answer of type answer to packet id
// id (0 for CONNACK and PINGRESP) on the client's link, and ends as soon
// as that answer is overdue.
func (c *Client5) waitAnswer(ctx context.Context, since int, answer wire.Type, id uint16, what string, cond func() (bool, error)) error {
	limit, why := stalledLimit(answerLimit5(), answer)
	timer := time.NewTimer(limit)
	defer timer.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	holds := func() (bool, chan struct{}, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		ok, err := cond()
		return ok, c.changed, err
	}
	for {
		ok, ch, err := holds()
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", what, err)
		case ok:
			return nil
		}
		select {
		case <-ch:
			continue
		case <-ctx.Done():
			return fmt.Errorf("%s: %w%s", what, context.Cause(ctx), c.meanwhile(since))
		case <-timer.C:
			return fmt.Errorf("%s within %v%s%s", what, limit, why, c.meanwhile(since))
		case <-tick.C:
		}
		c.Link.Trace().Sync()
		t, text, late := c.answers.overdue(time.Now(), answerKey{answer, id})
		if !late {
			continue
		}
		if ok, _, err := holds(); ok || err != nil {
			continue // it came (or the connection ended) after all
		}
		noteMissing(t)
		return fmt.Errorf("%s: %w%s", what, &missingAnswer{answer: t, text: text}, c.meanwhile(since))
	}
}
