package framework

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/suites/history"
)

// Framework gives each spec its clients, links, topics and history, and
// cleans up after it. Create one per container with New; it is reset
// before every spec.
type Framework struct {
	root     string
	start    time.Time
	rec      *history.Recorder
	links    []*proxy.Link
	clients  []*Client
	raws     []*Raw
	retained map[string]bool // topics with retained messages to clear
	done     time.Time       // when the spec's own steps ended, before its clean-up
	sessions map[string]bool // client ids with persistent sessions to end
	v5wire   *v5WireLog      // what broke the MQTT 5.0 encoding rules (v5rule.go)
}

// New returns a Framework and registers the set-up and clean-up of every
// spec in the surrounding container.
func New() *Framework {
	f := &Framework{}
	ginkgo.BeforeEach(func() {
		f.begin()
		// Cleanups run last in, first out: judgeV311 runs after end has
		// closed the spec's connections.
		ginkgo.DeferCleanup(f.judgeV311)
		ginkgo.DeferCleanup(f.judgeV5)
		ginkgo.DeferCleanup(f.end, ginkgo.NodeTimeout(60*time.Second))
		ginkgo.DeferCleanup(f.specDone)
		ginkgo.DeferOnFailure(func() {
			ginkgo.AddReportEntry(TraceEntry, f.TraceText(), ginkgo.ReportEntryVisibilityFailureOrVerbose)
			f.addTraceData(ginkgo.CurrentSpecReport().Failure.Message) // the HTML report's sequence diagram
		})
		if os.Getenv(EnvTrace) == "1" {
			// Every spec's trace, also when it passed: to see what a
			// broker does, not only whether it kept the promise.
			ginkgo.DeferCleanup(func() {
				spec := ginkgo.CurrentSpecReport()
				if !spec.Failed() && !slices.ContainsFunc(spec.ReportEntries, func(e types.ReportEntry) bool { return e.Name == TraceEntry }) {
					ginkgo.AddReportEntry(TraceEntry, f.TraceText(), ginkgo.ReportEntryVisibilityAlways)
				}
				f.addTraceData(spec.Failure.Message)
			})
		}
	})
	return f
}

// active is the Framework of the spec running in this process.
var active *Framework

func (f *Framework) begin() {
	if current == nil {
		ginkgo.Fail("framework: the run is not set up")
	}
	active = f
	f.root = current.specTopicRoot()
	f.start = time.Now()
	f.rec = history.NewRecorder()
	f.links, f.clients, f.raws = nil, nil, nil
	f.retained, f.sessions = map[string]bool{}, map[string]bool{}
	f.v5wire = &v5WireLog{}
}

// History is what the spec's clients have recorded so far.
func (f *Framework) History() history.History { return f.rec.History() }

// Recorder is the spec's recorder, for traffic the spec drives itself.
func (f *Framework) Recorder() *history.Recorder { return f.rec }

// Link creates a link of the spec's own: name labels it in traces.
func (f *Framework) Link(name string) *proxy.Link {
	ginkgo.GinkgoHelper()
	l, err := current.links.Link(name)
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("cannot create a link for %s: %v", name, err))
	}
	f.links = append(f.links, l)
	return l
}

// NewClient makes a client on a new link without connecting it.
func (f *Framework) NewClient(name string, opts ...ClientOption) *Client {
	ginkgo.GinkgoHelper()
	return f.newClientOn(f.Link(name), name, opts...)
}

// newClientOn makes a client on link l, without connecting it.
func (f *Framework) newClientOn(l *proxy.Link, name string, opts ...ClientOption) *Client {
	t := current.Target
	cfg := clientConfig{clean: true, keepAlive: 30 * time.Second, pingTimeout: 10 * time.Second,
		username: t.Username, password: t.Password}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.id == "" {
		cfg.id = current.clientID()
	}
	c := &Client{Name: name, ID: cfg.id, Link: l, cfg: cfg, rec: f.rec, spec: f, closed: make(chan struct{}),
		awaiting: map[ackKey]*InFlight{}, acks: map[ackKey]time.Time{},
		unreleased: map[uint16]bool{}, verdicts: map[uint16][]bool{}, arrivals: map[string][]time.Time{}, store: newStore(), filters: map[string]byte{}, requests: map[uint16][]wire.Subscription{}, earlyAcks: map[uint16]proxy.Entry{}, completed: map[uint16]bool{}, released: map[uint16]bool{}}
	c.store.sync = c.Link.Trace().Sync
	c.Link.Trace().Observe(c.observe)
	f.clients = append(f.clients, c)
	if !cfg.clean {
		f.sessions[c.ID] = true
	}
	return c
}

// Client makes a client on a new link and connects it.
func (f *Framework) Client(ctx context.Context, name string, opts ...ClientOption) *Client {
	ginkgo.GinkgoHelper()
	c := f.NewClient(name, opts...)
	if err := c.Connect(ctx); err != nil {
		ginkgo.Fail(err.Error())
	}
	return c
}

// Subscriber makes a connected client subscribed to filter at qos. The
// granted QoS must be qos; use Client and Subscribe to see what the broker
// grants.
func (f *Framework) Subscriber(ctx context.Context, name, filter string, qos byte, opts ...ClientOption) *Client {
	ginkgo.GinkgoHelper()
	c := f.Client(ctx, name, opts...)
	granted, err := c.Subscribe(ctx, filter, qos)
	if err != nil {
		ginkgo.Fail(err.Error())
	}
	if granted != qos {
		Unsupported(fmt.Sprintf("the broker granted QoS %d (SUBACK code 0x%02x) for a QoS %d subscription to %s", min(granted, 3), granted, qos, filter))
	}
	return c
}

// Retained notes that the spec leaves a retained message on topic, to be
// cleared when the spec ends.
func (f *Framework) Retained(topic string) { f.retained[topic] = true }

// end closes the spec's clients and links and removes what it left on the
// broker: persistent sessions and retained messages.
func (f *Framework) end(ctx context.Context) {
	for _, c := range f.clients {
		c.close()
	}
	for _, r := range f.raws {
		r.Close()
	}
	var problems []string
	if len(f.sessions) > 0 || len(f.retained) > 0 {
		problems = janitor(ctx, f.sessions, f.retained)
	}
	for _, l := range f.links {
		_ = l.Close()
	}
	if len(problems) > 0 {
		fmt.Fprintf(ginkgo.GinkgoWriter, "clean-up left things on the broker: %s\n", strings.Join(problems, "; "))
	}
	f.sweepLeftovers(ctx)
}

// PersistentSession notes that the spec leaves a persistent session for
// clientID on the broker (made over a raw connection), to be ended when
// the spec ends. Clients made with Persistent() are noted by themselves.
func (f *Framework) PersistentSession(clientID string) { f.sessions[clientID] = true }

// specDone marks the end of the spec's own steps (it runs first among the
// framework's clean-ups).
func (f *Framework) specDone() { f.done = time.Now() }
