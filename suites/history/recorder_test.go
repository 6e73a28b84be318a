package history

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRecorderEvents(t *testing.T) {
	var now atomic.Int64
	tick := func(ms int) { now.Store(int64(time.Duration(ms) * time.Millisecond)) }
	r := NewRecorderWithClock(func() time.Duration { return time.Duration(now.Load()) })

	tick(0)
	r.Connected("sub", false, false)
	tick(10)
	r.Subscribed("sub", "t/#", 2, 1)
	tick(100)
	ok := r.Publish("pub", "t/a", "m-1", 1, true)
	failed := r.Publish("pub", "t/a", "m-2", 1, false)
	unknown := r.Publish("pub", "t/a", "m-3", 2, false)
	r.Publish("pub", "t/a", "m-4", 2, false) // never completed
	tick(105)
	ok.Acked()
	ok.Failed(errors.New("too late")) // ignored: first outcome wins
	failed.Failed(errors.New("not connected"))
	unknown.Unknown()
	var nilAttempt *Attempt
	nilAttempt.Acked()
	tick(110)
	r.Delivered("sub", "t/a", "m-1", 1, false, false)
	tick(120)
	r.Lost("sub", errors.New("EOF"))
	tick(130)
	r.Connected("sub", false, true)
	r.Unsubscribed("sub", "t/#")
	r.Disconnected("sub")
	r.Drained("sub")

	h := r.History()
	if len(h.Events) != 12 {
		t.Fatalf("got %d events, want 12", len(h.Events))
	}
	for i := 1; i < len(h.Events); i++ {
		if h.Events[i].At < h.Events[i-1].At {
			t.Fatalf("events not sorted by time at %d", i)
		}
	}
	byID := map[string]Event{}
	for _, e := range h.Events {
		if e.Kind == KindPublish {
			byID[e.MsgID] = e
		}
	}
	if e := byID["m-1"]; e.Outcome != OutcomeAcked || e.Done != 105*time.Millisecond || e.At != 100*time.Millisecond || !e.Retain || e.Err != "" {
		t.Errorf("m-1 = %+v", e)
	}
	if e := byID["m-2"]; e.Outcome != OutcomeFailed || e.Err != "not connected" {
		t.Errorf("m-2 = %+v", e)
	}
	if e := byID["m-3"]; e.Outcome != OutcomeUnknown {
		t.Errorf("m-3 = %+v", e)
	}
	if e := byID["m-4"]; e.Outcome != OutcomePending {
		t.Errorf("m-4 = %+v", e)
	}
	if err := h.Validate(); err != nil {
		t.Error(err)
	}
	v := Check(h)
	if s := v.Stats[1]; s.Sent != 2 || s.Acked != 1 || s.Failed != 1 || s.Delivered != 1 {
		t.Errorf("QoS 1 stats %+v", s)
	}
	if s := v.Stats[2]; s.Sent != 2 || s.Unknown != 2 {
		t.Errorf("QoS 2 stats %+v (a never completed publish counts as unknown)", s)
	}

	// The history is a copy: later recording does not change it.
	r.Drained("sub")
	if len(h.Events) != 12 {
		t.Error("History shares storage with the recorder")
	}
}

// TestRecorderConcurrent records from many goroutines at once; run with
// -race.
func TestRecorderConcurrent(t *testing.T) {
	const publishers, subscribers, perPublisher = 8, 8, 200
	r := NewRecorder()
	for s := range subscribers {
		name := fmt.Sprintf("sub%d", s)
		r.Connected(name, true, false)
		r.Subscribed(name, "load/#", 1, 1)
	}
	deliveries := make([]chan [2]string, subscribers)
	for i := range deliveries {
		deliveries[i] = make(chan [2]string, publishers*perPublisher)
	}
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			pub := fmt.Sprintf("pub%d", p)
			r.Connected(pub, true, false)
			topic := "load/" + pub
			for i := range perPublisher {
				id := fmt.Sprintf("%s-%d", pub, i)
				a := r.Publish(pub, topic, id, 1, false)
				for _, ch := range deliveries {
					ch <- [2]string{topic, id}
				}
				a.Acked()
			}
			r.Disconnected(pub)
		})
	}
	var subs sync.WaitGroup
	for s, ch := range deliveries {
		subs.Go(func() {
			name := fmt.Sprintf("sub%d", s)
			for d := range ch {
				r.Delivered(name, d[0], d[1], 1, false, false)
			}
			r.Drained(name)
		})
	}
	// Read while recording is under way.
	for range 5 {
		_ = r.History()
	}
	wg.Wait()
	for _, ch := range deliveries {
		close(ch)
	}
	subs.Wait()

	h := r.History()
	if want := 2*subscribers + 2*publishers + publishers*perPublisher*(1+subscribers) + subscribers; len(h.Events) != want {
		t.Fatalf("got %d events, want %d", len(h.Events), want)
	}
	// Deliveries are recorded after their publish started but may be
	// recorded before the ack; order per publisher is kept by the channel.
	v := Check(h)
	wantOK(t, v)
	if s := v.Stats[1]; s.Acked != publishers*perPublisher || s.Delivered != publishers*perPublisher*subscribers || s.Lost != 0 {
		t.Errorf("stats %+v", s)
	}
}
