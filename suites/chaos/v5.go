package chaos

import (
	"context"
	"time"

	"github.com/faultline-mqtt/faultline/suites/framework"
)

// Publish5 is Publish for a 5.0 client that resumes its session by itself
// (framework.Resume5): n messages named prefix-1..prefix-n to topic at
// qos, at most window in flight, spread over length. The client sends
// again, on the resumed session, what a cut interrupted (DUP 1, the same
// packet id), and Publish waits for the end of the flow across
// reconnects. It returns the payloads whose flow ended with a success
// reason code.
func Publish5(ctx context.Context, c *framework.Client5, topic string, qos byte, prefix string, n, window int, length time.Duration) []string {
	return publishEach(ctx, prefix, n, window, length, func(payload string) func() bool {
		return func() bool {
			ack, err := c.Publish(ctx, topic, qos, payload)
			return err == nil && ack.ReasonCode < 0x80
		}
	})
}
