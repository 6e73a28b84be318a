package history

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/faultline-mqtt/faultline/proxy/wire/topics"
)

// never is the end time of something that had not ended when the history
// stopped.
const never = time.Duration(math.MaxInt64)

// conn is one network connection of a client, from CONNACK to loss or
// DISCONNECT.
type conn struct {
	start, end time.Duration // end is never while the connection is up
	clean      bool
	present    bool
	implicit   bool // assumed: the client had events but no recorded connect
	sess       *session
}

// session is one MQTT session of a client. A clean session lasts as long as
// its connection; a persistent one lasts until a connect that starts a new
// session (clean, or session-present=0).
type session struct {
	persistent bool
	start, end time.Duration
	recs       []*subRec
}

// grant is one SUBACK return code for a subscription.
type grant struct {
	at   time.Duration // SUBACK received
	from time.Duration // earliest time the SUBSCRIBE may have taken effect: start of its connection
	qos  byte          // granted QoS or Refused
}

// subRec is one subscription: a topic filter held by a session from its first
// successful SUBACK until UNSUBACK or the end of the session. Re-subscribing
// to the same filter replaces the subscription without interrupting it
// [MQTT-3.8.4-3], so it adds a grant to the same record.
type subRec struct {
	filter string
	sess   *session
	grants []grant // at least one; the first is not Refused
	until  time.Duration
	unsub  bool
}

// client is everything known about one client id.
type client struct {
	name     string
	conns    []*conn // by start time
	sessions []*session
	drains   []time.Duration // sorted
	groups   []*group        // deliveries to this client, by message
	cur      *conn           // open connection while building

	// wire holds the client's wire events, interleaved with its drained,
	// lost and disconnected events, in time order; hasWire says whether
	// there is any wire event among them.
	wire    []*Event
	hasWire bool
}

// pub is one publish attempt.
type pub struct {
	id, client, topic string
	qos               byte
	retain            bool
	sent, done        time.Duration // done is never for a pending publish
	outcome           Outcome
}

// recv is one delivery, with its position in the sorted history.
type recv struct {
	*Event
	ord        int
	unexpected bool // failed the unexpected-delivery check
}

// group is every delivery of one message to one subscriber.
type group struct {
	sub  *client
	id   string
	p    *pub   // nil if the message was never published
	all  []recv // in time order
	live int    // live (RETAIN=0) deliveries that passed the unexpected-delivery check

	qosFlagged bool // a QoS rule already fired for one of the copies
}

type dkey struct{ sub, id string }

// arrival is a moment in the history: a time and, for events at the same
// time, the position of the event in the sorted history.
type arrival struct {
	at  time.Duration
	ord int
}

func (a arrival) before(b arrival) bool {
	return a.at < b.at || (a.at == b.at && a.ord >= 0 && b.ord >= 0 && a.ord < b.ord)
}

// index is a history digested for checking.
type index struct {
	clients  map[string]*client
	pubs     map[string]*pub
	arrivals map[string][]arrival // by message id: whole PUBLISHes to the broker, in order
	pubList  []*pub               // in Sent order
	groups   []*group
	byKey    map[dkey]*group
	warnings []string
	matches  map[[2]string]bool
}

func buildIndex(h History) *index {
	// The index points into the events and never modifies them, so a
	// history that is already sorted (as recorded) is used in place.
	byTime := func(a, b Event) int { return compare(a.At, b.At) }
	evs := h.Events
	if !slices.IsSortedFunc(evs, byTime) {
		evs = slices.Clone(evs)
		slices.SortStableFunc(evs, byTime)
	}
	ix := &index{
		clients:  make(map[string]*client),
		pubs:     make(map[string]*pub),
		arrivals: make(map[string][]arrival),
		byKey:    make(map[dkey]*group),
		matches:  make(map[[2]string]bool),
	}
	for i := range evs {
		e := &evs[i]
		switch e.Kind {
		case KindConnected:
			ix.connect(ix.client(e.Client), e)
		case KindDisconnected, KindLost:
			c := ix.client(e.Client)
			c.closeConn(e.At)
			c.wire = append(c.wire, e)
		case KindSubscribed:
			ix.subscribe(ix.client(e.Client), e)
		case KindUnsubscribed:
			c := ix.client(e.Client)
			if r := c.attach().sess.active(e.Filter); r != nil {
				r.until, r.unsub = e.At, true
			}
		case KindDrained:
			c := ix.client(e.Client)
			c.drains = append(c.drains, e.At)
			c.wire = append(c.wire, e)
		case KindWire:
			c := ix.client(e.Client)
			c.wire = append(c.wire, e)
			c.hasWire = true
			if !e.FromBroker && e.Packet == "PUBLISH" && e.MsgID != "" && !e.Cut {
				ix.arrivals[e.MsgID] = append(ix.arrivals[e.MsgID], arrival{e.At, i})
			}
		case KindPublish:
			ix.publish(e)
		case KindDelivered:
			if e.QoS > 2 {
				ix.warnf("delivery of %s to %s: QoS %d ignored", e.MsgID, e.Client, e.QoS)
				continue
			}
			c := ix.client(e.Client)
			c.attach()
			k := dkey{e.Client, e.MsgID}
			g := ix.byKey[k]
			if g == nil {
				g = &group{sub: c, id: e.MsgID}
				ix.byKey[k] = g
				ix.groups = append(ix.groups, g)
				c.groups = append(c.groups, g)
			}
			g.all = append(g.all, recv{Event: e, ord: i})
		default:
			ix.warnf("event %d: unknown kind %q ignored", i, e.Kind)
		}
	}
	for _, g := range ix.groups {
		g.p = ix.pubs[g.id]
	}
	for _, c := range ix.clients {
		for _, s := range c.sessions {
			for _, r := range s.recs {
				r.until = min(r.until, s.end)
			}
		}
	}
	return ix
}

func (ix *index) warnf(format string, args ...any) {
	ix.warnings = append(ix.warnings, fmt.Sprintf(format, args...))
}

func (ix *index) client(name string) *client {
	c := ix.clients[name]
	if c == nil {
		c = &client{name: name}
		ix.clients[name] = c
	}
	return c
}

// match reports whether filter matches topic, memoised.
func (ix *index) match(filter, topic string) bool {
	k := [2]string{filter, topic}
	m, ok := ix.matches[k]
	if !ok {
		m = topics.Match(filter, topic)
		ix.matches[k] = m
	}
	return m
}

func (ix *index) publish(e *Event) {
	if e.QoS > 2 {
		ix.warnf("publish %s by %s: QoS %d ignored", e.MsgID, e.Client, e.QoS)
		return
	}
	if _, dup := ix.pubs[e.MsgID]; dup {
		ix.warnf("message id %s published twice; the second publish (by %s at %s) is ignored", e.MsgID, e.Client, ts(e.At))
		return
	}
	p := &pub{
		id: e.MsgID, client: e.Client, topic: e.Topic, qos: e.QoS, retain: e.Retain,
		sent: e.At, done: max(e.Done, e.At), outcome: e.Outcome,
	}
	switch p.outcome {
	case OutcomeAcked, OutcomeFailed, OutcomeUnknown:
	default:
		p.outcome, p.done = OutcomePending, never
	}
	ix.pubs[p.id] = p
	ix.pubList = append(ix.pubList, p)
}

// connect starts a connection and decides whether it continues the previous
// session: only a persistent session that has not ended, reconnected with
// clean=false and answered with session-present=1 [MQTT-3.1.2-4], [MQTT-3.2.2-2].
func (ix *index) connect(c *client, e *Event) {
	if c.cur != nil {
		if !c.cur.implicit {
			ix.warnf("%s connected at %s while its connection since %s was up; that one is taken as lost", c.name, ts(e.At), ts(c.cur.start))
		}
		c.closeConn(e.At)
	}
	if e.CleanSession && e.SessionPresent {
		ix.warnf("%s connected at %s with clean session but session present=1 [MQTT-3.2.2-1]", c.name, ts(e.At))
	}
	var prev *session
	if n := len(c.sessions); n > 0 {
		prev = c.sessions[n-1]
	}
	s := prev
	if e.CleanSession || !e.SessionPresent || prev == nil || !prev.persistent || prev.end <= e.At {
		if !e.CleanSession && e.SessionPresent && prev != nil {
			ix.warnf("%s reconnected at %s with session present=1 although its previous session had ended", c.name, ts(e.At))
		}
		if prev != nil && prev.end > e.At {
			prev.end = e.At // a persistent session is discarded or replaced [MQTT-3.1.2-6]
		}
		s = &session{persistent: !e.CleanSession, start: e.At, end: never}
		c.sessions = append(c.sessions, s)
	}
	cn := &conn{start: e.At, end: never, clean: e.CleanSession, present: e.SessionPresent, sess: s}
	c.conns = append(c.conns, cn)
	c.cur = cn
}

// closeConn ends the open connection. A clean session ends with it
// [MQTT-3.1.2-6].
func (c *client) closeConn(at time.Duration) {
	cn := c.cur
	if cn == nil {
		return
	}
	cn.end = at
	if !cn.sess.persistent {
		cn.sess.end = at
	}
	c.cur = nil
}

// attach returns the connection that events of c at the current point of the
// history belong to: the open one, else the last one (events racing with a
// disconnect), else an implicit clean connection from time 0 for clients
// whose connects were not recorded.
func (c *client) attach() *conn {
	if c.cur != nil {
		return c.cur
	}
	if n := len(c.conns); n > 0 {
		return c.conns[n-1]
	}
	s := &session{start: 0, end: never}
	cn := &conn{start: 0, end: never, clean: true, implicit: true, sess: s}
	c.sessions = append(c.sessions, s)
	c.conns = append(c.conns, cn)
	c.cur = cn
	return cn
}

func (ix *index) subscribe(c *client, e *Event) {
	cn := c.attach()
	g := grant{at: e.At, from: cn.start, qos: e.GrantedQoS}
	if g.qos > 2 && g.qos != Refused {
		ix.warnf("%s: SUBACK for %q at %s with return code %#x ignored", c.name, e.Filter, ts(e.At), g.qos)
		return
	}
	if r := cn.sess.active(e.Filter); r != nil {
		r.grants = append(r.grants, g)
		return
	}
	if g.qos == Refused {
		return
	}
	cn.sess.recs = append(cn.sess.recs, &subRec{filter: e.Filter, sess: cn.sess, grants: []grant{g}, until: never})
}

// active returns the subscription to filter that the session currently holds.
func (s *session) active(filter string) *subRec {
	for i := len(s.recs) - 1; i >= 0; i-- {
		if r := s.recs[i]; r.filter == filter && !r.unsub {
			return r
		}
	}
	return nil
}

// connAt returns the last connection that started at or before t, or nil.
func (c *client) connAt(t time.Duration) *conn {
	i := sort.Search(len(c.conns), func(i int) bool { return c.conns[i].start > t })
	if i == 0 {
		return nil
	}
	return c.conns[i-1]
}

// subscribed reports whether c has ever held a subscription.
func (c *client) subscribed() bool {
	for _, s := range c.sessions {
		if len(s.recs) > 0 {
			return true
		}
	}
	return false
}

// grantAt returns the index of the grant in effect at t (the last SUBACK at
// or before t), or -1.
func (r *subRec) grantAt(t time.Duration) int {
	return sort.Search(len(r.grants), func(i int) bool { return r.grants[i].at > t }) - 1
}

// certainAt reports whether the subscription was certainly in place at t:
// acknowledged by then, its latest SUBACK not a refusal, not yet ended.
func (r *subRec) certainAt(t time.Duration) bool {
	k := r.grantAt(t)
	return k >= 0 && r.grants[k].qos != Refused && r.until > t
}

// guaranteed returns the lowest QoS the subscription can have had at any
// time from from to to, counting a re-subscription whose SUBSCRIBE may
// have been sent by to. ok is false if it may have been refused meanwhile.
func (r *subRec) guaranteed(from, to time.Duration) (qos byte, ok bool) {
	k := r.grantAt(from)
	if k < 0 {
		return 0, false
	}
	qos = 2
	for i := k; i < len(r.grants); i++ {
		g := r.grants[i]
		if i > k && g.from > to {
			break
		}
		if g.qos == Refused {
			return 0, false
		}
		qos = min(qos, g.qos)
	}
	return qos, true
}

// possible returns the range of QoS the subscription may have been granted
// while a message published at from could have been routed to it, until to.
// ok is false if the subscription cannot have been in place then.
func (r *subRec) possible(from, to time.Duration) (lo, hi byte, ok bool) {
	lo = 2
	for i, g := range r.grants {
		end := r.until
		if i+1 < len(r.grants) {
			end = r.grants[i+1].at
		}
		if g.qos == Refused || g.from > to || end < from {
			continue
		}
		lo, hi, ok = min(lo, g.qos), max(hi, g.qos), true
	}
	return lo, hi, ok
}

// retained returns the range of QoS granted by the SUBSCRIBEs that could
// have sent a retained message published at sent and delivered at at: the
// message must have been stored before the SUBSCRIBE was processed, hence
// before its SUBACK, and the SUBSCRIBE must precede the delivery
// [MQTT-3.3.1-6], [MQTT-3.8.4-3].
func (r *subRec) retained(sent, at time.Duration) (lo, hi byte, ok bool) {
	lo = 2
	for _, g := range r.grants {
		if g.qos == Refused || g.at < sent || g.from > at {
			continue
		}
		lo, hi, ok = min(lo, g.qos), max(hi, g.qos), true
	}
	return lo, hi, ok
}

// mayRetransmit reports whether the publisher may have sent p more than once.
// A client re-sends an unacknowledged QoS 1 or 2 PUBLISH after reconnecting
// [MQTT-4.4.0-1]; for QoS 1 the server then treats it as a new publication
// [MQTT-4.3.2-2], so extra copies, without DUP, are legitimate. (For QoS 2
// the server must recognise the packet id [MQTT-4.3.3-2].)
func (ix *index) mayRetransmit(p *pub) bool {
	switch {
	case p.qos == 0 || p.outcome == OutcomeFailed:
		return false
	case p.outcome != OutcomeAcked:
		return true
	case len(ix.arrivals[p.id]) > 1:
		return true // its link shows it crossed whole to the broker more than once
	}
	c := ix.clients[p.client]
	if c == nil || len(c.conns) == 0 {
		return false // no connection events: assume it stayed connected
	}
	cn := c.connAt(p.sent)
	return cn == nil || cn.end < p.done
}
