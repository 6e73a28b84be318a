package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline-mqtt/faultline/fixtures/embedded"
	"github.com/faultline-mqtt/faultline/fixtures/faulty"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/reports"
)

// stallEnv is the embedded broker behind a stalling defect of the faulty
// broker, behind a link server: real sockets all the way.
func stallEnv(t *testing.T, defect string) *client5Env {
	t.Helper()
	b, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	fb, err := faulty.Start(defect, b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fb.Close() })
	return client5EnvTo(t, fb.URL())
}

// asRun makes the test a run of its own for the stall accounting (its
// record lives in the run's directory), as if one spec were running.
func asRun(t *testing.T) {
	t.Helper()
	old := current
	current = &run{ID: fmt.Sprintf("stalltest-%d-%d", os.Getpid(), time.Now().UnixNano())}
	newSpec()
	t.Cleanup(func() {
		_ = os.RemoveAll(servingDir())
		current = old
		newSpec()
	})
}

// newSpec starts the bookkeeping of a new spec, as watchStalls' BeforeEach
// does, and forgets the counts read so far.
func newSpec() {
	missed.mu.Lock()
	missed.kinds, missed.recorded = nil, nil
	missed.mu.Unlock()
	stalled.mu.Lock()
	stalled.counts, stalled.read = nil, nil
	stalled.mu.Unlock()
}

func missedKinds() []wire.Type {
	missed.mu.Lock()
	defer missed.mu.Unlock()
	return slices.Clone(missed.kinds)
}

// A Client5 waiting for a PUBCOMP that never comes gives up at the
// acknowledgement bound, saying what never came; the spec's wait counts
// towards the run's "PUBCOMP missing in N specs", and once that reaches
// reports.StallAfter, a later Client5 waits for a PUBCOMP only briefly.
func TestClient5MissingPubcompCountsAsStalled(t *testing.T) {
	t.Setenv(EnvAckTimeout, "600ms")
	t.Setenv(EnvPublic, "0")
	asRun(t)
	e := stallEnv(t, "no-pubcomp")
	ctx := context.Background()

	pub := e.client("pub")
	e.connect(pub)
	start := time.Now()
	_, err := pub.Publish(ctx, "c5stall/a", 2, "never-completed")
	took := time.Since(start)
	var m *missingAnswer
	if !errors.As(err, &m) || m.answer != wire.PUBCOMP {
		t.Fatalf("QoS 2 publish against a broker that never sends PUBCOMP: %v, want a missing PUBCOMP", err)
	}
	if !strings.Contains(err.Error(), "the broker never sent PUBCOMP for packet id 1 (PUBREL sent 0.") {
		t.Errorf("the error does not say what never came: %v", err)
	}
	if took < 600*time.Millisecond || took > 2*time.Second {
		t.Errorf("gave up after %v; the bound is 600ms", took)
	}
	if got := missedKinds(); !slices.Equal(got, []wire.Type{wire.PUBCOMP}) {
		t.Errorf("noted as missing: %v, want [PUBCOMP]", got)
	}

	// The same answer missing in reports.StallAfter specs (this one as
	// its AfterEach records it, counted once however often it is noted).
	for i := range reports.StallAfter {
		recordMissing(wire.PUBCOMP, fmt.Sprintf("spec %d", i))
		recordMissing(wire.PUBCOMP, fmt.Sprintf("spec %d again", i))
		newSpec()
	}
	if n, ok := stalledAnswer(wire.PUBCOMP); !ok || n != reports.StallAfter {
		t.Fatalf("after %d specs: %d counted, stalled %v", reports.StallAfter, n, ok)
	}
	if _, ok := stalledAnswer(wire.PUBACK); ok {
		t.Fatal("PUBACK counted as stalled")
	}

	// A later spec ends quickly, with the reason.
	later := e.client("later")
	e.connect(later)
	start = time.Now()
	_, err = later.Publish(ctx, "c5stall/b", 2, "later")
	took = time.Since(start)
	if !errors.As(err, &m) || m.answer != wire.PUBCOMP {
		t.Fatalf("later QoS 2 publish: %v, want a missing PUBCOMP", err)
	}
	if want := reports.Stalled("PUBCOMP", reports.StallAfter); !strings.Contains(err.Error(), want) {
		t.Errorf("later publish: %v; want the reason %q", err, want)
	}
	if took > 500*time.Millisecond {
		t.Errorf("the later publish waited %v for a PUBCOMP the broker withholds (grace %v)", took, stallGrace())
	}
	// QoS 1 is not affected.
	if _, err := later.Publish(ctx, "c5stall/c", 1, "q1"); err != nil {
		t.Errorf("QoS 1 publish: %v", err)
	}
}

// A CONNACK that comes too late is missing, with the same words.
func TestClient5MissingConnack(t *testing.T) {
	t.Setenv(EnvAckTimeout, "500ms")
	t.Setenv(EnvPublic, "0")
	asRun(t)
	e := stallEnv(t, "connack-after-15s")
	e.connect(e.client("first")) // the defect serves the first connection in time

	c := e.client("second")
	start := time.Now()
	_, err := c.Connect(context.Background())
	var m *missingAnswer
	if !errors.As(err, &m) || m.answer != wire.CONNACK {
		t.Fatalf("Connect: %v, want a missing CONNACK", err)
	}
	if !strings.Contains(err.Error(), "the broker never sent CONNACK (CONNECT sent 0.") {
		t.Errorf("the error does not say what never came: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("gave up after %v; the bound is 500ms", took)
	}
}

// The clean-up's missing answers count in the run's record, once per
// spec, like a failed spec's; its other errors do not.
func TestCleanupMissingCounts(t *testing.T) {
	asRun(t)
	if cleanupMissing(errors.New("dial: connection refused")) {
		t.Error("an error that is no missing answer counted")
	}
	missing := fmt.Errorf("retained x: %w", &missingAnswer{answer: wire.PUBACK, text: missingPhrase(wire.PUBACK)})
	for range reports.StallAfter {
		first, again := cleanupMissing(missing), cleanupMissing(missing)
		if !first || !again {
			t.Fatal("a missing PUBACK did not count")
		}
		newSpec()
	}
	if n, ok := stalledAnswer(wire.PUBACK); !ok || n != reports.StallAfter {
		t.Fatalf("%d counted (stalled %v), want %d", n, ok, reports.StallAfter)
	}
}

// A spec that failed for a withheld CONNACK, or for an answer the run
// knows withheld, needs no serving probe; other failures do.
func TestFailedForStall(t *testing.T) {
	asRun(t)
	noteMissing(wire.PUBACK)
	failure := "pub: " + missingPhrase(wire.PUBACK) + " for packet id 1 (PUBLISH sent 5.0 s ago)"
	if failedForStall(failure) {
		t.Error("a PUBACK missing once skips the probe")
	}
	for i := range reports.StallAfter {
		recordMissing(wire.PUBACK, fmt.Sprintf("spec %d", i))
		missed.mu.Lock()
		missed.recorded = nil
		missed.mu.Unlock()
	}
	stalled.mu.Lock()
	stalled.counts, stalled.read = nil, nil
	stalled.mu.Unlock()
	if !failedForStall(failure) {
		t.Error("a PUBACK the run knows withheld still probes")
	}
	if failedForStall("sub could not connect: EOF") {
		t.Error("a failure that names no missing answer skips the probe")
	}
	newSpec()
	noteMissing(wire.CONNACK)
	if !failedForStall("sub could not connect: " + missingPhrase(wire.CONNACK) + " (CONNECT sent 5.0 s ago)") {
		t.Error("a withheld CONNACK still probes")
	}
}
