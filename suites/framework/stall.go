package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/reports"
)

// A broker that stalls (overloaded, a stuck session, a bridge loop) must
// fail a run fast, not make every spec wait out its whole timeout:
//
//   - every answer the broker owes a client (CONNACK, SUBACK, UNSUBACK,
//     PUBACK, PUBREC, PUBREL, PUBCOMP, PINGRESP) is waited for at most the
//     acknowledgement bound (FAULTLINE_ACK_TIMEOUT, 5 s; 15 s in public
//     mode) after its request crossed the link, and the failure says what
//     never came: "the broker never sent PUBCOMP for packet id 7 (PUBREL
//     sent 5.0 s ago)". An answer a fault kept from arriving (the
//     connection ended, the link dropped or cut it) is not missing: those
//     waits keep their own, longer bound. Messages delivered to a
//     subscriber are not answers. Once an answer is overdue on a
//     connection, the client's next waits for that type of answer end at
//     once, with the same words (a publisher with many messages in flight
//     does not wait the bound out for each).
//   - a spec that FAILED with such a message counts, for every process, in
//     a file of the run (next to the serving watch's, serving.go). Once the
//     same answer is missing in reports.StallAfter specs, every later wait
//     for it lasts at most stallGrace (a twentieth of the bound, 250 ms by
//     default) and its failure gives the reason
//     ("the broker never completes QoS 2 flows: PUBCOMP missing in 4
//     specs"); the summary says so once at the top. Those specs are still
//     failures: nothing is hidden, they only end sooner.
//   - the same holds for every client: the 3.1.1 clients, raw connections,
//     the 5.0 client (client5stall.go), and a spec's clean-up (janitor.go,
//     leftovers.go), whose missing answers count in the run's record
//     though they fail no spec; a serving probe (serving.go) whose CONNECT
//     gets no CONNACK counts as a missing CONNACK, not as a broker down.

// EnvAckTimeout bounds every wait for one of the broker's answers, as a Go
// duration ("5s", "1500ms") or in seconds ("5").
const EnvAckTimeout = "FAULTLINE_ACK_TIMEOUT"

const (
	defaultAckTimeout = 5 * time.Second
	publicAckTimeout  = 15 * time.Second // a shared broker far away, under others' load
)

var badAckTimeout sync.Once

// ackTimeout is how long the broker gets to answer a request.
func ackTimeout() time.Duration {
	if v := strings.TrimSpace(os.Getenv(EnvAckTimeout)); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
			return time.Duration(s * float64(time.Second))
		}
		badAckTimeout.Do(func() {
			fmt.Fprintf(os.Stderr, "faultline: warning: %s=%q is no duration; using the default\n", EnvAckTimeout, v)
		})
	}
	if Public() {
		return publicAckTimeout
	}
	return defaultAckTimeout
}

// stallGrace bounds a wait for an answer the broker has already withheld
// in reports.StallAfter specs of the run: long enough for an answer that
// comes at all, short against the bound.
func stallGrace() time.Duration { return max(100*time.Millisecond, ackTimeout()/20) }

// answerBound is how long to wait for an answer of type t, and the words
// to add to the failure when the wait was cut short because the broker
// has withheld such answers in several specs already.
func answerBound(t wire.Type) (time.Duration, string) {
	d := ackTimeout()
	if n, ok := stalledAnswer(t); ok {
		g := stallGrace()
		return g, fmt.Sprintf("; waited %v, not %v: %s", g, d, reports.Stalled(t.String(), n))
	}
	return d, ""
}

// stalledLimit cuts limit, a wait's bound whatever happens (the request
// may not have crossed, or a fault excused its answer), when the run has
// found one of the answers the wait needs withheld in several specs
// already: then the wait lasts at most twice stallGrace, and why says so.
func stalledLimit(limit time.Duration, answers ...wire.Type) (time.Duration, string) {
	for _, t := range answers {
		if b, why := answerBound(t); why != "" {
			return min(limit, 2*b), why
		}
	}
	return limit, ""
}

// owedAnswer is the answer a packet from a client asks of the broker.
func owedAnswer(p wire.Packet) (wire.Type, bool) {
	switch p.Type {
	case wire.CONNECT:
		return wire.CONNACK, true
	case wire.SUBSCRIBE:
		return wire.SUBACK, true
	case wire.UNSUBSCRIBE:
		return wire.UNSUBACK, true
	case wire.PUBLISH:
		switch p.QoS {
		case 1:
			return wire.PUBACK, true
		case 2:
			return wire.PUBREC, true
		}
	case wire.PUBREC:
		return wire.PUBREL, true
	case wire.PUBREL:
		return wire.PUBCOMP, true
	case wire.PINGREQ:
		return wire.PINGRESP, true
	}
	return 0, false
}

// isAnswer says whether t is an answer the broker owes a client.
func isAnswer(t wire.Type) bool {
	switch t {
	case wire.CONNACK, wire.SUBACK, wire.UNSUBACK, wire.PUBACK, wire.PUBREC, wire.PUBREL, wire.PUBCOMP, wire.PINGRESP:
		return true
	}
	return false
}

// answerKey names one owed answer: its type and packet id (0 for CONNACK
// and PINGRESP).
type answerKey struct {
	answer wire.Type
	id     uint16
}

// keyOf is the key of the answer p is, or asks for.
func keyOf(t wire.Type, p wire.Packet) answerKey {
	if t == wire.CONNACK || t == wire.PINGRESP {
		return answerKey{t, 0}
	}
	return answerKey{t, p.PacketID}
}

// request is a packet the broker owes an answer to.
type request struct {
	sent    wire.Type
	at      time.Time
	conn    int
	filters []string // of a SUBSCRIBE or UNSUBSCRIBE
}

// connEnd is when a connection ended, or a fault hit it, and whether the
// broker (or the fault) rather than the client did it.
type connEnd struct {
	at       time.Time
	byBroker bool
}

// owed follows one client's connections and the answers the broker owes
// it. The zero value is ready to use.
type owed struct {
	mu    sync.Mutex
	open  map[answerKey]request
	ended map[int][]connEnd // by connection, in order
	// live, when set, says whether a connection is still the client's
	// open one: a fault on the whole link (a reset, an outage) ends
	// connections without a word on each in the trace.
	live func(conn int) bool
}

// follow sets live.
func (o *owed) follow(live func(conn int) bool) {
	o.mu.Lock()
	o.live = live
	o.mu.Unlock()
}

// sent notes a request that crossed towards the broker on connection conn.
func (o *owed) sent(p wire.Packet, conn int, at time.Time) {
	answer, ok := owedAnswer(p)
	if !ok {
		return
	}
	r := request{sent: p.Type, at: at, conn: conn}
	if p.Type == wire.SUBSCRIBE || p.Type == wire.UNSUBSCRIBE {
		for _, s := range p.Subscriptions {
			r.filters = append(r.filters, s.Filter)
		}
	}
	o.mu.Lock()
	if o.open == nil {
		o.open = map[answerKey]request{}
	}
	o.open[keyOf(answer, p)] = r
	o.mu.Unlock()
}

// answered notes a packet the broker sent, whether or not it arrived.
func (o *owed) answered(p wire.Packet) {
	if !isAnswer(p.Type) {
		return
	}
	o.mu.Lock()
	delete(o.open, keyOf(p.Type, p))
	if p.Type == wire.PUBACK {
		delete(o.open, answerKey{wire.PUBREC, p.PacketID}) // a QoS 2 PUBLISH answered wrongly
	}
	o.mu.Unlock()
}

// end notes that connection conn ended, or that a fault hit it.
func (o *owed) end(conn int, at time.Time, byBroker bool) {
	o.mu.Lock()
	if o.ended == nil {
		o.ended = map[int][]connEnd{}
	}
	if len(o.ended[conn]) < 64 {
		o.ended[conn] = append(o.ended[conn], connEnd{at, byBroker})
	}
	o.mu.Unlock()
}

// track follows an entry of the client's link.
func (o *owed) track(e proxy.Entry) {
	switch {
	case e.Kind == proxy.Event && e.Conn != 0 && strings.Contains(e.Note, "closed the connection"):
		o.end(e.Conn, e.At, strings.HasPrefix(e.Note, "broker"))
	case e.Kind == proxy.Injected && e.Conn != 0:
		o.end(e.Conn, e.At, true) // a cut: whatever was owed on it is the fault's
	case e.Dir == proxy.ToBroker && e.Kind == proxy.Passed:
		o.sent(e.Packet, e.Conn, e.At)
	case e.Dir == proxy.FromBroker && (e.Kind == proxy.Passed || e.Kind == proxy.Partial || e.Kind == proxy.Dropped) && e.Packet.Type != 0:
		// The broker sent it: a fault that kept it from the client is
		// no stall of the broker's.
		o.answered(e.Packet)
	}
}

// overdue returns the first of the answers keys names that the broker
// owes and has not sent within its bound, with the words for the failure.
// An answer owed on a connection that ended within the bound is not
// overdue (a fault, or the broker refusing, explains it), except a
// CONNACK on a connection the client gave up on.
//
// Once the broker has withheld an answer past its bound on a connection,
// a wait for another answer of that type ends at once, with the words of
// the first: a publisher with messages in flight does not wait out the
// bound once per message.
func (o *owed) overdue(now time.Time, keys ...answerKey) (wire.Type, string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, k := range keys {
		if r, ok := o.open[k]; ok {
			if text, late := o.late(now, k, r); late {
				return k.answer, text, true
			}
		}
	}
	for _, k := range keys {
		for k2, r2 := range o.open {
			if k2.answer != k.answer || k2 == k {
				continue
			}
			if text, late := o.late(now, k2, r2); late {
				return k.answer, fmt.Sprintf("%s; not waited for its own %s", text, k.answer), true
			}
		}
	}
	return 0, "", false
}

// late says whether the answer k to r is overdue, and in what words.
func (o *owed) late(now time.Time, k answerKey, r request) (string, bool) {
	bound, cut := answerBound(k.answer)
	if now.Sub(r.at) < bound {
		return "", false
	}
	due, endedLate := r.at.Add(bound), false
	for _, e := range o.ended[r.conn] {
		// Only what happened while the answer was due explains it.
		if !e.at.Before(r.at) && e.at.Before(due) && (e.byBroker || k.answer != wire.CONNACK) {
			return "", false
		}
		endedLate = endedLate || !e.at.Before(due)
	}
	// A connection that is gone explains nothing when it ended only
	// after the answer was overdue: the broker had withheld it the whole
	// bound (a client that reconnects often still learns it at once).
	if o.live != nil && k.answer != wire.CONNACK && !o.live(r.conn) && !endedLate {
		return "", false
	}
	return missingText(k, r, now) + cut, true
}

// overdueFor is overdue for the SUBACK or UNSUBACK of a request naming filter.
func (o *owed) overdueFor(now time.Time, answer wire.Type, filter string) (wire.Type, string, bool) {
	o.mu.Lock()
	keys := []answerKey{{answer, 0}} // none yet: the SUBSCRIBE has not crossed
	for k, r := range o.open {
		if k.answer == answer && slices.Contains(r.filters, filter) {
			keys = append(keys, k)
		}
	}
	o.mu.Unlock()
	return o.overdue(now, keys...)
}

// latest returns the latest request still owed an answer of type t.
func (o *owed) latest(t wire.Type) (answerKey, request, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var key answerKey
	var req request
	found := false
	for k, r := range o.open {
		if k.answer == t && (!found || r.at.After(req.at)) {
			key, req, found = k, r, true
		}
	}
	return key, req, found
}

// pending lists the answer types still owed.
func (o *owed) pending() []wire.Type {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []wire.Type
	for k := range o.open {
		if !slices.Contains(out, k.answer) {
			out = append(out, k.answer)
		}
	}
	return out
}

// missingAnswer is the error of a wait for an answer the broker never sent.
type missingAnswer struct {
	answer wire.Type
	text   string
	cause  error // the read's own timeout, for a raw connection
}

func (m *missingAnswer) Error() string { return m.text }
func (m *missingAnswer) Unwrap() error { return m.cause }

// errNoAnswer ends a wait that reached its limit without an answer owed
// past its bound: the request may not have been sent (the client was
// reconnecting), or a fault ended its connection.
var errNoAnswer = errors.New("no answer")

// answerLimit bounds a client's wait for an answer whatever happens.
func answerLimit() time.Duration { return max(opTimeout, ackTimeout()+time.Second) }

// awaitAnswer waits for done. It gives up with a *missingAnswer when
// overdue reports an answer the broker owes and has not sent within its
// bound, with context.Cause when ctx ends, and with errNoAnswer after
// limit in any case.
func awaitAnswer(ctx context.Context, done <-chan struct{}, limit time.Duration, overdue func(now time.Time) (wire.Type, string, bool)) error {
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-tick.C:
		}
		if t, text, ok := overdue(time.Now()); ok {
			select {
			case <-done: // it came after all
				return nil
			default:
			}
			noteMissing(t)
			return &missingAnswer{answer: t, text: text}
		}
		if time.Since(start) >= limit {
			return errNoAnswer
		}
	}
}

// missingPhrase starts every failure about an answer that never came.
func missingPhrase(t wire.Type) string { return "the broker never sent " + t.String() }

func missingText(k answerKey, r request, now time.Time) string {
	id := ""
	if k.answer != wire.CONNACK && k.answer != wire.PINGRESP {
		id = fmt.Sprintf(" for packet id %d", k.id)
	}
	return fmt.Sprintf("%s%s (%s sent %.1f s ago)", missingPhrase(k.answer), id, r.sent, now.Sub(r.at).Seconds())
}

// The run's record of missing answers: one file per failed spec and
// answer type, under the serving watch's directory.

func stallDir(t wire.Type) string { return filepath.Join(servingDir(), "stalls", t.String()) }

// stalled caches the counts read from the run's directory.
var stalled struct {
	mu     sync.Mutex
	counts map[wire.Type]int
	read   map[wire.Type]time.Time
}

// stalledAnswer says how many specs of the run failed because the broker
// never sent an answer of type t, and whether that is enough to stop
// waiting the full bound for it.
func stalledAnswer(t wire.Type) (int, bool) {
	if current == nil {
		return 0, false
	}
	stalled.mu.Lock()
	defer stalled.mu.Unlock()
	if stalled.counts == nil {
		stalled.counts, stalled.read = map[wire.Type]int{}, map[wire.Type]time.Time{}
	}
	if time.Since(stalled.read[t]) > 200*time.Millisecond {
		entries, _ := os.ReadDir(stallDir(t))
		stalled.counts[t], stalled.read[t] = len(entries), time.Now()
	}
	n := stalled.counts[t]
	return n, n >= reports.StallAfter
}

// missed is what went missing during the spec running in this process.
var missed struct {
	mu       sync.Mutex
	kinds    []wire.Type
	recorded []wire.Type // counted in the run's record for this spec
}

// noteMissing notes that the spec waited in vain for an answer of type t.
// It counts for the run only if the spec fails saying so.
func noteMissing(t wire.Type) {
	missed.mu.Lock()
	if !slices.Contains(missed.kinds, t) {
		missed.kinds = append(missed.kinds, t)
	}
	missed.mu.Unlock()
}

var stallSeq atomic.Int64

// watchStalls registers the bookkeeping; watchServing calls it.
func watchStalls() {
	ginkgo.BeforeEach(func() {
		missed.mu.Lock()
		missed.kinds, missed.recorded = nil, nil
		missed.mu.Unlock()
	})
	ginkgo.AfterEach(func() {
		spec := ginkgo.CurrentSpecReport()
		missed.mu.Lock()
		kinds := slices.Clone(missed.kinds)
		missed.mu.Unlock()
		if current == nil || !spec.Failed() || len(kinds) == 0 {
			return
		}
		for _, t := range kinds {
			if !strings.Contains(spec.Failure.Message, missingPhrase(t)) {
				continue // the spec failed for another reason
			}
			ginkgo.AddReportEntry(reports.MissingEntry, t.String(), ginkgo.ReportEntryVisibilityNever)
			recordMissing(t, spec.FullText())
		}
	})
}

// failedForStall says whether the spec failed because the broker withheld
// an answer, in a way that a serving probe (serving.go) would learn
// nothing from: a CONNACK (the broker took the connection and said
// nothing; the probe's CONNECT would wait the same), or an answer the run
// already knows withheld. A broker that died instead ends connections,
// which excuses the answers owed on them (owed.late).
func failedForStall(failure string) bool {
	missed.mu.Lock()
	kinds := slices.Clone(missed.kinds)
	missed.mu.Unlock()
	for _, t := range kinds {
		if !strings.Contains(failure, missingPhrase(t)) {
			continue
		}
		if _, stalled := stalledAnswer(t); stalled || t == wire.CONNACK {
			return true
		}
	}
	return false
}

// recordMissing counts, for every process, one more spec of the run in
// which the broker never sent an answer of type t (once per spec).
func recordMissing(t wire.Type, what string) {
	if current == nil {
		return
	}
	missed.mu.Lock()
	again := slices.Contains(missed.recorded, t)
	if !again {
		missed.recorded = append(missed.recorded, t)
	}
	missed.mu.Unlock()
	if again {
		return
	}
	dir := stallDir(t)
	_ = os.MkdirAll(dir, 0o755)
	name := fmt.Sprintf("p%d-%d", ginkgo.GinkgoParallelProcess(), stallSeq.Add(1))
	_ = os.WriteFile(filepath.Join(dir, name), []byte(what), 0o644)
}

// cleanupMissing says whether err, from a spec's clean-up (janitor.go,
// leftovers.go), is an answer the broker never sent. The clean-up does
// not fail its spec, so the spec's verdict and the summary's count
// ignore it, but it counts in the run's record like a spec that failed
// for it: later waits for that answer are cut short just the same.
func cleanupMissing(err error) bool {
	var m *missingAnswer
	if !errors.As(err, &m) {
		return false
	}
	what := "clean-up"
	if current != nil {
		what += " after " + ginkgo.CurrentSpecReport().FullText()
	}
	recordMissing(m.answer, what)
	return true
}
