package framework

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/proxy/wire/topics"
)

// What a spec leaves on the broker, read off the wire. The janitor removes
// what the spec declared (Persistent() clients, PersistentSession,
// PublishRetained, Retained); this sweep, after the spec's own clean-up,
// removes what its links show it left without declaring it:
//
//   - sessions: every accepted CONNECT with CleanSession=0, raw ones too;
//   - retained messages: every PUBLISH with RETAIN=1 and a payload, raw
//     ones too;
//   - retained wills: a will with Will Retain=1 on a connection that ended
//     without DISCONNECT is published when the broker sees the connection
//     end, which may be after the janitor ran (links close last): the sweep
//     watches each such topic for a moment and clears what arrives.
//
// In public mode it also subscribes to the spec's whole topic root, after
// any spec that published a retained message or a retained will, and
// clears every retained message it finds there.
//
// With a report directory, every process appends to manifest.txt the run's
// topic prefix once and, per spec, every client id its links carried and
// every retained topic: `make public-check` reads it to prove nothing was
// left behind.
// leftovers is what a spec's links show it may have left on the broker.
type leftovers struct {
	clients  map[string]bool // every client id in a CONNECT
	sessions map[string]bool // accepted CleanSession=0 connections
	retained map[string]bool // topics of retained PUBLISHes with a payload
	wills    map[string]bool // topics of retained wills not discarded by DISCONNECT
}

// wireLeftovers reads the spec's traces.
func wireLeftovers(f *Framework) leftovers {
	w := leftovers{clients: map[string]bool{}, sessions: map[string]bool{}, retained: map[string]bool{}, wills: map[string]bool{}}
	for _, l := range f.links {
		type conn struct {
			connect    *wire.Packet
			accepted   bool
			disconnect bool
		}
		conns := map[int]*conn{}
		get := func(n int) *conn {
			if conns[n] == nil {
				conns[n] = &conn{}
			}
			return conns[n]
		}
		for _, e := range l.Trace().Entries() {
			if e.Kind != proxy.Passed {
				continue
			}
			p := e.Packet
			switch {
			case e.Dir == proxy.ToBroker && p.Type == wire.CONNECT:
				c := get(e.Conn)
				c.connect = &p
				if p.ClientID != "" {
					w.clients[p.ClientID] = true
				}
			case e.Dir == proxy.FromBroker && p.Type == wire.CONNACK && p.ReasonCode == 0:
				get(e.Conn).accepted = true
			case e.Dir == proxy.ToBroker && p.Type == wire.DISCONNECT:
				get(e.Conn).disconnect = true
			case e.Dir == proxy.ToBroker && p.Type == wire.PUBLISH && p.Retain && p.PayloadSize > 0 && publishable(p.Topic):
				w.retained[p.Topic] = true
			}
		}
		for _, c := range conns {
			if c.connect == nil || !c.accepted {
				continue
			}
			if !c.connect.CleanStart && c.connect.ClientID != "" {
				w.sessions[c.connect.ClientID] = true
			}
			if wl := c.connect.Will; wl != nil && wl.Retain && !c.disconnect && wl.PayloadSize > 0 && publishable(wl.Topic) {
				w.wills[wl.Topic] = true
			}
		}
	}
	return w
}

// publishable says whether a retained message can be cleared on topic:
// a valid topic name.
func publishable(topic string) bool { return topics.ValidName(topic) }

// sweepLeftovers runs last in the spec's clean-up (Framework.end), when
// every link is closed and every trace complete.
func (f *Framework) sweepLeftovers(ctx context.Context) {
	w := wireLeftovers(f)
	var problems []string
	sessions, retained := minus(w.sessions, f.sessions), minus(w.retained, f.retained)
	if len(sessions) > 0 || len(retained) > 0 {
		problems = append(problems, janitor(ctx, sessions, retained)...)
	}
	var used []string
	if len(w.wills) > 0 {
		id, ps := clearRetainedUnder(ctx, sorted(w.wills), settle())
		used, problems = append(used, id), append(problems, ps...)
	}
	if Public() && (len(w.retained) > 0 || len(w.wills) > 0) {
		id, ps := clearRetainedUnder(ctx, []string{f.root + "/#", "$" + f.root + "/#"}, settle())
		used, problems = append(used, id), append(problems, ps...)
	}
	writeManifest(w, used)
	if len(problems) > 0 {
		fmt.Fprintf(ginkgo.GinkgoWriter, "clean-up left things on the broker: %s\n", strings.Join(problems, "; "))
	}
}

// settle is how long a sweep listens for retained messages after its
// SUBACK: they come right after it, from a broker nearby or far away.
func settle() time.Duration {
	if Public() {
		return 2 * time.Second
	}
	return 300 * time.Millisecond
}

func minus(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		if !b[k] {
			out[k] = true
		}
	}
	return out
}

// clearRetainedUnder subscribes to filters over a direct connection,
// listens for wait after the SUBACK (and as long as messages keep coming,
// up to 10 s), clears every retained message that arrived, and clears the
// filters that are plain topics in any case. It returns the client id it
// used and what it could not clear.
func clearRetainedUnder(ctx context.Context, filters []string, wait time.Duration) (string, []string) {
	id := current.clientID()
	r, err := dialRaw(ctx, current.Target.Upstream)
	if err != nil {
		return id, []string{fmt.Sprintf("sweep: %v", err)}
	}
	defer r.Close()
	if _, err := r.Connect(connectPacket(id)); err != nil {
		cleanupMissing(err)
		return id, []string{fmt.Sprintf("sweep: %v", err)}
	}
	defer func() { _ = r.Send(wire.Disconnect()) }()
	subs := make([]wire.Subscription, len(filters))
	for i, fl := range filters {
		subs[i] = wire.Sub(fl, 0)
	}
	if err := r.Send(wire.Subscribe(1, subs...)); err != nil {
		return id, []string{fmt.Sprintf("sweep: SUBSCRIBE: %v", err)}
	}
	found := map[string]bool{}
	for _, fl := range filters {
		if publishable(fl) {
			found[fl] = true
		}
	}
	subacked := false
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		m, err := r.Read(wait)
		if err != nil {
			break // quiet for wait: every retained message has come
		}
		switch {
		case m.Type == wire.SUBACK:
			subacked = true
		case m.Type == wire.PUBLISH && m.Retain && m.PayloadSize > 0:
			found[m.Topic] = true
			if m.QoS == 1 {
				_ = r.Send(wire.PubAck(m.PacketID))
			}
		}
	}
	var problems []string
	if !subacked {
		problems = append(problems, fmt.Sprintf("sweep: no SUBACK for %v", filters))
	}
	for i, topic := range sorted(found) {
		pid := uint16(i%60000 + 2)
		if err := r.Send(wire.Publish(topic, 1, pid, "", wire.Retained())); err != nil {
			return id, append(problems, fmt.Sprintf("sweep: clearing %s: %v", topic, err))
		}
		if _, err := expectAck(r, pid); err != nil {
			problems = append(problems, fmt.Sprintf("sweep: clearing %s: %v", topic, err))
			if cleanupMissing(err) {
				break // the broker withholds PUBACK: not waited for again
			}
		}
	}
	return id, problems
}

// expectAck waits for the PUBACK of packet id, answering the broker's own
// QoS 1 deliveries (the cleared messages come back to the subscription),
// as long as Expect would (stall.go).
func expectAck(r *Raw, id uint16) (wire.Packet, error) {
	d, cut := answerBound(wire.PUBACK)
	deadline := time.Now().Add(d)
	for {
		p, err := r.Read(time.Until(deadline))
		if err != nil {
			if isTimeout(err) {
				err = &missingAnswer{answer: wire.PUBACK, text: r.missing(wire.PUBACK, d) + cut, cause: err}
			}
			return p, fmt.Errorf("waiting for PUBACK %d: %w", id, err)
		}
		switch {
		case p.Type == wire.PUBACK && p.PacketID == id:
			return p, nil
		case p.Type == wire.PUBLISH && p.QoS == 1:
			_ = r.Send(wire.PubAck(p.PacketID))
		}
	}
}

// The manifest of the run: one file per report directory, appended to by
// every process, one write per spec.
var manifestOnce sync.Once

func writeManifest(w leftovers, sweepIDs []string) {
	dir := os.Getenv(EnvReportDir)
	if dir == "" {
		return
	}
	var b strings.Builder
	manifestOnce.Do(func() {
		fmt.Fprintf(&b, "prefix %s/%s\n", current.Prefix, current.ID)
	})
	ids := sorted(w.clients)
	ids = append(ids, sweepIDs...)
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "client %s\n", id)
	}
	for _, t := range sorted(w.retained) {
		fmt.Fprintf(&b, "retained %s\n", t)
	}
	for _, t := range sorted(w.wills) {
		fmt.Fprintf(&b, "will %s\n", t)
	}
	if b.Len() == 0 {
		return
	}
	fh, err := os.OpenFile(filepath.Join(dir, "manifest.txt"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(ginkgo.GinkgoWriter, "manifest: %v\n", err)
		return
	}
	defer fh.Close()
	_, _ = fh.WriteString(b.String())
}
