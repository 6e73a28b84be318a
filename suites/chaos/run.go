package chaos

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/suites/framework"
)

// Config sizes a chaos run. Read it from the environment with FromEnv.
type Config struct {
	Seed     uint64        // FAULTLINE_CHAOS_SEED; 0: a fresh one, printed
	Messages int           // FAULTLINE_CHAOS_MESSAGES: messages per publisher
	Length   time.Duration // FAULTLINE_CHAOS_DURATION: how long faults are thrown
	Window   int           // messages a publisher may have in flight at once
}

// FromEnv reads the run's size, with defaults for a short run.
func FromEnv() (Config, error) {
	c := Config{Messages: 700, Length: 8 * time.Second, Window: 8}
	if v := os.Getenv("FAULTLINE_CHAOS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return c, fmt.Errorf("FAULTLINE_CHAOS_SEED=%q: %v", v, err)
		}
		c.Seed = n
	}
	if v := os.Getenv("FAULTLINE_CHAOS_MESSAGES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return c, fmt.Errorf("FAULTLINE_CHAOS_MESSAGES=%q: want a positive number", v)
		}
		c.Messages = n
	}
	if v := os.Getenv("FAULTLINE_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("FAULTLINE_CHAOS_DURATION=%q: want a duration like 2m", v)
		}
		c.Length = d
	}
	return c, nil
}

// Inject applies the schedule's faults to the links as their moments come,
// until the schedule ends or ctx is done, then restores every link. It
// returns what it could not do (a fault the link refused).
func Inject(ctx context.Context, s Schedule, links map[string]*proxy.Link) []string {
	var (
		mu       sync.Mutex
		problems []string
		wg       sync.WaitGroup
	)
	start := time.Now()
	byLink := map[string][]Event{}
	for _, e := range s.Events {
		byLink[e.Link] = append(byLink[e.Link], e)
	}
	for name, events := range byLink {
		l := links[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, e := range events {
				if !sleepUntil(ctx, start.Add(e.At)) {
					return
				}
				if err := apply(ctx, l, e); err != nil {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("%s: %v", e, err))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for _, l := range links {
		if err := l.Restore(); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return problems
}

func apply(ctx context.Context, l *proxy.Link, e Event) error {
	var err error
	switch e.Kind {
	case Reset:
		l.Cut()
		return nil
	case PacketCut:
		f, err := l.Arm(e.Cut)
		if err != nil {
			return err
		}
		sleepUntil(ctx, time.Now().Add(e.For))
		l.Disarm(f)
		return nil
	case Blackhole:
		l.Blackhole()
	case Latency:
		err = l.Latency(proxy.Both, time.Duration(e.Amount)*time.Millisecond, 0)
	case Bandwidth:
		err = l.Bandwidth(proxy.Both, e.Amount)
	case Fragment:
		err = l.Fragment(proxy.Both, e.Amount, e.Amount/2, 0)
	case Down:
		err = l.Down()
	}
	sleepUntil(ctx, time.Now().Add(e.For))
	if rerr := l.Restore(); err == nil {
		err = rerr
	}
	return err
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// Publish sends n messages named prefix-1..prefix-n to topic at qos, with at
// most window in flight, spreading them over length. It returns the
// payloads whose handshake completed.
func Publish(ctx context.Context, c *framework.Client, topic string, qos byte, prefix string, n, window int, length time.Duration) []string {
	return publishEach(ctx, prefix, n, window, length, func(payload string) func() bool {
		p := c.PublishAsync(topic, qos, false, payload)
		return func() bool { return waitLong(ctx, p) == nil }
	})
}

// publishEach starts prefix-1..prefix-n in turn with send, spread over
// length, at most window at once, and returns the payloads whose wait
// (what send returned) said they were acknowledged.
func publishEach(ctx context.Context, prefix string, n, window int, length time.Duration, send func(payload string) (wait func() bool)) []string {
	var acked []string
	var mu sync.Mutex
	slots := make(chan struct{}, window)
	var wg sync.WaitGroup
	gap := length / time.Duration(n+1)
	start := time.Now()
	for i := 1; i <= n; i++ {
		if !sleepUntil(ctx, start.Add(time.Duration(i)*gap)) {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		payload := fmt.Sprintf("%s-%d", prefix, i)
		wait := send(payload)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if wait() {
				mu.Lock()
				acked = append(acked, payload)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return acked
}

// waitLong waits for a publish across several reconnects (a single Wait
// gives up after 10 s).
func waitLong(ctx context.Context, p *framework.InFlight) error {
	var err error
	for range 4 {
		if err = p.Wait(ctx); err == nil || !strings.Contains(err.Error(), "no acknowledgement within") {
			return err
		}
	}
	return err
}
