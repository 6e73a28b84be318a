// Package clientspecs judges a client program, in any language, through a
// Faultline link: Faultline starts the broker (or uses MQTT_BROKER), puts a
// link in front of it, starts the program (FAULTLINE_CLIENT) with the
// link's address in its environment, cuts or darkens the link at exact
// packets, and judges what the client sends from the link's wire trace,
// never from what the program says about itself.
package clientspecs

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/suites/framework"
	"github.com/faultline-mqtt/faultline/suites/framework/program"
)

// The environment the client specs read.
const (
	// EnvClient is the command line of the client under test, run by
	// /bin/sh -c. {host}, {port}, {url}, {id} and {topic} in it are
	// replaced by the link's host and port, its tcp:// URL, a client id
	// unique to the spec and a topic root unique to the spec; the same
	// values are in MQTT_HOST, MQTT_PORT, MQTT_URL, MQTT_CLIENT_ID and
	// MQTT_TOPIC.
	EnvClient = "FAULTLINE_CLIENT"
	// EnvRole is publisher, subscriber or both (default: inferred from
	// what the client sends).
	EnvRole = "CLIENT_ROLE"
	// EnvWatch is how long a spec watches the client do what it does
	// before judging (default 3s).
	EnvWatch = "FAULTLINE_CLIENT_WATCH"
	// EnvGrace is how long a client has to end after SIGTERM before it
	// gets SIGKILL (default 5s).
	EnvGrace = "FAULTLINE_CLIENT_GRACE"
	// EnvMaxKeepAlive is the longest keepalive the keepalive specs wait
	// out (default 10s): a client asking for more is not judged there.
	EnvMaxKeepAlive = "FAULTLINE_CLIENT_MAX_KEEPALIVE"
	// EnvReconnect bounds the wait for a reconnect (default 15s).
	EnvReconnect = "FAULTLINE_CLIENT_RECONNECT"
	// EnvEcho is the topic the client publishes onward every message its
	// application receives ({topic} and {id} substituted; in the
	// program's environment as MQTT_ECHO_TOPIC). When set, the QoS 2
	// exactly-once spec counts those publishes on the wire instead of
	// the lines the program prints.
	EnvEcho = "CLIENT_ECHO"
)

// DefectLabel is the label key naming the defects of the faulty client
// fixture (fixtures/faultyclient) that must turn a client spec red.
const DefectLabel = "client-defect"

// Catches names the faulty-client defects that must turn the spec red;
// fixtures/faultyclient/matrix_test.go proves it.
func Catches(defects ...string) ginkgo.Labels {
	labels := ginkgo.Labels{}
	for _, d := range defects {
		labels = append(labels, DefectLabel+":"+d)
	}
	return labels
}

// Bounds of a client spec.
const (
	connectBound = 10 * time.Second // from start to its first CONNACK
	answerBound  = 5 * time.Second  // for an answer the client owes
)

func duration(key string, def time.Duration) time.Duration {
	if v := os.Getenv(key); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
		ginkgo.Fail(fmt.Sprintf("%s=%q is not a duration such as 5s", key, v))
	}
	return def
}

func watch() time.Duration        { return duration(EnvWatch, 3*time.Second) }
func grace() time.Duration        { return duration(EnvGrace, 5*time.Second) }
func maxKeepAlive() time.Duration { return duration(EnvMaxKeepAlive, 10*time.Second) }
func reconnectBound() time.Duration {
	return duration(EnvReconnect, 15*time.Second)
}

// Command is the client under test's command line ("" when none is set).
func Command() string { return strings.TrimSpace(os.Getenv(EnvClient)) }

// subject is the client program under test, on its own link.
type subject struct {
	f       *framework.Framework
	link    *proxy.Link
	prog    *program.Program
	id      string
	topic   string
	echo    string        // CLIENT_ECHO, substituted ("" when unset)
	changed chan struct{} // a trace entry was added
}

// launch starts the client under test on a new link and registers its
// end: SIGTERM, SIGKILL after the grace period, and its output in the
// spec's report.
func launch(f *framework.Framework) *subject {
	ginkgo.GinkgoHelper()
	cmd := Command()
	if cmd == "" {
		ginkgo.Fail("no client program to judge: set " + EnvClient + " (make client CLIENT='python3 my_client.py')")
	}
	s := &subject{f: f, link: f.Link("client"), id: uniqueID(), topic: f.Topic("client"), changed: make(chan struct{}, 1)}
	s.link.Trace().Observe(func(proxy.Entry) {
		select {
		case s.changed <- struct{}{}:
		default:
		}
	})
	host, port, err := net.SplitHostPort(s.link.Addr())
	if err != nil {
		ginkgo.Fail("the link has no host:port address: " + s.link.Addr())
	}
	vars := map[string]string{"host": host, "port": port, "url": "tcp://" + s.link.Addr(), "id": s.id, "topic": s.topic}
	var env []string
	for k, name := range map[string]string{"host": "MQTT_HOST", "port": "MQTT_PORT", "url": "MQTT_URL", "id": "MQTT_CLIENT_ID", "topic": "MQTT_TOPIC"} {
		env = append(env, name+"="+vars[k])
	}
	if echo := strings.TrimSpace(os.Getenv(EnvEcho)); echo != "" {
		s.echo = program.Substitute(echo, vars)
		env = append(env, "MQTT_ECHO_TOPIC="+s.echo)
	}
	p, err := program.Start(program.Options{Command: cmd, Vars: vars, Env: env})
	if err != nil {
		ginkgo.Fail(err.Error())
	}
	s.prog = p
	g := grace()
	ginkgo.DeferCleanup(func(context.Context) {
		p.Stop(g)
		ginkgo.AddReportEntry("client program", p.Report(), ginkgo.ReportEntryVisibilityFailureOrVerbose)
	}, ginkgo.NodeTimeout(g+15*time.Second))
	return s
}

// uniqueID is a client id of 14 letters and digits, unique to the spec.
func uniqueID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte("flclient")
	for range 6 {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b = append(b, alphabet[n.Int64()])
	}
	return string(b)
}

// entries is the link's trace so far.
func (s *subject) entries() []proxy.Entry { return s.link.Trace().Entries() }

// until waits until cond holds over the trace, at most d, and returns the
// trace and whether cond held. It wakes on every trace entry and when the
// program ends.
func (s *subject) until(ctx context.Context, d time.Duration, cond func([]proxy.Entry) bool) ([]proxy.Entry, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	done := s.prog.Done()
	for {
		es := s.entries()
		if cond(es) {
			return es, true
		}
		select {
		case <-s.changed:
		case <-done:
			done = nil // checked once more, then only the trace and the timer wake us
		case <-timer.C:
			es := s.entries()
			return es, cond(es)
		case <-ctx.Done():
			es := s.entries()
			return es, cond(es)
		}
	}
}

// watchFor lets the client do what it does for d, or until its program
// ends, and returns the trace.
func (s *subject) watchFor(ctx context.Context, d time.Duration) []proxy.Entry {
	es, _ := s.until(ctx, d, func([]proxy.Entry) bool { return !s.prog.Running() })
	if !s.prog.Running() {
		es = s.settle(ctx)
	}
	return es
}

// quiet waits until nothing has crossed the link for d (at most bound),
// as when a user stops an idle program.
func (s *subject) quiet(ctx context.Context, d, bound time.Duration) {
	end := time.NewTimer(bound)
	defer end.Stop()
	for {
		t := time.NewTimer(d)
		select {
		case <-s.changed:
			t.Stop()
		case <-t.C:
			return
		case <-end.C:
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// settle waits, briefly, for the trace to show every connection closed
// once the program has ended.
func (s *subject) settle(ctx context.Context) []proxy.Entry {
	es, _ := s.until(ctx, time.Second, func(es []proxy.Entry) bool {
		for _, c := range connections(es) {
			if c.closedAt.IsZero() {
				return false
			}
		}
		return true
	})
	return es
}

// awaitConnected waits for the client's first accepted connection and
// returns it; a client that does not get there fails the spec, saying how
// far it got.
func (s *subject) awaitConnected(ctx context.Context) *conn {
	ginkgo.GinkgoHelper()
	es, ok := s.until(ctx, connectBound, func(es []proxy.Entry) bool {
		return firstAccepted(es) != nil || !s.prog.Running()
	})
	if c := firstAccepted(es); c != nil && ok {
		return c
	}
	cs := connections(es)
	switch {
	case len(cs) == 0 && !s.prog.Running():
		ginkgo.Fail(fmt.Sprintf("the client never connected: its program ended (%s) without opening a connection to %s%s", s.prog.Status(), s.link.Addr(), lastLines("its stderr ends", s.prog.Stderr(), 4)))
	case len(cs) == 0:
		ginkgo.Fail(fmt.Sprintf("the client never connected: no connection to %s within %v (does it read MQTT_HOST/MQTT_PORT, or {host}/{port} in its command?)", s.link.Addr(), connectBound))
	case cs[0].connect == nil:
		ginkgo.Fail(fmt.Sprintf("the client opened a connection but sent no CONNECT within %v", connectBound))
	case cs[0].connack == nil:
		ginkgo.Fail(fmt.Sprintf("the client sent %s but the broker accepted no connection of it within %v", cs[0].connect, connectBound))
	default:
		ginkgo.Fail(fmt.Sprintf("the broker refused the client's connection: %s", cs[0].connack))
	}
	return nil
}

// conn is one connection of the client, as the trace shows it.
type conn struct {
	n         int
	openedAt  time.Time
	entries   []proxy.Entry
	connect   *wire.Packet
	connectAt time.Time
	connack   *wire.Packet
	connackAt time.Time
	closedAt  time.Time
	closedBy  string
}

// sent are the packets the client sent on the connection: those that
// passed and those a fault made vanish (the client sent them all).
func (c *conn) sent() []proxy.Entry {
	var out []proxy.Entry
	for _, e := range c.entries {
		if e.Dir == proxy.ToBroker && (e.Kind == proxy.Passed || e.Kind == proxy.Dropped && e.Packet.Type != 0) {
			out = append(out, e)
		}
	}
	return out
}

// connections groups a trace by connection, in order.
func connections(es []proxy.Entry) []*conn {
	byN := map[int]*conn{}
	var out []*conn
	for _, e := range es {
		if e.Conn == 0 {
			if e.Kind == proxy.Injected && (strings.HasPrefix(e.Note, "reset now") || strings.HasPrefix(e.Note, "down")) {
				for _, c := range out {
					if c.closedAt.IsZero() {
						c.closedAt, c.closedBy = e.At, "Faultline cut the link"
					}
				}
			}
			continue
		}
		c := byN[e.Conn]
		if c == nil {
			c = &conn{n: e.Conn, openedAt: e.At}
			byN[e.Conn] = c
			out = append(out, c)
		}
		c.entries = append(c.entries, e)
		switch {
		case e.Kind == proxy.Passed && e.Dir == proxy.ToBroker && e.Packet.Type == wire.CONNECT && c.connect == nil:
			p := e.Packet
			c.connect, c.connectAt = &p, e.At
		case e.Kind == proxy.Passed && e.Dir == proxy.FromBroker && e.Packet.Type == wire.CONNACK && c.connack == nil:
			p := e.Packet
			c.connack, c.connackAt = &p, e.At
		case e.Kind == proxy.Event && strings.Contains(e.Note, "closed the connection") && c.closedAt.IsZero():
			c.closedAt, c.closedBy = e.At, e.Note
		case e.Kind == proxy.Injected && strings.Contains(e.Note, "reset") && c.closedAt.IsZero():
			c.closedAt, c.closedBy = e.At, "Faultline cut the link"
		}
	}
	return out
}

// firstAccepted is the first connection the broker accepted.
func firstAccepted(es []proxy.Entry) *conn {
	for _, c := range connections(es) {
		if c.connack != nil && c.connack.ReasonCode == 0 {
			return c
		}
	}
	return nil
}

// acceptedAfter is the first connection accepted after connection n.
func acceptedAfter(es []proxy.Entry, n int) *conn {
	for _, c := range connections(es) {
		if c.n > n && c.connack != nil && c.connack.ReasonCode == 0 {
			return c
		}
	}
	return nil
}

// did says whether the client sent a packet of type t in the trace.
func did(es []proxy.Entry, t wire.Type) bool {
	for _, e := range es {
		if e.Dir == proxy.ToBroker && e.Kind == proxy.Passed && e.Packet.Type == t {
			return true
		}
	}
	return false
}

// declared says whether CLIENT_ROLE rules out a role: "publisher" rules
// out subscribing, "subscriber" publishing.
func declared(r string) bool {
	return strings.EqualFold(os.Getenv(EnvRole), r)
}

// role is what the client is: from CLIENT_ROLE, or from what it sent.
func role(es []proxy.Entry) (publisher, subscriber bool) {
	switch r := strings.ToLower(os.Getenv(EnvRole)); r {
	case "publisher":
		return true, false
	case "subscriber":
		return false, true
	case "both":
		return true, true
	case "":
		return did(es, wire.PUBLISH), did(es, wire.SUBSCRIBE)
	default:
		ginkgo.Fail(fmt.Sprintf("%s=%q: use publisher, subscriber or both", EnvRole, r))
	}
	return false, false
}

// since renders how long after t0 t came.
func since(t0, t time.Time) string { return fmt.Sprintf("%.2f s", t.Sub(t0).Seconds()) }

// excerpt is the client link's trace, for failure messages.
func (s *subject) excerpt() string { return proxy.Format(s.entries(), s.prog.Started(), 60) }

// lastLines is the last n lines of text, introduced by what ("" when
// text is empty).
func lastLines(what, text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if text == "" {
		return ""
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "; " + what + ":\n" + strings.Join(lines, "\n")
}
