package chaos

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/faultline-mqtt/faultline/suites/framework"
)

// The 5.0 side of the chaos run: 5.0 publishers and subscribers share the
// broker with the 3.1.1 ones, so every message crosses versions (a 3.1.1
// publisher's to the 5.0 subscribers, a 5.0 publisher's to the 3.1.1
// subscribers) and the same history checker judges it.
//
// Client5 does not reconnect by itself: Keep does it for the run, resuming
// the session (Clean Start 0, Session Expiry Interval sessionSeconds) when
// the client is persistent. A 5.0 publisher does not send again what was in
// flight when its connection ended (Client5 cannot yet); the history then
// holds that message's outcome as unknown, which the checker allows to be
// delivered once or not at all, never twice at QoS 2.

// sessionSeconds is the Session Expiry Interval, in seconds, of the run's
// persistent 5.0 clients: long enough to outlive every outage of the
// schedule. The janitor ends the sessions after the spec.
const sessionSeconds = 300

// reconnectBound bounds one reconnection attempt, so that a CONNECT
// swallowed by a blackhole is given up in time for the next try.
const reconnectBound = 2 * time.Second

// Keeper keeps a 5.0 client connected through the schedule's faults.
type Keeper struct {
	c          *framework.Client5
	persistent bool
	filter     string // subscribers: subscribed again when the broker kept no session
	qos        byte
	stop       chan struct{}
	done       chan struct{}
	mu         sync.Mutex
	reconnects int
}

// Keep watches c and reconnects it whenever its connection ends, until
// Stop: with Clean Start 0 when persistent, so the broker resumes its
// session. A subscriber (filter not empty) subscribes again when the
// broker had no session for it.
func Keep(ctx context.Context, c *framework.Client5, persistent bool, filter string, qos byte) *Keeper {
	k := &Keeper{c: c, persistent: persistent, filter: filter, qos: qos, stop: make(chan struct{}), done: make(chan struct{})}
	go k.run(ctx)
	return k
}

func (k *Keeper) run(ctx context.Context) {
	defer close(k.done)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	subscribed := k.filter == "" || k.c.Connected()
	for {
		select {
		case <-k.stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if k.c.Connected() {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, reconnectBound)
		ack, err := k.c.Connect(cctx, framework.CleanStart(!k.persistent))
		cancel()
		if err != nil {
			continue // the link is down, blackholed or cut again: the next tick tries again
		}
		k.mu.Lock()
		k.reconnects++
		k.mu.Unlock()
		if !ack.SessionPresent {
			subscribed = k.filter == ""
		}
		if !subscribed {
			sctx, cancel := context.WithTimeout(ctx, reconnectBound)
			code, err := k.c.Subscribe(sctx, k.filter, k.qos, 0)
			cancel()
			subscribed = err == nil && code < 0x80
		}
	}
}

// Stop ends the watch and waits until the keeper has stopped.
func (k *Keeper) Stop() {
	close(k.stop)
	<-k.done
}

// Reconnects counts the connections the keeper opened.
func (k *Keeper) Reconnects() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reconnects
}

// Publish5 is Publish for a 5.0 client: n messages named prefix-1..prefix-n
// to topic at qos, at most window in flight, spread over length. A message
// the client could not send because it was between connections waits for
// the keeper's reconnection and goes then; one in flight when the
// connection ended is not sent again. It returns the payloads whose
// handshake completed with a success reason code.
func Publish5(ctx context.Context, c *framework.Client5, topic string, qos byte, prefix string, n, window int, length time.Duration) []string {
	return publishEach(ctx, prefix, n, window, length, func(payload string) func() bool {
		return func() bool {
			for {
				ack, err := c.Publish(ctx, topic, qos, payload)
				if err == nil {
					return ack.ReasonCode < 0x80
				}
				if !strings.Contains(err.Error(), "while not connected") || !awaitConnected(ctx, c) {
					return false // sent, but its handshake was cut: its outcome is unknown
				}
			}
		}
	})
}

// awaitConnected waits (bounded) until c is connected again.
func awaitConnected(ctx context.Context, c *framework.Client5) bool {
	deadline := time.Now().Add(framework.DrainTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !c.Connected() {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}
