package framework

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/suites/history"
)

// Client5 is an MQTT 5.0 session client built on Faultline's own codec
// (proxy/wire). Every connection runs through the client's own Link, so
// cuts, faults and traces work as for the 3.1.1 clients, and what it sends
// and receives is recorded in the spec's history.
//
// Every property of every packet it sends can be set, and every packet it
// receives is kept whole (Packets, Messages, Connack): a spec sees all the
// broker said. It answers the broker's QoS 1 and 2 PUBLISHes itself, unless
// told to withhold its acknowledgements (HoldAcks), and resolves the topic
// aliases the broker sends.
//
// Every wait for the broker is bounded (AckTimeout) and its error names
// what never came.
type Client5 struct {
	Name string      // its role in the spec: "pub", "sub"...
	ID   string      // its MQTT client id
	Link *proxy.Link // its own path to the broker

	// Settings is what the next CONNECT carries; Connect's options change it.
	Settings Settings5

	rec  *history.Recorder
	spec *Framework // nil outside a spec (unit tests)

	wmu sync.Mutex // one writer at a time
	mu  sync.Mutex
	// changed is closed and replaced whenever the client's state changes:
	// waits are event-driven.
	changed    chan struct{}
	conn       net.Conn
	conns      int  // connections opened so far
	open       bool // the current connection is up and accepted
	closing    bool // the spec closed the current connection itself
	connacks   []wire.Packet
	inbox      []Inbound5
	msgs       []Message5
	got        map[uint16][]wire.Packet // acknowledgements by packet id, for operations waiting on them
	inUse      map[uint16]bool          // packet ids of the client's own operations
	nextID     uint16
	aliases    map[uint16]string   // topic aliases the broker set on this connection
	outAliases map[aliasKey]string // topic aliases the client set, by connection
	unreleased map[uint16]bool     // QoS 2 ids delivered whose PUBREL has not come
	duplicates int
	hold       bool
	holdComp   bool          // PUBCOMPs are withheld too (HoldCompletions)
	ackCode    byte          // the reason code of its PUBACKs and PUBRECs (AnswerPublishes)
	held       []wire.Packet // acknowledgements withheld on the current connection
	acked      int           // messages received before the client last began or stopped withholding (HeldWindow)
	problems   []string
	resume     resumeState // the session a resuming client keeps (client5resume.go)
	answers    owed        // what the broker owes the client, off its link (client5stall.go)
}

// Settings5 is what a Client5 sends in CONNECT.
type Settings5 struct {
	CleanStart bool
	KeepAlive  uint16 // seconds; 0 turns keep alive off
	Properties []wire.Property
	Will       *wire.Will
	Username   string
	Password   string
	Resume     bool // reconnect by itself and resume the session (Resume5)
}

// Inbound5 is one packet the client received.
type Inbound5 struct {
	Packet wire.Packet
	Size   int // bytes on the wire, fixed header included
	Conn   int // the client's connection it came on, from 1
	At     time.Time
}

// Message5 is one application message the client received.
type Message5 struct {
	Topic    string // the topic name, resolved when the PUBLISH carried only a topic alias
	Payload  string
	QoS      byte
	Retain   bool
	Dup      bool
	PacketID uint16
	Props    Props // the PUBLISH's properties as they came
	Conn     int   // the client's connection it came on, from 1
	At       time.Time
}

// Option5 changes what a Client5 sends in its next CONNECT.
type Option5 func(*Settings5)

// CleanStart sets the Clean Start flag (true by default).
func CleanStart(on bool) Option5 { return func(s *Settings5) { s.CleanStart = on } }

// SessionExpiry sets the Session Expiry Interval property, in seconds;
// 0xFFFFFFFF means the session never expires.
func SessionExpiry(seconds uint32) Option5 {
	return ConnectProperty(wire.PropSessionExpiryInterval, seconds)
}

// ReceiveMaximum sets the client's Receive Maximum: how many QoS 1 and 2
// PUBLISHes the broker may have unacknowledged towards it.
func ReceiveMaximum(n uint16) Option5 { return ConnectProperty(wire.PropReceiveMaximum, n) }

// TopicAliasMaximum sets the highest topic alias the broker may send.
func TopicAliasMaximum(n uint16) Option5 { return ConnectProperty(wire.PropTopicAliasMaximum, n) }

// ConnectProperty sets a CONNECT property, replacing one with the same id
// (user properties add up).
func ConnectProperty(id byte, value any) Option5 {
	return func(s *Settings5) { s.Properties = setProp(s.Properties, wire.Property{ID: id, Value: value}) }
}

// WithoutConnectProperty removes a CONNECT property.
func WithoutConnectProperty(id byte) Option5 {
	return func(s *Settings5) { s.Properties = delProp(s.Properties, id) }
}

// Will5 sets the will message, with its will properties (Will Delay
// Interval, Message Expiry Interval, Content Type...).
func Will5(topic, payload string, qos byte, retain bool, props ...wire.Property) Option5 {
	return func(s *Settings5) {
		s.Will = &wire.Will{Topic: topic, QoS: qos, Retain: retain, Payload: []byte(payload), PayloadSize: len(payload), Properties: props}
	}
}

// KeepAlive5 sets the keep alive in CONNECT, in seconds.
func KeepAlive5(seconds uint16) Option5 { return func(s *Settings5) { s.KeepAlive = seconds } }

// setProp replaces the property with p's id, or appends p.
func setProp(ps []wire.Property, p wire.Property) []wire.Property {
	if p.ID != wire.PropUserProperty {
		ps = delProp(ps, p.ID)
	}
	return append(ps, p)
}

func delProp(ps []wire.Property, id byte) []wire.Property {
	out := ps[:0:0]
	for _, q := range ps {
		if q.ID != id {
			out = append(out, q)
		}
	}
	return out
}

// Prop makes a property: Prop(wire.PropMessageExpiryInterval, uint32(5)).
// Numbers may be given as any Go integer; the codec writes them in the
// representation the property id calls for.
func Prop(id byte, value any) wire.Property { return wire.Property{ID: id, Value: value} }

// UserProp makes a User Property.
func UserProp(name, value string) wire.Property {
	return wire.Property{ID: wire.PropUserProperty, Value: [2]string{name, value}}
}

// AckTimeout bounds every wait of a Client5 for the broker's answer: the
// run's acknowledgement bound (FAULTLINE_ACK_TIMEOUT, stall.go).
func AckTimeout() time.Duration { return ackTimeout() }

// NewClient5 makes a 5.0 client on a new link of the spec's, without
// connecting it. It starts with Clean Start 1, no Session Expiry Interval
// and a keep alive of 30 s.
func (f *Framework) NewClient5(name string, opts ...Option5) *Client5 {
	ginkgo.GinkgoHelper()
	t := current.Target
	c := newClient5(f.Link(name), name, current.clientID(), f.rec, Settings5{CleanStart: true, KeepAlive: 30, Username: t.Username, Password: t.Password})
	c.spec = f
	for _, o := range opts {
		o(&c.Settings)
	}
	ginkgo.DeferCleanup(c.close)
	return c
}

// Client5 makes a 5.0 client on a new link and connects it. A broker that
// refuses the 5.0 protocol makes the spec "not supported", with its CONNACK
// as the evidence.
func (f *Framework) Client5(ctx context.Context, name string, opts ...Option5) *Client5 {
	ginkgo.GinkgoHelper()
	c := f.NewClient5(name, opts...)
	if _, err := c.Connect(ctx); err != nil {
		var r *Refused5
		if errors.As(err, &r) && (r.Connack.ReasonCode == 0x84 || r.Connack.ReasonCode == 0x01) {
			Unsupported(fmt.Sprintf("the broker does not speak MQTT 5.0: it answered a 5.0 CONNECT with CONNACK code 0x%02x", r.Connack.ReasonCode))
		}
		ginkgo.Fail(err.Error())
	}
	return c
}

func newClient5(l *proxy.Link, name, id string, rec *history.Recorder, s Settings5) *Client5 {
	c := &Client5{Name: name, ID: id, Link: l, Settings: s, rec: rec, changed: make(chan struct{}),
		got: map[uint16][]wire.Packet{}, inUse: map[uint16]bool{}, aliases: map[uint16]string{}, outAliases: map[aliasKey]string{}, unreleased: map[uint16]bool{}}
	l.Trace().Observe(c.observe)
	return c
}

// Refused5 is the error of a CONNECT the broker answered with a refusing
// CONNACK.
type Refused5 struct {
	Name    string
	Connack wire.Packet
}

func (r *Refused5) Error() string {
	return fmt.Sprintf("%s: the broker refused the connection: CONNACK %s%s", r.Name, reason5(wire.CONNACK, r.Connack.ReasonCode), reasonString(r.Connack))
}

// reason5 names a 5.0 reason code: 0x87 (Not authorized).
func reason5(t wire.Type, code byte) string {
	if text := wire.ReturnCodeText(t, wire.V5, code); text != "" {
		return fmt.Sprintf("0x%02X (%s)", code, text)
	}
	return fmt.Sprintf("0x%02X (not a %s reason code)", code, t)
}

func reasonString(p wire.Packet) string {
	if s, ok := Props(p.Properties).Str(wire.PropReasonString); ok {
		return fmt.Sprintf(", reason string %q", s)
	}
	return ""
}

// Connect opens a new connection with the client's Settings, after
// applying opts to them, and waits for the CONNACK. It returns the CONNACK
// (also a refusing one, with a *Refused5 error).
func (c *Client5) Connect(ctx context.Context, opts ...Option5) (wire.Packet, error) {
	c.mu.Lock() // a resuming client's reconnect loop reads the settings too
	for _, o := range opts {
		o(&c.Settings)
	}
	s := c.Settings
	c.mu.Unlock()
	if c.spec != nil {
		if expiry, _ := Props(s.Properties).Uint(wire.PropSessionExpiryInterval); c.ID != "" && (expiry > 0 || !s.CleanStart) {
			c.spec.sessions[c.ID] = true // the janitor ends it
		}
		if s.Will != nil && s.Will.Retain {
			c.spec.Retained(s.Will.Topic)
		}
	}
	return c.connect(ctx, s)
}

// connect opens a new connection with settings s and waits for the
// CONNACK, as Connect does.
func (c *Client5) connect(ctx context.Context, s Settings5) (wire.Packet, error) {
	c.mu.Lock()
	if c.open {
		c.mu.Unlock()
		return wire.Packet{}, fmt.Errorf("%s: Connect while connected", c.Name)
	}
	c.mu.Unlock()
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, AckTimeout())
	conn, err := d.DialContext(dctx, "tcp", c.Link.Addr())
	cancel()
	if err != nil {
		return wire.Packet{}, fmt.Errorf("%s: cannot reach its link: %w", c.Name, err)
	}
	c.mu.Lock()
	c.conn, c.closing = conn, false
	c.conns++
	n := c.conns
	clear(c.aliases) // aliases never outlive a connection [MQTT-3.3.2-7]
	c.held = nil
	since := len(c.inbox)
	c.mu.Unlock()
	go c.read(conn, n)

	p := wire.Connect(c.ID, wire.Version(wire.V5), wire.CleanStart(s.CleanStart), wire.KeepAlive(s.KeepAlive),
		wire.Props(s.Properties...), wire.Login(s.Username, s.Password))
	p.Will = s.Will
	if err := c.write(conn, p); err != nil {
		return wire.Packet{}, fmt.Errorf("%s: sending CONNECT: %w", c.Name, err)
	}
	var ack wire.Packet
	var ackAt time.Time
	err = c.waitAnswer(ctx, since, wire.CONNACK, 0, fmt.Sprintf("%s: no CONNACK for its CONNECT", c.Name), func() (bool, error) {
		for _, in := range c.inbox[since:] {
			if in.Conn == n && in.Packet.Type == wire.CONNACK {
				ack, ackAt = in.Packet, in.At
				return true, nil
			}
		}
		return false, c.gone(n, "before its CONNACK")
	})
	if err != nil {
		c.dropConn(conn)
		return ack, err
	}
	if ack.ReasonCode != 0 {
		c.dropConn(conn)
		return ack, &Refused5{Name: c.Name, Connack: ack}
	}
	if ka, ok := Props(ack.Properties).Uint(wire.PropServerKeepAlive); ok {
		s.KeepAlive = uint16(ka)
	}
	if s.KeepAlive > 0 {
		go c.ping(conn, n, time.Duration(s.KeepAlive)*time.Second/2)
	}
	// The history's clean session is one that starts new and ends with the
	// connection: Clean Start 1 and no Session Expiry Interval. Recorded at
	// the CONNACK's arrival, before what the broker sent after it.
	expiry, _ := Props(s.Properties).Uint(wire.PropSessionExpiryInterval)
	c.rec.ConnectedAt(ackAt, c.Name, s.CleanStart && expiry == 0, ack.SessionPresent)
	return ack, nil
}

// gone says, under c.mu, why connection n can no longer answer: nil while
// it is up.
func (c *Client5) gone(n int, what string) error {
	if c.conns != n || c.conn == nil {
		return fmt.Errorf("%s: its connection %d was replaced %s", c.Name, n, what)
	}
	for i := len(c.inbox) - 1; i >= 0; i-- {
		if in := c.inbox[i]; in.Conn == n && in.Packet.Type == wire.DISCONNECT {
			return fmt.Errorf("%s: the broker sent DISCONNECT %s%s %s", c.Name, reason5(wire.DISCONNECT, in.Packet.ReasonCode), reasonString(in.Packet), what)
		}
	}
	if c.closedConn(n) {
		return fmt.Errorf("%s: its connection closed %s", c.Name, what)
	}
	return nil
}

// closedConn says, under c.mu, whether connection n has ended.
func (c *Client5) closedConn(n int) bool { return c.conns != n || c.conn == nil }

// wait waits, bounded by AckTimeout and ctx, until cond (called under
// c.mu) holds or fails. what says what never came; the error adds the
// packets received meanwhile (since is an index into the inbox).
func (c *Client5) wait(ctx context.Context, since int, what string, cond func() (bool, error)) error {
	timer := time.NewTimer(AckTimeout())
	defer timer.Stop()
	for {
		c.mu.Lock()
		ok, err := cond()
		ch := c.changed
		c.mu.Unlock()
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", what, err)
		case ok:
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%s: %w%s", what, context.Cause(ctx), c.meanwhile(since))
		case <-timer.C:
			return fmt.Errorf("%s within %v%s", what, AckTimeout(), c.meanwhile(since))
		}
	}
}

// meanwhile lists the packets received since inbox index since.
func (c *Client5) meanwhile(since int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if since >= len(c.inbox) {
		return " (nothing else came meanwhile)"
	}
	var names []string
	for _, in := range c.inbox[since:] {
		if len(names) == 6 {
			names = append(names, fmt.Sprintf("and %d more", len(c.inbox)-since-6))
			break
		}
		names = append(names, in.Packet.String())
	}
	return " (received meanwhile: " + strings.Join(names, ", ") + ")"
}

// signal wakes the waits; call it under c.mu.
func (c *Client5) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// write sends p on conn, encoded for 5.0.
func (c *Client5) write(conn net.Conn, p wire.Packet) error {
	p.Version = wire.V5
	return c.writeRaw(conn, wire.Encode(p))
}

// writeRaw sends bytes as they are on conn.
func (c *Client5) writeRaw(conn net.Conn, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = conn.SetWriteDeadline(time.Now().Add(AckTimeout()))
	_, err := conn.Write(b)
	return err
}

// current returns the open connection, or an error saying there is none.
func (c *Client5) current(what string) (net.Conn, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil || !c.open {
		return nil, 0, fmt.Errorf("%s: %s while not connected", c.Name, what)
	}
	return c.conn, c.conns, nil
}

// read receives the packets of connection n until it ends.
func (c *Client5) read(conn net.Conn, n int) {
	r := bufio.NewReader(conn)
	for {
		b, err := wire.ReadPacket(r, wire.MaxRemaining+5)
		if err != nil {
			c.connEnded(conn, n, err)
			return
		}
		if c.spec != nil {
			c.spec.noteV5Wire(c.Name, n, b)
		}
		p, _ := wire.Decode(b, wire.V5)
		c.receive(conn, n, p, len(b))
	}
}

// receive handles one packet of connection n and sends the answers it
// calls for.
func (c *Client5) receive(conn net.Conn, n int, p wire.Packet, size int) {
	now := time.Now()
	var replies []wire.Packet
	var delivered *Message5
	c.mu.Lock()
	if p.Malformed != "" {
		c.problems = append(c.problems, fmt.Sprintf("connection %d: the broker sent a malformed %s: %s", n, p.Type, p.Malformed))
	}
	c.inbox = append(c.inbox, Inbound5{Packet: p, Size: size, Conn: n, At: now})
	switch p.Type {
	case wire.CONNACK:
		c.connacks = append(c.connacks, p)
		if p.ReasonCode == 0 && c.conns == n {
			c.open = true
			if !p.SessionPresent {
				clear(c.unreleased)
			}
			replies = append(replies, c.resumeSession(p.SessionPresent)...)
		}
	case wire.PUBLISH:
		m := c.message(p, n, now)
		switch {
		case p.QoS == 2 && c.unreleased[p.PacketID]:
			c.duplicates++ // sent again before its PUBREL: not a new message
		default:
			if p.QoS == 2 && c.ackCode < 0x80 { // a refusing PUBREC ends the flow
				c.unreleased[p.PacketID] = true
			}
			c.msgs = append(c.msgs, m)
			delivered = &m
		}
		var ack wire.Packet
		switch p.QoS {
		case 1:
			ack = wire.PubAck(p.PacketID, wire.Code(c.ackCode))
		case 2:
			ack = wire.PubRec(p.PacketID, wire.Code(c.ackCode))
		}
		if ack.Type != 0 {
			if c.hold {
				c.held = append(c.held, ack)
			} else {
				replies = append(replies, ack)
			}
		}
	case wire.PUBREL:
		delete(c.unreleased, p.PacketID)
		if c.hold && c.holdComp {
			c.held = append(c.held, wire.PubComp(p.PacketID))
		} else {
			replies = append(replies, wire.PubComp(p.PacketID))
		}
	case wire.AUTH:
		replies = append(replies, c.authReply(p)...) // client5auth.go
	case wire.PUBACK, wire.PUBREC, wire.PUBCOMP, wire.SUBACK, wire.UNSUBACK:
		if c.inUse[p.PacketID] {
			c.got[p.PacketID] = append(c.got[p.PacketID], p)
		} else {
			c.problems = append(c.problems, fmt.Sprintf("connection %d: the broker sent %s for packet id %d, which the client had not used", n, p.Type, p.PacketID))
		}
		if p.Type == wire.PUBREC && p.ReasonCode < 0x80 && c.inUse[p.PacketID] {
			replies = append(replies, wire.PubRel(p.PacketID))
		}
		c.settleFlow(p)
	}
	c.signal()
	c.mu.Unlock()
	if delivered != nil {
		c.rec.Delivered(c.Name, delivered.Topic, delivered.Payload, delivered.QoS, delivered.Dup, delivered.Retain)
	}
	for _, r := range replies {
		_ = c.write(conn, r)
	}
}

// message turns a received PUBLISH into a Message5, resolving its topic
// alias; call it under c.mu.
func (c *Client5) message(p wire.Packet, n int, at time.Time) Message5 {
	m := Message5{Topic: p.Topic, Payload: string(p.Payload), QoS: p.QoS, Retain: p.Retain, Dup: p.DUP,
		PacketID: p.PacketID, Props: Props(p.Properties), Conn: n, At: at}
	alias, ok := m.Props.Uint(wire.PropTopicAlias)
	if !ok {
		return m
	}
	max, _ := Props(c.Settings.Properties).Uint(wire.PropTopicAliasMaximum)
	if alias == 0 || alias > max {
		c.problems = append(c.problems, fmt.Sprintf("connection %d: the broker sent topic alias %d, above the Topic Alias Maximum %d the client announced [MQTT-3.3.2-10]", n, alias, max))
	}
	switch {
	case p.Topic != "":
		c.aliases[uint16(alias)] = p.Topic
	case c.aliases[uint16(alias)] != "":
		m.Topic = c.aliases[uint16(alias)]
	default:
		c.problems = append(c.problems, fmt.Sprintf("connection %d: the broker sent topic alias %d with an empty topic before setting it on this connection", n, alias))
	}
	return m
}

// connEnded notes that connection n ended.
func (c *Client5) connEnded(conn net.Conn, n int, err error) {
	c.mu.Lock()
	lost := false
	if c.conns == n && c.conn == conn {
		lost = c.open && !c.closing
		c.conn, c.open = nil, false
	}
	c.signal()
	c.mu.Unlock()
	_ = conn.Close()
	if lost {
		c.rec.Lost(c.Name, err)
		c.resumeAfterLoss()
	}
}

// ping keeps connection n alive.
func (c *Client5) ping(conn net.Conn, n int, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		c.mu.Lock()
		up := c.conns == n && c.conn == conn
		c.mu.Unlock()
		if !up || c.write(conn, wire.PingReq()) != nil {
			return
		}
	}
}

// takeID reserves a packet id for one of the client's operations.
func (c *Client5) takeID() uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		c.nextID++
		if c.nextID == 0 {
			c.nextID = 1
		}
		if !c.inUse[c.nextID] {
			c.inUse[c.nextID] = true
			delete(c.got, c.nextID)
			return c.nextID
		}
	}
}

// freeID ends the operation that used id.
func (c *Client5) freeID(id uint16) {
	c.mu.Lock()
	delete(c.inUse, id)
	delete(c.got, id)
	c.mu.Unlock()
}

// awaitAck waits for an acknowledgement of type t for packet id on
// connection n.
func (c *Client5) awaitAck(ctx context.Context, since, n int, id uint16, t wire.Type, what string) (wire.Packet, error) {
	var ack wire.Packet
	err := c.waitAnswer(ctx, since, t, id, fmt.Sprintf("%s: no %s for %s", c.Name, t, what), func() (bool, error) {
		for _, p := range c.got[id] {
			if p.Type == t {
				ack = p
				return true, nil
			}
		}
		for _, p := range c.got[id] {
			if p.Type != t && (t != wire.PUBCOMP || p.Type != wire.PUBREC) {
				return false, fmt.Errorf("the broker answered with %s", p)
			}
		}
		return false, c.gone(n, "before it came")
	})
	return ack, err
}

// Publish sends a PUBLISH of payload to topic with the given properties
// and waits until its QoS flow has ended: for QoS 1 it returns the PUBACK,
// for QoS 2 the PUBREC (after the PUBCOMP has come, unless the PUBREC
// refused the message). The payload is the message's id in the history:
// keep payloads unique in a spec.
func (c *Client5) Publish(ctx context.Context, topic string, qos byte, payload string, props ...wire.Property) (wire.Packet, error) {
	return c.PublishPacket(ctx, wire.Publish(topic, qos, 0, payload, wire.Props(props...)))
}

// PublishRetained is Publish with RETAIN=1; the retained message is
// cleared when the spec ends.
func (c *Client5) PublishRetained(ctx context.Context, topic string, qos byte, payload string, props ...wire.Property) (wire.Packet, error) {
	return c.PublishPacket(ctx, wire.Publish(topic, qos, 0, payload, wire.Retained(), wire.Props(props...)))
}

// PublishPacket sends p as a PUBLISH (its type, version, packet id and
// payload size are set here) and waits as Publish does. A PUBLISH with an
// empty topic and a Topic Alias property uses an alias set earlier on the
// same connection.
func (c *Client5) PublishPacket(ctx context.Context, p wire.Packet) (wire.Packet, error) {
	p.Type, p.PayloadSize = wire.PUBLISH, len(p.Payload)
	if c.Settings.Resume && p.QoS > 0 {
		return c.publishResuming(ctx, p)
	}
	what := fmt.Sprintf("PUBLISH %q QoS %d", p.Payload, p.QoS)
	conn, n, err := c.current(what)
	if err != nil {
		return wire.Packet{}, err
	}
	topic := p.Topic
	if alias, ok := Props(p.Properties).Uint(wire.PropTopicAlias); ok && topic == "" {
		topic = c.outboundAlias(n, uint16(alias))
	}
	attempt := c.rec.Publish(c.Name, topic, string(p.Payload), p.QoS, p.Retain)
	if p.Retain && len(p.Payload) > 0 && c.spec != nil && topic != "" {
		c.spec.Retained(topic)
	}
	c.noteOutbound(n, p)
	if p.QoS > 0 {
		p.PacketID = c.takeID()
		defer c.freeID(p.PacketID)
	}
	c.mu.Lock()
	since := len(c.inbox)
	c.mu.Unlock()
	if err := c.write(conn, p); err != nil {
		attempt.Failed(err)
		return wire.Packet{}, fmt.Errorf("%s: sending %s: %w", c.Name, what, err)
	}
	if p.QoS == 0 {
		attempt.Acked()
		return wire.Packet{}, nil
	}
	what = fmt.Sprintf("its %s (packet id %d)", what, p.PacketID)
	first := wire.PUBACK
	if p.QoS == 2 {
		first = wire.PUBREC
	}
	ack, err := c.awaitAck(ctx, since, n, p.PacketID, first, what)
	if err != nil {
		attempt.Unknown()
		return ack, err
	}
	if p.QoS == 2 && ack.ReasonCode < 0x80 {
		if _, err := c.awaitAck(ctx, since, n, p.PacketID, wire.PUBCOMP, what+" after its PUBREL"); err != nil {
			attempt.Unknown()
			return ack, err
		}
	}
	if ack.ReasonCode >= 0x80 {
		attempt.Failed(fmt.Errorf("%s %s", first, reason5(first, ack.ReasonCode)))
	} else {
		attempt.Acked()
	}
	return ack, nil
}

// outboundAlias is the topic the client set for alias on connection n.
func (c *Client5) outboundAlias(n int, alias uint16) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.outAliases[aliasKey{n, alias}]
}

type aliasKey struct {
	conn  int
	alias uint16
}

// noteOutbound remembers the topic alias a PUBLISH sets.
func (c *Client5) noteOutbound(n int, p wire.Packet) {
	alias, ok := Props(p.Properties).Uint(wire.PropTopicAlias)
	if !ok || p.Topic == "" {
		return
	}
	c.mu.Lock()
	c.outAliases[aliasKey{n, uint16(alias)}] = p.Topic
	c.mu.Unlock()
}

// Subscribe subscribes to filter at qos with the given subscription
// options (wire.NoLocal, wire.RetainAsPublished, RetainHandling(n)) and
// SUBSCRIBE properties, and returns the SUBACK's reason code for it.
func (c *Client5) Subscribe(ctx context.Context, filter string, qos byte, options byte, props ...wire.Property) (byte, error) {
	ack, err := c.SubscribeAll(ctx, props, wire.Sub(filter, qos, options))
	if err != nil {
		return 0, err
	}
	return ack.ReasonCodes[0], nil
}

// RetainHandling is the Retain Handling subscription option n (0, 1 or 2)
// as bits of the options byte.
func RetainHandling(n byte) byte { return n << wire.RetainHandlingShift }

// SubscriptionID is a Subscription Identifier property for SUBSCRIBE.
func SubscriptionID(id uint32) wire.Property {
	return wire.Property{ID: wire.PropSubscriptionIdentifier, Value: id}
}

// SubscribeAll sends one SUBSCRIBE with subs and props and returns the
// SUBACK, which must carry a reason code for every subscription.
func (c *Client5) SubscribeAll(ctx context.Context, props []wire.Property, subs ...wire.Subscription) (wire.Packet, error) {
	filters := make([]string, len(subs))
	for i, s := range subs {
		filters[i] = s.Filter
	}
	what := "SUBSCRIBE " + strings.Join(filters, " ")
	ack, err := c.request(ctx, what, wire.SUBACK, func(id uint16) wire.Packet {
		return wire.Subscribe(id, subs...).With(wire.Props(props...))
	})
	if err != nil {
		return ack, err
	}
	if len(ack.ReasonCodes) != len(subs) {
		return ack, fmt.Errorf("%s: the SUBACK for its %s carried %d reason codes for %d subscriptions [MQTT-3.9.3-1]", c.Name, what, len(ack.ReasonCodes), len(subs))
	}
	for i, s := range subs {
		c.rec.Subscribed(c.Name, s.Filter, s.QoS, ack.ReasonCodes[i])
	}
	return ack, nil
}

// Unsubscribe sends one UNSUBSCRIBE for filters and returns the UNSUBACK.
func (c *Client5) Unsubscribe(ctx context.Context, props []wire.Property, filters ...string) (wire.Packet, error) {
	what := "UNSUBSCRIBE " + strings.Join(filters, " ")
	ack, err := c.request(ctx, what, wire.UNSUBACK, func(id uint16) wire.Packet {
		return wire.Unsubscribe(id, filters...).With(wire.Props(props...))
	})
	if err == nil {
		for _, f := range filters {
			c.rec.Unsubscribed(c.Name, f)
		}
	}
	return ack, err
}

// request sends the packet build makes with a fresh packet id on the
// current connection and waits, bounded, for the broker's answer of type
// ack carrying that id.
func (c *Client5) request(ctx context.Context, what string, ack wire.Type, build func(id uint16) wire.Packet) (wire.Packet, error) {
	conn, n, err := c.current(what)
	if err != nil {
		return wire.Packet{}, err
	}
	id := c.takeID()
	defer c.freeID(id)
	c.mu.Lock()
	since := len(c.inbox)
	c.mu.Unlock()
	if err := c.write(conn, build(id)); err != nil {
		return wire.Packet{}, fmt.Errorf("%s: sending %s: %w", c.Name, what, err)
	}
	return c.awaitAck(ctx, since, n, id, ack, fmt.Sprintf("its %s (packet id %d)", what, id))
}

// Disconnect sends DISCONNECT with reason code and properties (0x00 is a
// normal disconnection, 0x04 asks for the will to be sent) and closes the
// connection. A reason code other than 0x00 goes with a Property Length,
// as most clients send it (DisconnectShort leaves it out).
func (c *Client5) Disconnect(code byte, props ...wire.Property) error {
	return c.disconnect(code, props, false)
}

// DisconnectShort sends a DISCONNECT with reason code and no Property
// Length (Remaining Length 1, allowed when there are no properties) and
// closes the connection.
func (c *Client5) DisconnectShort(code byte) error { return c.disconnect(code, nil, true) }

func (c *Client5) disconnect(code byte, props []wire.Property, short bool) error {
	conn, _, err := c.current("DISCONNECT")
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	if code != 0 && len(props) == 0 && !short {
		err = c.writeRaw(conn, wire.Raw(byte(wire.DISCONNECT)<<4, []byte{code, 0}))
	} else {
		err = c.write(conn, wire.Disconnect(wire.Code(code), wire.Props(props...)))
	}
	c.rec.Disconnected(c.Name)
	if err == nil {
		// A graceful end: the client sends no more, and the broker, done
		// with the DISCONNECT, closes its side (bounded: then the client
		// closes anyway). Reconnecting before the broker has closed could
		// race its handling of the DISCONNECT.
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
		_ = c.waitFor(disconnectLinger, func() bool { return c.conn != conn })
	}
	c.dropConn(conn)
	return err
}

// disconnectLinger bounds how long Disconnect waits for the broker to
// close the connection after DISCONNECT.
const disconnectLinger = 2 * time.Second

// waitFor waits up to d until cond (called under c.mu) holds.
func (c *Client5) waitFor(d time.Duration, cond func() bool) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		c.mu.Lock()
		ok := cond()
		ch := c.changed
		c.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		}
	}
}

// Drop closes the connection without DISCONNECT, as when the client dies:
// for the broker the network connection is lost.
func (c *Client5) Drop() {
	c.mu.Lock()
	conn := c.conn
	c.closing = true
	c.mu.Unlock()
	if conn != nil {
		c.rec.Lost(c.Name, errors.New("closed by the spec without DISCONNECT"))
		c.dropConn(conn)
	}
}

// dropConn closes conn and waits (bounded) until its reader has noticed.
func (c *Client5) dropConn(conn net.Conn) {
	_ = conn.Close()
	c.waitFor(AckTimeout(), func() bool { return c.conn != conn })
}

// close ends the client at the end of the spec.
func (c *Client5) close() {
	c.stopResuming()
	c.mu.Lock()
	conn, open := c.conn, c.open
	c.closing = true
	c.mu.Unlock()
	if conn != nil {
		if open {
			c.rec.Disconnected(c.Name)
		}
		c.dropConn(conn)
	}
}

// Ping sends PINGREQ and waits for the PINGRESP: once it has come, the
// broker has handled everything the client sent before it.
func (c *Client5) Ping(ctx context.Context) error {
	conn, n, err := c.current("PINGREQ")
	if err != nil {
		return err
	}
	c.mu.Lock()
	since := len(c.inbox)
	c.mu.Unlock()
	if err := c.write(conn, wire.PingReq()); err != nil {
		return fmt.Errorf("%s: sending PINGREQ: %w", c.Name, err)
	}
	return c.waitAnswer(ctx, since, wire.PINGRESP, 0, fmt.Sprintf("%s: no PINGRESP for its PINGREQ", c.Name), func() (bool, error) {
		for _, in := range c.inbox[since:] {
			if in.Conn == n && in.Packet.Type == wire.PINGRESP {
				return true, nil
			}
		}
		return false, c.gone(n, "before it came")
	})
}

// HoldAcks makes the client withhold its PUBACKs and PUBRECs for the
// PUBLISHes it receives from now on, until ReleaseAcks: the broker's
// messages stay unacknowledged, to test its Receive Maximum.
func (c *Client5) HoldAcks() {
	c.mu.Lock()
	c.hold, c.acked = true, len(c.msgs)
	c.mu.Unlock()
}

// HoldCompletions makes the client withhold its PUBCOMPs as well while it
// withholds acknowledgements: the broker's QoS 2 flows stop after its
// PUBREL.
func (c *Client5) HoldCompletions() {
	c.mu.Lock()
	c.hold, c.holdComp = true, true
	c.mu.Unlock()
}

// AnswerPublishes makes the client answer the broker's QoS 1 and 2
// PUBLISHes from now on with PUBACK and PUBREC reason code code (0x00 by
// default; 0x80 or above refuses the message and ends its flow).
func (c *Client5) AnswerPublishes(code byte) {
	c.mu.Lock()
	c.ackCode = code
	c.mu.Unlock()
}

// ReleaseAcks sends the withheld acknowledgements, in order and in one
// write, and answers at once again from now on.
func (c *Client5) ReleaseAcks() error { return c.release(false) }

// SendHeldAcks sends the acknowledgements withheld so far, in order and in
// one write, and goes on withholding those of later PUBLISHes.
func (c *Client5) SendHeldAcks() error { return c.release(true) }

func (c *Client5) release(keepHolding bool) error {
	c.mu.Lock()
	held, conn := c.held, c.conn
	c.held, c.hold, c.acked = nil, keepHolding, len(c.msgs)
	c.holdComp = c.holdComp && keepHolding
	c.mu.Unlock()
	if conn == nil {
		return fmt.Errorf("%s: releasing its withheld acknowledgements while not connected", c.Name)
	}
	var b []byte
	for _, p := range held {
		p.Version = wire.V5
		b = append(b, wire.Encode(p)...)
	}
	if err := c.writeRaw(conn, b); err != nil {
		return fmt.Errorf("%s: sending its %d withheld acknowledgements: %w", c.Name, len(held), err)
	}
	return nil
}

// Connected says whether the client's connection is up.
func (c *Client5) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}

// Connack is the last CONNACK the client received (zero before any).
func (c *Client5) Connack() wire.Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.connacks) == 0 {
		return wire.Packet{}
	}
	return c.connacks[len(c.connacks)-1]
}

// SessionPresent is the Session Present flag of the last CONNACK.
func (c *Client5) SessionPresent() bool { return c.Connack().SessionPresent }

// Capability reads a property of the last CONNACK: the broker's Receive
// Maximum, Topic Alias Maximum, availability flags...
func (c *Client5) Capability(id byte) (uint32, bool) {
	return Props(c.Connack().Properties).Uint(id)
}

// Require makes the spec "not supported" when the broker's last CONNACK
// says it lacks the feature behind an availability property (Retain,
// Wildcard, Subscription Identifier, Shared Subscription Available):
// present with value 0. Absent means available.
func (c *Client5) Require(id byte) {
	ginkgo.GinkgoHelper()
	if v, ok := c.Capability(id); ok && v == 0 {
		Unsupported(fmt.Sprintf("the broker's CONNACK says %s=0", wire.Property{ID: id}.Name()))
	}
}

// Messages returns the application messages received so far, in order;
// QoS 2 messages sent again before their PUBREL are left out (Duplicates
// counts them).
func (c *Client5) Messages() []Message5 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message5(nil), c.msgs...)
}

// Payloads returns the payloads of Messages.
func (c *Client5) Payloads() []string {
	var out []string
	for _, m := range c.Messages() {
		out = append(out, m.Payload)
	}
	return out
}

// Message returns the first message with payload.
func (c *Client5) Message(payload string) (Message5, bool) {
	for _, m := range c.Messages() {
		if m.Payload == payload {
			return m, true
		}
	}
	return Message5{}, false
}

// Duplicates counts QoS 2 PUBLISHes that came again before their PUBREL.
func (c *Client5) Duplicates() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.duplicates
}

// Packets returns every packet received so far, in order.
func (c *Client5) Packets() []Inbound5 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Inbound5(nil), c.inbox...)
}

// Unacknowledged counts the QoS 1 and 2 PUBLISHes the client has received
// and not yet acknowledged (withheld by HoldAcks).
func (c *Client5) Unacknowledged() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.held)
}

// ServerDisconnect returns the DISCONNECT the broker sent on the client's
// last connection, if it sent one.
func (c *Client5) ServerDisconnect() (wire.Packet, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.inbox) - 1; i >= 0 && c.inbox[i].Conn == c.conns; i-- {
		if c.inbox[i].Packet.Type == wire.DISCONNECT {
			return c.inbox[i].Packet, true
		}
	}
	return wire.Packet{}, false
}

// Problems lists what the broker sent that the client could not take:
// malformed packets, acknowledgements for ids it never used, topic aliases
// above its maximum or never set.
func (c *Client5) Problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.problems...)
}

// AwaitClosed waits (bounded by AckTimeout) until the broker has closed
// the client's connection, and returns the DISCONNECT it sent first, if
// any.
func (c *Client5) AwaitClosed(ctx context.Context) (wire.Packet, bool, error) {
	c.mu.Lock()
	n := c.conns
	c.mu.Unlock()
	err := c.wait(ctx, 0, fmt.Sprintf("%s: the broker did not close its connection", c.Name), func() (bool, error) {
		return c.closedConn(n), nil
	})
	d, ok := c.ServerDisconnect()
	return d, ok, err
}

// observe follows the client's link and records the packets that crossed
// it in the spec's history, as the 3.1.1 clients do.
func (c *Client5) observe(e proxy.Entry) {
	c.answers.track(e)
	p := e.Packet
	from := e.Dir == proxy.FromBroker
	switch {
	case e.Kind == proxy.Partial, e.Kind == proxy.Dropped && from && p.Type != 0:
		c.rec.WireCutAt(e.At, c.Name, e.Conn, from, p.Type.String(), p.PacketID, p.QoS, p.DUP)
	case e.Kind != proxy.Passed:
	case !from && p.Type == wire.PUBLISH && p.PayloadSize > 0 && len(p.Payload) == p.PayloadSize:
		c.rec.WirePublishAt(e.At, c.Name, e.Conn, p.PacketID, p.QoS, p.DUP, string(p.Payload))
	default:
		c.rec.WireAt(e.At, c.Name, e.Conn, from, p.Type.String(), p.PacketID, p.QoS, p.DUP, p.SessionPresent, p.ReasonCode)
	}
}

// Props is a packet's property list, with readers.
type Props []wire.Property

// Value returns the value of the first property with id.
func (ps Props) Value(id byte) (any, bool) {
	for _, p := range ps {
		if p.ID == id {
			return p.Value, true
		}
	}
	return nil, false
}

// Has says whether a property with id is present.
func (ps Props) Has(id byte) bool {
	_, ok := ps.Value(id)
	return ok
}

// Uint returns a numeric property (byte, two-byte, four-byte or variable
// byte integer).
func (ps Props) Uint(id byte) (uint32, bool) {
	v, ok := ps.Value(id)
	if !ok {
		return 0, false
	}
	return toUint32(v)
}

func toUint32(v any) (uint32, bool) {
	switch n := v.(type) {
	case byte:
		return uint32(n), true
	case uint16:
		return uint32(n), true
	case uint32:
		return n, true
	case int:
		return uint32(n), n >= 0
	}
	return 0, false
}

// Uints returns every value of a numeric property that may repeat (the
// Subscription Identifiers of a PUBLISH), in order.
func (ps Props) Uints(id byte) []uint32 {
	var out []uint32
	for _, p := range ps {
		if p.ID == id {
			if n, ok := toUint32(p.Value); ok {
				out = append(out, n)
			}
		}
	}
	return out
}

// Str returns a string property.
func (ps Props) Str(id byte) (string, bool) {
	v, ok := ps.Value(id)
	s, isStr := v.(string)
	return s, ok && isStr
}

// Bytes returns a binary property (Correlation Data, Authentication Data).
func (ps Props) Bytes(id byte) ([]byte, bool) {
	v, ok := ps.Value(id)
	b, isBin := v.([]byte)
	return b, ok && isBin
}

// User returns the User Properties in order.
func (ps Props) User() [][2]string {
	var out [][2]string
	for _, p := range ps {
		if pair, ok := p.Value.([2]string); ok && p.ID == wire.PropUserProperty {
			out = append(out, pair)
		}
	}
	return out
}

// MustSubscribe subscribes as Subscribe does and fails the spec when the
// broker does not answer; a SUBACK that grants less than qos, or refuses,
// makes the spec "not supported", with the code as the evidence.
func (c *Client5) MustSubscribe(ctx context.Context, filter string, qos byte, options byte, props ...wire.Property) {
	ginkgo.GinkgoHelper()
	code, err := c.Subscribe(ctx, filter, qos, options, props...)
	if err != nil {
		ginkgo.Fail(err.Error())
	}
	if code != qos {
		Unsupported(fmt.Sprintf("the broker answered a QoS %d subscription to %s with SUBACK %s", qos, filter, reason5(wire.SUBACK, code)))
	}
}

// MustPublish publishes as Publish does and fails the spec when the flow
// does not end or the broker refuses the message (an acknowledgement of
// 0x80 or above).
func (c *Client5) MustPublish(ctx context.Context, topic string, qos byte, payload string, props ...wire.Property) wire.Packet {
	ginkgo.GinkgoHelper()
	return c.MustPublishPacket(ctx, wire.Publish(topic, qos, 0, payload, wire.Props(props...)))
}

// MustPublishPacket is MustPublish for a PUBLISH the spec builds (RETAIN,
// topic aliases).
func (c *Client5) MustPublishPacket(ctx context.Context, p wire.Packet) wire.Packet {
	ginkgo.GinkgoHelper()
	ack, err := c.PublishPacket(ctx, p)
	if err != nil {
		ginkgo.Fail(err.Error())
	}
	if ack.ReasonCode >= 0x80 {
		ginkgo.Fail(fmt.Sprintf("%s: the broker refused its PUBLISH %q: %s %s%s", c.Name, p.Payload, ack.Type, reason5(ack.Type, ack.ReasonCode), reasonString(ack)))
	}
	return ack
}

// Elapse lets d pass: for specs whose promise is about time (an expiry, a
// delay), never to wait for something to happen.
func Elapse(ctx context.Context, d time.Duration) {
	ginkgo.GinkgoHelper()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		ginkgo.Fail(fmt.Sprintf("the spec ended while letting %v pass: %v", d, context.Cause(ctx)))
	}
}

// Raw5 opens a raw connection through a new link of the spec's that reads
// what the broker sends with the MQTT 5.0 grammar: for packets a Client5
// would not send (malformed ones, a second CONNECT, a packet id used
// again).
func (f *Framework) Raw5(ctx context.Context, name string) *Raw {
	ginkgo.GinkgoHelper()
	r := f.Raw(ctx, name)
	r.version = wire.V5
	r.judge = func(b []byte) {
		if r.level == wire.V5 { // a broker cannot tell how to answer a CONNECT of another level
			f.noteV5Wire("raw "+name, 1, b)
		}
	}
	return r
}

// ConnectPacket5 is a 5.0 CONNECT with the run's credentials, a unique
// client id and Clean Start 1, for raw connections to start from.
func ConnectPacket5() wire.Packet {
	p := ConnectPacket()
	p.ProtocolLevel, p.Version = wire.V5, wire.V5
	return p
}
