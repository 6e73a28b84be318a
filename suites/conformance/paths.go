package conformance

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// Delivery paths. A broker applies its topic rules once per path a message
// can take to a subscriber, often in different code: a live publish, the
// retained messages sent for a new or a repeated subscription, a Last
// Will, the messages queued for an offline persistent session, and the
// messages re-sent after a cut. Each rule is checked on each path.

// ptRoute is what a rule asks of one subscriber: its subscriptions, and the
// topics that must and must not reach it. Every topic is under the spec's
// topic root (a '$' topic under "$" + that root).
type ptRoute struct {
	subs   []ptSub
	match  []string // must arrive
	others []string // must not arrive
	qos    byte     // overlapping subscriptions: one copy must arrive at this QoS (0: not judged)
}

type ptSub struct {
	filter string
	qos    byte
}

// all is every topic published, those that must not arrive first.
func (r ptRoute) all() []string { return append(slices.Clone(r.others), r.match...) }

// ptPayload names the message published to the i-th topic of all.
func ptPayload(i int) string { return fmt.Sprintf("p%d", i) }

// ptRule builds a rule's route under the spec's root.
type ptRule func(f *Framework) ptRoute

func ptOne(filter string, match, others []string) ptRoute {
	return ptRoute{subs: []ptSub{{filter, 1}}, match: match, others: others}
}

// The rules, with the topics that tell a broker that keeps them from one
// that does not.
var (
	ptExact ptRule = func(f *Framework) ptRoute {
		return ptOne(f.Topic("sensors/1/temperature"), []string{f.Topic("sensors/1/temperature")},
			[]string{f.Topic("sensors/1/temperature/raw"), f.Topic("sensors/1"), f.Topic("sensors/1/temperatures")})
	}
	ptPlus ptRule = func(f *Framework) ptRoute {
		return ptOne(f.Topic("sensors/+/temperature"), []string{f.Topic("sensors/1/temperature"), f.Topic("sensors/2/temperature")},
			[]string{f.Topic("sensors/1/2/temperature"), f.Topic("sensors/temperature"), f.Topic("sensors/1/temperature/raw")})
	}
	ptHash ptRule = func(f *Framework) ptRoute {
		return ptOne(f.Topic("sport/#"), []string{f.Topic("sport"), f.Topic("sport/tennis"), f.Topic("sport/tennis/player1")},
			[]string{f.Topic("sports"), f.Topic("sportsfan/tennis")})
	}
	// Only '+' leads the filter: a leading '#' would subscribe to every
	// topic of the broker, which a spec sharing it must not do.
	ptDollar ptRule = func(f *Framework) ptRoute {
		plain := f.Topic("status")
		return ptOne("+/"+BelowFirstLevel(plain), []string{plain}, []string{f.DollarTopic("status")})
	}
	ptCase ptRule = func(f *Framework) ptRoute {
		return ptOne(f.Topic("Floor1/Temperature"), []string{f.Topic("Floor1/Temperature")},
			[]string{f.Topic("floor1/temperature"), f.Topic("FLOOR1/TEMPERATURE"), f.Topic("Floor1/temperature")})
	}
	ptEmpty ptRule = func(f *Framework) ptRoute {
		return ptOne(f.Topic("a/+/b"), []string{f.Topic("a//b"), f.Topic("a/x/b")}, []string{f.Topic("a/b"), f.Topic("a/x/y/b")})
	}
	ptOverlap ptRule = func(f *Framework) ptRoute {
		t := f.Topic("sensors/1/temperature")
		return ptRoute{subs: []ptSub{{f.Topic("sensors/#"), 0}, {t, 1}}, match: []string{t}, qos: 1}
	}
)

// ptSubscriber makes a client subscribed to every filter of the route at
// its QoS; a lower grant is "not supported".
func ptSubscriber(ctx SpecContext, f *Framework, name string, r ptRoute, opts ...ClientOption) *Client {
	GinkgoHelper()
	c := f.Client(ctx, name, opts...)
	ptSubscribe(ctx, c, r)
	return c
}

func ptSubscribe(ctx SpecContext, c *Client, r ptRoute) {
	GinkgoHelper()
	for _, s := range r.subs {
		granted, err := c.Subscribe(ctx, s.filter, s.qos)
		if err != nil && !c.Connected() {
			Unsupported(fmt.Sprintf("the broker closed the connection on a SUBSCRIBE to %q: %v", s.filter, err))
		}
		Expect(err).NotTo(HaveOccurred())
		if granted != s.qos {
			Unsupported(fmt.Sprintf("the broker granted QoS %d (SUBACK code 0x%02x) for a QoS %d subscription to %q", min(granted, 3), granted, s.qos, s.filter))
		}
	}
}

// ptWatcher subscribes to every topic of the route by its exact name: when
// it has every message, the broker has routed them all.
func ptWatcher(ctx SpecContext, f *Framework, r ptRoute) *Client {
	GinkgoHelper()
	w := ptRoute{}
	for _, t := range r.all() {
		w.subs = append(w.subs, ptSub{t, 1})
	}
	return ptSubscriber(ctx, f, "watcher", w)
}

// ptRouted waits until the watcher has every message. A message on a '$'
// topic that not even the exact subscription gets is "not supported": the
// broker does not let clients publish there. Any other message that never
// arrives is a failure: the broker acknowledged it and dropped it.
func ptRouted(ctx SpecContext, watcher *Client, r ptRoute, how string) {
	GinkgoHelper()
	all := r.all()
	missing := func() []string {
		var out []string
		for i, t := range all {
			if !slices.Contains(watcher.Payloads(), ptPayload(i)) {
				out = append(out, t)
			}
		}
		return out
	}
	if rtWithin(ctx, 5*time.Second, func() bool { return len(missing()) == 0 }) {
		return
	}
	if m := missing(); !slices.ContainsFunc(m, func(t string) bool { return !strings.HasPrefix(t, "$") }) {
		Unsupported(fmt.Sprintf("the broker accepted %s on %q but delivered it to no subscriber, not even one with that exact filter: it does not let clients publish to these '$' topics", how, m))
	}
	Expect(missing()).To(BeEmpty(), "the broker accepted %s on these topics but never delivered them to a subscription with their exact names (acknowledged, then dropped)", how)
}

// ptPublish publishes the i-th message of the route to each topic. A
// broker that closes the connection instead refuses the topic (a limit):
// "not supported", with the topic.
func ptPublish(ctx SpecContext, pub *Client, r ptRoute, retain bool) {
	GinkgoHelper()
	for i, t := range r.all() {
		if err := pub.PublishAsync(t, 1, retain, ptPayload(i)).Wait(ctx); err != nil {
			if !pub.Connected() {
				Unsupported(fmt.Sprintf("the broker closed the connection on a PUBLISH to %q (%d bytes, %d levels): %v", t, len(t), strings.Count(t, "/")+1, err))
			}
			Expect(err).NotTo(HaveOccurred(), "PUBLISH to %q", t)
		}
	}
}

// A ptPath brings the route's messages to a subscriber by one path and
// returns what that subscriber got by it.
type ptPath func(ctx SpecContext, f *Framework, r ptRoute) func() []Message

// ptLive: the subscriber is subscribed when the messages are published.
func ptLive(ctx SpecContext, f *Framework, r ptRoute) func() []Message {
	sub := ptSubscriber(ctx, f, "sub", r)
	watcher := ptWatcher(ctx, f, r)
	pub := f.Client(ctx, "pub")
	ptPublish(ctx, pub, r, false)
	ptRouted(ctx, watcher, r, "a PUBLISH")
	return sub.Received
}

// ptRetainedNew: retained messages, then a new subscription.
func ptRetainedNew(ctx SpecContext, f *Framework, r ptRoute) func() []Message {
	return ptRetainedSub(ctx, f, r).Received
}

// ptRetainedSub publishes the retained messages, waits until they are
// routed, and subscribes a new client.
func ptRetainedSub(ctx SpecContext, f *Framework, r ptRoute) *Client {
	GinkgoHelper()
	watcher := ptWatcher(ctx, f, r)
	pub := f.Client(ctx, "pub")
	ptPublish(ctx, pub, r, true)
	ptRouted(ctx, watcher, r, "a retained PUBLISH")
	return ptSubscriber(ctx, f, "sub", r)
}

// ptRetainedAgain: retained messages, a subscription that gets them, then
// the same SUBSCRIBE again, which must send them again [MQTT-3.8.4-3]: what
// comes after the repeated SUBSCRIBE.
func ptRetainedAgain(ctx SpecContext, f *Framework, r ptRoute) func() []Message {
	GinkgoHelper()
	sub := ptRetainedSub(ctx, f, r)
	// What the first SUBSCRIBE brings is the retained entries' business:
	// here it only has to be over before the second.
	n := ptSettled(ctx, sub, len(r.match))
	ptSubscribe(ctx, sub, r)
	return func() []Message { return sub.Received()[n:] }
}

// ptSettled waits until c has at least n messages and then none for 300
// ms, or fewer and none for a second (at most 5 s in all, else the spec
// fails), and returns how many it has.
func ptSettled(ctx SpecContext, c *Client, n int) int {
	GinkgoHelper()
	count, since := -1, time.Now()
	settled := rtWithin(ctx, 5*time.Second, func() bool {
		if got := len(c.Received()); got != count {
			count, since = got, time.Now()
		}
		// n in and quiet, or fewer (a broker that misses some: the
		// entry judges that) and quiet for a whole second
		quiet := time.Since(since)
		return count >= n && quiet >= 300*time.Millisecond || quiet >= time.Second
	})
	Expect(settled).To(BeTrue(), "the first SUBSCRIBE's retained messages never settled within 5 s (%d so far, %d expected)", len(c.Received()), n)
	return len(c.Received())
}

// ptWill: each message is the Last Will of a client whose link is cut.
func ptWill(ctx SpecContext, f *Framework, r ptRoute) func() []Message {
	sub := ptSubscriber(ctx, f, "sub", r)
	watcher := ptWatcher(ctx, f, r)
	var doomed []*Client
	for i, t := range r.all() {
		c := f.NewClient(fmt.Sprintf("doomed%d", i), Will(t, ptPayload(i), 1, false))
		if err := c.Connect(ctx); err != nil {
			Unsupported(fmt.Sprintf("the broker did not accept a CONNECT with a Will on %q: %v", t, err))
		}
		doomed = append(doomed, c)
	}
	for _, c := range doomed {
		c.Link.Cut()
	}
	ptRouted(ctx, watcher, r, "a Will")
	return sub.Received
}

// ptQueued: the subscriber's persistent session is offline while the
// messages are published; it comes back to them.
func ptQueued(ctx SpecContext, f *Framework, r ptRoute) func() []Message {
	sub := ptSubscriber(ctx, f, "sub", r, Persistent())
	watcher := ptWatcher(ctx, f, r)
	sub.Disconnect()
	pub := f.Client(ctx, "pub")
	ptPublish(ctx, pub, r, false)
	ptRouted(ctx, watcher, r, "a PUBLISH")
	pub.Sync(ctx) // every copy routed, not only the watcher's, before the subscriber resumes
	Expect(sub.Connect(ctx)).To(Succeed())
	Expect(sub.SessionPresent()).To(BeTrue(), "the broker did not keep the subscriber's persistent session")
	return sub.Received
}

// ptResent: the subscriber (persistent session, raw, so that it can hold
// back its PUBACKs) receives the messages and acknowledges none; its link
// is cut, it comes back, and the broker must re-send them [MQTT-4.4.0-1]:
// what comes after the reconnect. A broker may keep fewer messages in
// flight than were published (ejabberd keeps one per session): those it
// held back come after the reconnect for the first time, DUP=0, and are
// judged with the rest.
func ptResent(ctx SpecContext, f *Framework, r ptRoute) func() []Message {
	GinkgoHelper()
	p := ConnectPacket()
	p.CleanStart = false
	f.PersistentSession(p.ClientID)
	first := f.Raw(ctx, "sub")
	_, err := first.Connect(p)
	Expect(err).NotTo(HaveOccurred(), "the broker did not accept a CleanSession=0 CONNECT")
	var subs []wire.Subscription
	for _, s := range r.subs {
		subs = append(subs, wire.Sub(s.filter, s.qos))
	}
	Expect(first.SubscribeFilters(1, subs...)).To(Succeed())
	ack, err := first.Expect(wire.SUBACK, 5*time.Second)
	if err != nil && first.ExpectClosed(0) == nil {
		Unsupported(fmt.Sprintf("the broker closed the connection on a SUBSCRIBE to %v: %v", subs, err))
	}
	Expect(err).NotTo(HaveOccurred())
	for i, s := range r.subs {
		if i >= len(ack.ReasonCodes) || ack.ReasonCodes[i] != s.qos {
			Unsupported(fmt.Sprintf("the broker answered a QoS %d subscription to %q with SUBACK %s", s.qos, s.filter, ack))
		}
	}
	watcher := ptWatcher(ctx, f, r)
	pub := f.Client(ctx, "pub")
	ptPublish(ctx, pub, r, false)
	ptRouted(ctx, watcher, r, "a PUBLISH")
	held, err := ptHold(first, 5*time.Second, len(r.match))
	Expect(err).NotTo(HaveOccurred(), "the broker closed the subscriber's connection")
	inFlight := ptMessages(held)
	Expect(inFlight).NotTo(BeEmpty(), "before the cut the subscriber got no PUBLISH: nothing was in flight to re-send")
	Expect(len(inFlight)).To(BeNumerically("<=", len(r.match)), "before the cut the subscriber got more PUBLISHes than topics its filters match: %v", inFlight)

	first.Link.Cut()
	again := f.Raw(ctx, "sub-again")
	ack, err = again.Connect(p)
	Expect(err).NotTo(HaveOccurred(), "the subscriber could not connect again")
	Expect(ack.SessionPresent).To(BeTrue(), "the broker did not keep the subscriber's persistent session")
	got, err := again.ReadAcking(5*time.Second, func(ps []wire.Packet) bool { return len(OfType(ps, wire.PUBLISH)) >= len(r.match) })
	Expect(err).NotTo(HaveOccurred(), "the broker closed the subscriber's second connection")
	more, err := again.ReadAcking(300*time.Millisecond, nil) // one too many would come now
	Expect(err).NotTo(HaveOccurred(), "the broker closed the subscriber's second connection")
	after := ptMessages(append(got, more...))
	for _, m := range after {
		if slices.ContainsFunc(inFlight, func(h Message) bool { return h.Topic == m.Topic && h.Payload == m.Payload }) {
			Expect(m.Dup).To(BeTrue(), "%q came back with DUP=0, but it is a re-sent PUBLISH [MQTT-3.3.1-1]", m.Topic)
		}
	}
	return func() []Message { return after }
}

// ptHold reads what the broker sends without acknowledging any PUBLISH,
// until n PUBLISHes came and then 300 ms more, or d passes.
func ptHold(r *Raw, d time.Duration, n int) ([]wire.Packet, error) {
	var got []wire.Packet
	deadline := time.Now().Add(d)
	for {
		if settle := time.Now().Add(300 * time.Millisecond); len(OfType(got, wire.PUBLISH)) >= n && settle.Before(deadline) {
			deadline = settle
		}
		left := time.Until(deadline)
		if left <= 0 {
			return got, nil
		}
		p, err := r.Read(left)
		if err != nil {
			if isTimeoutErr(err) {
				return got, nil
			}
			return got, err
		}
		got = append(got, p)
	}
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ptMessages are the PUBLISHes among ps, as messages.
func ptMessages(ps []wire.Packet) []Message {
	var out []Message
	for _, p := range OfType(ps, wire.PUBLISH) {
		out = append(out, Message{Topic: p.Topic, Payload: string(p.Payload), QoS: p.QoS, Dup: p.DUP, Retain: p.Retain})
	}
	return out
}

// ptTopics lists the distinct topics of what got returns, in arrival order.
func ptTopics(got func() []Message) func() []string {
	return func() []string {
		var out []string
		for _, m := range got() {
			if !slices.Contains(out, m.Topic) {
				out = append(out, m.Topic)
			}
		}
		return out
	}
}

// ptExpectTopics checks that the path brought messages on exactly the
// route's matching topics, byte for byte; a failure shows both sides
// quoted.
func ptExpectTopics(ctx SpecContext, got func() []Message, r ptRoute, path string) {
	GinkgoHelper()
	diff := func() string {
		have := ptTopics(got)()
		var missing, extra []string
		for _, t := range r.match {
			if !slices.Contains(have, t) {
				missing = append(missing, t)
			}
		}
		for _, t := range have {
			if !slices.Contains(r.match, t) {
				extra = append(extra, t)
			}
		}
		if len(missing) == 0 && len(extra) == 0 {
			return ""
		}
		return fmt.Sprintf("%s: the subscriber (filters %q) got topics %q\n  never got (published, matching): %q\n  got (not published, or not matching): %q",
			path, ptFilters(r), have, missing, extra)
	}
	Eventually(diff).WithContext(ctx).Should(BeEmpty())
	Consistently(diff).WithContext(ctx).Should(BeEmpty())
	if r.qos > 0 {
		Expect(got()).To(ContainElement(HaveField("QoS", r.qos)),
			"%s: a message matching subscriptions %v must reach the client at least once at the highest QoS granted among them, %d [MQTT-3.3.5-1]", path, r.subs, r.qos)
		Expect(len(got())).To(BeNumerically("<=", len(r.subs)), "%s: at most one copy per matching subscription", path)
	}
}

func ptFilters(r ptRoute) []string {
	var out []string
	for _, s := range r.subs {
		out = append(out, s.filter)
	}
	return out
}

// ptCorpus are topic levels (below the spec's root) a broker must carry
// byte for byte: separators next to punctuation, spaces, multi-byte UTF-8,
// a byte order mark, decomposed and composed forms, a very long level,
// many levels, empty levels, leading and trailing '/'.
func ptCorpus(f *Framework) []string {
	rel := []string{
		"a.b/c-d/e_f/.-_",
		"dot./-dash/_under",
		" space / both ends /in side",
		"\u00fcn\u00efc\u00f6de/\u20acuro/\u65e5\u672c\u8a9e/\U0001F600",
		"\ufeffbom/E\u0301tage/\u00c9tage",
		"long/" + strings.Repeat("L", 2000),
		strings.Repeat("l/", 99) + "l",
		"/leading",
		"trailing/",
		"empty//level",
		"Case/MiXeD",
	}
	out := make([]string, len(rel))
	for i, t := range rel {
		out[i] = f.Topic("bytes/" + t)
	}
	return out
}

var _ = Describe("Topic rules on every delivery path", Label("routing", "paths"), func() {
	f := New()

	// Rows are rules, columns paths. Left out, and why:
	//  - overlapping subscriptions × retained (new or repeated
	//    subscription): a retained message is sent because of one
	//    subscription, at that subscription's QoS [MQTT-3.3.1-6]
	//    [MQTT-3.8.4-6]; the highest-QoS rule [MQTT-3.3.5-1] is about a
	//    message routed to several subscriptions at once.
	//  - overlapping subscriptions × re-sent after a cut: a re-sent PUBLISH
	//    is the one sent before, with its QoS [MQTT-4.4.0-1]; which QoS it
	//    was sent at is the live and queued entries' business.
	DescribeTable("a topic rule holds on every path a message takes to a subscriber",
		func(ctx SpecContext, rule ptRule, path ptPath, name string) {
			r := rule(f)
			got := path(ctx, f, r)
			ptExpectTopics(ctx, got, r, name)
		},
		// exact match
		ConformanceEntry("exact match: live publish", ptExact, ptLive, "live",
			Statements("MQTT-3.3.2-3", "MQTT-4.7.3-4"), Catches("live-exact-matches-below")),
		ConformanceEntry("exact match: retained message for a new subscription", ptExact, ptRetainedNew, "retained",
			Statements("MQTT-3.3.1-6", "MQTT-3.3.2-3"), Catches("retained-exact-matches-below")),
		ConformanceEntry("exact match: retained message again for a repeated subscription", ptExact, ptRetainedAgain, "retained again",
			Statements("MQTT-3.8.4-3", "MQTT-3.3.2-3"), Catches("retained-again-exact-matches-below")),
		ConformanceEntry("exact match: Last Will", ptExact, ptWill, "will",
			Statements("MQTT-3.1.2-8", "MQTT-3.3.2-3"), Catches("will-exact-matches-below")),
		ConformanceEntry("exact match: queued for an offline persistent session", ptExact, ptQueued, "queued",
			Statements("MQTT-3.1.2-5", "MQTT-4.5.0-1", "MQTT-3.3.2-3"), Catches("queued-exact-matches-below")),
		ConformanceEntry("exact match: re-sent after a cut", ptExact, ptResent, "re-sent",
			Statements("MQTT-4.4.0-1", "MQTT-3.3.2-3"), Catches("resent-exact-matches-below")),
		// '+'
		ConformanceEntry("'+' is one level: live publish", ptPlus, ptLive, "live",
			Statements("MQTT-4.7.1-3", "MQTT-3.3.2-3"), Catches("live-plus-matches-many")),
		ConformanceEntry("'+' is one level: retained message for a new subscription", ptPlus, ptRetainedNew, "retained",
			Statements("MQTT-4.7.1-3", "MQTT-3.3.1-6"), Catches("retained-plus-matches-many")),
		ConformanceEntry("'+' is one level: retained message again for a repeated subscription", ptPlus, ptRetainedAgain, "retained again",
			Statements("MQTT-4.7.1-3", "MQTT-3.8.4-3"), Catches("retained-again-plus-matches-many")),
		ConformanceEntry("'+' is one level: Last Will", ptPlus, ptWill, "will",
			Statements("MQTT-4.7.1-3", "MQTT-3.1.2-8"), Catches("will-plus-matches-many")),
		ConformanceEntry("'+' is one level: queued for an offline persistent session", ptPlus, ptQueued, "queued",
			Statements("MQTT-4.7.1-3", "MQTT-3.1.2-5"), Catches("queued-plus-matches-many")),
		ConformanceEntry("'+' is one level: re-sent after a cut", ptPlus, ptResent, "re-sent",
			Statements("MQTT-4.7.1-3", "MQTT-4.4.0-1"), Catches("resent-plus-matches-many")),
		// '#' and its parent level
		ConformanceEntry("'#' includes the parent level: live publish", ptHash, ptLive, "live",
			Statements("MQTT-4.7.1-2", "MQTT-3.3.2-3"), Catches("live-hash-excludes-parent")),
		ConformanceEntry("'#' includes the parent level: retained message for a new subscription", ptHash, ptRetainedNew, "retained",
			Statements("MQTT-4.7.1-2", "MQTT-3.3.1-6"), Catches("retained-hash-excludes-parent")),
		ConformanceEntry("'#' includes the parent level: retained message again for a repeated subscription", ptHash, ptRetainedAgain, "retained again",
			Statements("MQTT-4.7.1-2", "MQTT-3.8.4-3"), Catches("retained-again-hash-excludes-parent")),
		ConformanceEntry("'#' includes the parent level: Last Will", ptHash, ptWill, "will",
			Statements("MQTT-4.7.1-2", "MQTT-3.1.2-8"), Catches("will-hash-excludes-parent")),
		ConformanceEntry("'#' includes the parent level: queued for an offline persistent session", ptHash, ptQueued, "queued",
			Statements("MQTT-4.7.1-2", "MQTT-3.1.2-5"), Catches("queued-hash-excludes-parent")),
		ConformanceEntry("'#' includes the parent level: re-sent after a cut", ptHash, ptResent, "re-sent",
			Statements("MQTT-4.7.1-2", "MQTT-4.4.0-1"), Catches("resent-hash-excludes-parent")),
		// '$' topics
		ConformanceEntry("'$' topics are not matched by a leading '+': live publish", ptDollar, ptLive, "live",
			Statements("MQTT-4.7.2-1"), Catches("live-dollar-topics-matched")),
		ConformanceEntry("'$' topics are not matched by a leading '+': retained message for a new subscription", ptDollar, ptRetainedNew, "retained",
			Statements("MQTT-4.7.2-1", "MQTT-3.3.1-6"), Catches("retained-dollar-topics-matched")),
		ConformanceEntry("'$' topics are not matched by a leading '+': retained message again for a repeated subscription", ptDollar, ptRetainedAgain, "retained again",
			Statements("MQTT-4.7.2-1", "MQTT-3.8.4-3"), Catches("retained-again-dollar-topics-matched")),
		ConformanceEntry("'$' topics are not matched by a leading '+': Last Will", ptDollar, ptWill, "will",
			Statements("MQTT-4.7.2-1", "MQTT-3.1.2-8"), Catches("will-dollar-topics-matched")),
		ConformanceEntry("'$' topics are not matched by a leading '+': queued for an offline persistent session", ptDollar, ptQueued, "queued",
			Statements("MQTT-4.7.2-1", "MQTT-3.1.2-5"), Catches("queued-dollar-topics-matched")),
		ConformanceEntry("'$' topics are not matched by a leading '+': re-sent after a cut", ptDollar, ptResent, "re-sent",
			Statements("MQTT-4.7.2-1", "MQTT-4.4.0-1"), Catches("resent-dollar-topics-matched")),
		// case
		ConformanceEntry("topics differing in case are different topics: live publish", ptCase, ptLive, "live",
			Statements("MQTT-4.7.3-4"), Catches("live-case-insensitive")),
		ConformanceEntry("topics differing in case are different topics: retained message for a new subscription", ptCase, ptRetainedNew, "retained",
			Statements("MQTT-4.7.3-4", "MQTT-3.3.1-6"), Catches("retained-case-insensitive")),
		ConformanceEntry("topics differing in case are different topics: retained message again for a repeated subscription", ptCase, ptRetainedAgain, "retained again",
			Statements("MQTT-4.7.3-4", "MQTT-3.8.4-3"), Catches("retained-again-case-insensitive")),
		ConformanceEntry("topics differing in case are different topics: Last Will", ptCase, ptWill, "will",
			Statements("MQTT-4.7.3-4", "MQTT-3.1.2-8"), Catches("will-case-insensitive")),
		ConformanceEntry("topics differing in case are different topics: queued for an offline persistent session", ptCase, ptQueued, "queued",
			Statements("MQTT-4.7.3-4", "MQTT-3.1.2-5"), Catches("queued-case-insensitive")),
		ConformanceEntry("topics differing in case are different topics: re-sent after a cut", ptCase, ptResent, "re-sent",
			Statements("MQTT-4.7.3-4", "MQTT-4.4.0-1"), Catches("resent-case-insensitive")),
		// empty levels
		ConformanceEntry("an empty level is a level: live publish", ptEmpty, ptLive, "live",
			Statements("MQTT-4.7.3-4", "MQTT-4.7.1-3"), Catches("live-empty-levels-collapsed")),
		ConformanceEntry("an empty level is a level: retained message for a new subscription", ptEmpty, ptRetainedNew, "retained",
			Statements("MQTT-4.7.3-4", "MQTT-3.3.1-6"), Catches("retained-empty-levels-collapsed")),
		ConformanceEntry("an empty level is a level: retained message again for a repeated subscription", ptEmpty, ptRetainedAgain, "retained again",
			Statements("MQTT-4.7.3-4", "MQTT-3.8.4-3"), Catches("retained-again-empty-levels-collapsed")),
		ConformanceEntry("an empty level is a level: Last Will", ptEmpty, ptWill, "will",
			Statements("MQTT-4.7.3-4", "MQTT-3.1.2-8"), Catches("will-empty-levels-collapsed")),
		ConformanceEntry("an empty level is a level: queued for an offline persistent session", ptEmpty, ptQueued, "queued",
			Statements("MQTT-4.7.3-4", "MQTT-3.1.2-5"), Catches("queued-empty-levels-collapsed")),
		ConformanceEntry("an empty level is a level: re-sent after a cut", ptEmpty, ptResent, "re-sent",
			Statements("MQTT-4.7.3-4", "MQTT-4.4.0-1"), Catches("resent-empty-levels-collapsed")),
		// overlapping subscriptions
		ConformanceEntry("overlapping subscriptions deliver at the highest granted QoS: live publish", ptOverlap, ptLive, "live",
			Statements("MQTT-3.3.5-1"), Catches("live-overlap-lowest-qos")),
		ConformanceEntry("overlapping subscriptions deliver at the highest granted QoS: Last Will", ptOverlap, ptWill, "will",
			Statements("MQTT-3.3.5-1", "MQTT-3.1.2-8"), Catches("will-overlap-lowest-qos")),
		ConformanceEntry("overlapping subscriptions deliver at the highest granted QoS: queued for an offline persistent session", ptOverlap, ptQueued, "queued",
			Statements("MQTT-3.3.5-1", "MQTT-3.1.2-5"), Catches("queued-overlap-lowest-qos")),
	)

	DescribeTable("a topic name reaches every subscriber byte for byte, on every path",
		func(ctx SpecContext, path ptPath, name string) {
			corpus := ptCorpus(f)
			r := ptOne(f.Topic("bytes/#"), corpus, nil)
			got := path(ctx, f, r)
			ptExpectTopics(ctx, got, r, name)
		},
		ConformanceEntry("live publish", ptLive, "live",
			Statements("MQTT-4.7.3-4", "MQTT-3.3.2-3", "MQTT-1.5.3-3"), Catches("live-topic-unicode-mangled")),
		ConformanceEntry("retained message for a new subscription", ptRetainedNew, "retained",
			Statements("MQTT-4.7.3-4", "MQTT-3.3.1-6", "MQTT-1.5.3-3"), Catches("retained-topic-truncated")),
		ConformanceEntry("retained message again for a repeated subscription", ptRetainedAgain, "retained again",
			Statements("MQTT-4.7.3-4", "MQTT-3.8.4-3", "MQTT-1.5.3-3"), Catches("retained-again-topic-spaces-trimmed")),
		ConformanceEntry("Last Will", ptWill, "will",
			Statements("MQTT-4.7.3-4", "MQTT-3.1.2-8", "MQTT-1.5.3-3"), Catches("will-topic-bom-stripped")),
		ConformanceEntry("queued for an offline persistent session", ptQueued, "queued",
			Statements("MQTT-4.7.3-4", "MQTT-3.1.2-5", "MQTT-1.5.3-3"), Catches("queued-topic-lowercased")),
		ConformanceEntry("re-sent after a cut", ptResent, "re-sent",
			Statements("MQTT-4.7.3-4", "MQTT-4.4.0-1", "MQTT-1.5.3-3"), Catches("topic-normalised-on-resend")),
	)

	ConformanceIt("closes the connection of a 3.1.1 client that breaks the protocol without sending it a packet 3.1.1 does not let a server send",
		Statements("MQTT-4.8.0-1", "MQTT-3.3.1-4"), Catches("server-disconnect-v311"), func(ctx SpecContext) {
			r := rtRawConnect(ctx, f, "raw")
			// A PUBLISH with both QoS bits set [MQTT-3.3.1-4].
			Expect(r.Write(wire.Raw(0x36, wire.AppendString(nil, f.Topic("bad")), []byte{0, 1}, []byte("x")))).To(Succeed())

			Expect(r.ExpectClosed(2*time.Second)).To(Succeed(), "the broker did not close the connection on a PUBLISH with QoS 3")
			// What the broker sent before closing is judged when the spec
			// ends, as for every spec: no DISCONNECT to a 3.1.1 client.
		})
})
