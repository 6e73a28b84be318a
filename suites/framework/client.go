package framework

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/suites/history"
)

// Message is one message a client received.
type Message struct {
	Topic   string
	Payload string
	QoS     byte
	Dup     bool
	Retain  bool
	At      time.Time
}

// Client is an MQTT client (eclipse paho.mqtt.golang) whose every
// connection runs through its own Link, and which records what it sends
// and receives in the spec's history.
type Client struct {
	Name string      // its role in the spec: "pub", "sub"...
	ID   string      // its MQTT client id
	Link *proxy.Link // its own path to the broker

	cfg   clientConfig
	rec   *history.Recorder
	spec  *Framework
	paho  mqtt.Client
	store *store

	mu       sync.Mutex
	msgs     []Message
	connects int // CONNACKs that accepted a connection, seen on the wire
	conn     int // the link's number of the last accepted connection
	losses   []error
	awaiting map[ackKey]*InFlight // publishes waiting for the broker's ack
	acks     map[ackKey]time.Time // when each packet id was last acked
	// QoS 2 receiver state, kept across reconnects of a session: ids of
	// messages delivered whose PUBREL has not come yet, and per id the
	// verdicts (deliver or duplicate) for PUBLISHes paho has yet to hand over.
	unreleased map[uint16]bool
	verdicts   map[uint16][]bool
	duplicates int                            // QoS 2 duplicates withheld from the application
	arrivals   map[string][]time.Time         // when each PUBLISH from the broker crossed the link, by topic and payload, until handed over
	filters    map[string]byte                // subscriptions made, for Resubscribe
	requests   map[uint16][]wire.Subscription // SUBSCRIBE/UNSUBSCRIBE sent, by packet id, until answered
	earlyAcks  map[uint16]proxy.Entry         // SUBACK/UNSUBACK decoded before the request they answer
	released   map[uint16]bool                // QoS 2 ids this client sent PUBREL for, until PUBCOMP
	completed  map[uint16]bool                // QoS 2 ids whose flow ended with PUBCOMP after the client's PUBREL, until the id is used again
	latestConn int                            // the link's newest connection number seen
	closed     chan struct{}
	answers    owed // what the broker owes the client (stall.go)
}

type clientConfig struct {
	clean         bool
	keepAlive     time.Duration
	pingTimeout   time.Duration
	autoReconnect bool
	will          *will
	username      string
	password      string
	noCredentials bool
	id            string
	resubscribe   bool
}

type will struct {
	topic, payload string
	qos            byte
	retain         bool
}

// ClientOption changes how a client connects.
type ClientOption func(*clientConfig)

// Persistent connects with CleanSession=0: the broker keeps the session
// (subscriptions, queued QoS 1/2 messages) while the client is away.
func Persistent() ClientOption { return func(c *clientConfig) { c.clean = false } }

// AutoReconnect makes the client reconnect by itself when its connection
// dies, and resend its unacknowledged messages (with DUP=1).
func AutoReconnect() ClientOption { return func(c *clientConfig) { c.autoReconnect = true } }

// KeepAlive sets the keep-alive interval announced in CONNECT. The client
// gives up on a silent broker after the same interval more.
func KeepAlive(d time.Duration) ClientOption {
	return func(c *clientConfig) { c.keepAlive, c.pingTimeout = d, d }
}

// Will sets the client's Last Will.
func Will(topic, payload string, qos byte, retain bool) ClientOption {
	return func(c *clientConfig) { c.will = &will{topic, payload, qos, retain} }
}

// Credentials replaces the run's username and password.
func Credentials(username, password string) ClientOption {
	return func(c *clientConfig) { c.username, c.password, c.noCredentials = username, password, false }
}

// Anonymous sends no username or password.
func Anonymous() ClientOption {
	return func(c *clientConfig) { c.username, c.password, c.noCredentials = "", "", true }
}

// WithID sets the MQTT client id (by default a unique one is made).
func WithID(id string) ClientOption { return func(c *clientConfig) { c.id = id } }

// Resubscribe makes the client subscribe again after a reconnect into a
// new session (the broker had no session for it): what an application with
// a clean session does to keep receiving.
func Resubscribe() ClientOption { return func(c *clientConfig) { c.resubscribe = true } }

// awaitToken waits for a paho token, for the broker's answer of which
// overdue tells (see awaitAnswer), bounded by ctx.
func (c *Client) awaitToken(ctx context.Context, t mqtt.Token, what string, overdue func(now time.Time) (wire.Type, string, bool)) error {
	limit := answerLimit()
	err := awaitAnswer(ctx, t.Done(), limit, func(now time.Time) (wire.Type, string, bool) {
		c.Link.Trace().Sync()
		return overdue(now)
	})
	switch {
	case err == nil:
		return t.Error()
	case errors.Is(err, errNoAnswer):
		return fmt.Errorf("%s: no answer within %v", what, limit)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// opTimeout bounds each client operation (CONNECT, SUBSCRIBE, a publish
// handshake) inside a spec's own timeout, when no answer is overdue (the
// request was not sent, or a fault ended its connection); an answer owed
// is waited for at most the acknowledgement bound (stall.go).
const opTimeout = 10 * time.Second

func (c *Client) options() *mqtt.ClientOptions {
	o := mqtt.NewClientOptions().
		AddBroker("tcp://" + c.Link.Addr()).
		SetClientID(c.ID).
		SetProtocolVersion(4).
		SetCleanSession(c.cfg.clean).
		SetKeepAlive(c.cfg.keepAlive).
		SetPingTimeout(c.cfg.pingTimeout).
		SetConnectTimeout(connectTimeout()).
		SetWriteTimeout(5 * time.Second).
		SetAutoReconnect(c.cfg.autoReconnect).
		SetMaxReconnectInterval(time.Second).
		SetConnectRetry(false).
		SetResumeSubs(true).
		SetOrderMatters(true).
		SetStore(c.store).
		SetCustomOpenConnectionFn(c.dial).
		SetDefaultPublishHandler(c.received).
		SetConnectionLostHandler(c.onLost).
		SetOnConnectHandler(c.onConnect)
	if c.cfg.username != "" {
		o.SetUsername(c.cfg.username)
	}
	if c.cfg.username != "" && c.cfg.password != "" {
		o.SetPassword(c.cfg.password) // a password goes only with a user name [MQTT-3.1.2-22], as wire.Login
	}
	if w := c.cfg.will; w != nil {
		o.SetWill(w.topic, w.payload, w.qos, w.retain)
	}
	return o
}

// connectTimeout is paho's own bound on a connection attempt: longer than
// the bound on the CONNACK, so that the wait for it names what never came.
func connectTimeout() time.Duration {
	bound, _ := answerBound(wire.CONNACK)
	return bound + 500*time.Millisecond
}

// received is paho's handler for every incoming message. paho hands a QoS
// 2 PUBLISH to the application each time it arrives; a well-behaved
// receiver must not deliver it again until the PUBREL [MQTT-4.3.3-2], so
// duplicates the wire showed are withheld here.
func (c *Client) received(_ mqtt.Client, m mqtt.Message) {
	// The link decodes what it let through just after letting it through,
	// so paho can be quicker than the wire's record of this PUBLISH: bring
	// the trace (and observe) up to date first.
	c.Link.Trace().Sync()
	at := c.arrived(m.Topic(), string(m.Payload()))
	if m.Qos() == 2 {
		c.mu.Lock()
		vs := c.verdicts[m.MessageID()]
		dup := len(vs) > 0 && vs[0]
		if len(vs) > 0 {
			c.verdicts[m.MessageID()] = vs[1:]
		}
		if dup {
			c.duplicates++
		}
		c.mu.Unlock()
		if dup {
			return
		}
	}
	msg := Message{Topic: m.Topic(), Payload: string(m.Payload()), QoS: m.Qos(), Dup: m.Duplicate(), Retain: m.Retained(), At: time.Now()}
	c.mu.Lock()
	c.msgs = append(c.msgs, msg)
	c.mu.Unlock()
	// Recorded when it crossed the link, not when paho handed it over: paho
	// may hand over a message of the old connection after a reconnect, and
	// the delivery belongs to the session it arrived in.
	c.rec.DeliveredAt(at, c.Name, msg.Topic, msg.Payload, msg.QoS, msg.Dup, msg.Retain)
}

// answered records the broker's SUBACK or UNSUBACK ack (an entry of the
// link) to the request subs, when the ack crossed the wire.
func (c *Client) answered(subs []wire.Subscription, ack proxy.Entry) {
	for i, sub := range subs {
		switch {
		case ack.Packet.Type == wire.UNSUBACK:
			c.rec.UnsubscribedAt(ack.At, c.Name, sub.Filter)
		case i < len(ack.Packet.ReasonCodes):
			c.rec.SubscribedAt(ack.At, c.Name, sub.Filter, sub.QoS, ack.Packet.ReasonCodes[i])
		}
	}
}

// maxArrivalKey bounds the payloads whose arrival is kept: a large one is
// recorded when paho hands it over.
const maxArrivalKey = 64 << 10

// arrived takes the moment the oldest PUBLISH of topic and payload not yet
// handed over crossed the link (zero, meaning now, if the trace has none).
func (c *Client) arrived(topic, payload string) time.Time {
	if len(payload) > maxArrivalKey {
		return time.Time{}
	}
	key := topic + "\x00" + payload
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.arrivals[key]
	if len(q) == 0 {
		return time.Time{}
	}
	if len(q) == 1 {
		delete(c.arrivals, key)
	} else {
		c.arrivals[key] = q[1:]
	}
	return q[0]
}

// onConnect runs after every accepted connection; with Resubscribe it
// restores the client's subscriptions when the broker kept no session.
func (c *Client) onConnect(mqtt.Client) {
	if !c.cfg.resubscribe || c.SessionPresent() { // SessionPresent syncs the trace: c.connects is current
		return
	}
	c.mu.Lock()
	subs := maps.Clone(c.filters)
	first := c.connects <= 1
	c.mu.Unlock()
	if first {
		return
	}
	for filter, qos := range subs {
		c.paho.Subscribe(filter, qos, nil) // the SUBACK is recorded when it crosses the link
	}
}

func (c *Client) onLost(_ mqtt.Client, err error) {
	c.mu.Lock()
	c.losses = append(c.losses, err)
	c.mu.Unlock()
	c.rec.Lost(c.Name, err)
}

// lastSessionPresent reads the session-present flag of the last CONNACK
// off the wire trace (paho tells it only for its first connection).
func (c *Client) lastSessionPresent() bool {
	ps := c.Link.Trace().Packets(proxy.FromBroker)
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].Type == wire.CONNACK {
			return ps[i].SessionPresent
		}
	}
	return false
}

// Connect opens the client's connection and waits for the broker's CONNACK.
func (c *Client) Connect(ctx context.Context) error {
	if c.paho == nil {
		c.paho = mqtt.NewClient(c.options())
		c.answers.follow(c.liveConn)
	}
	overdue := func(now time.Time) (wire.Type, string, bool) {
		return c.answers.overdue(now, answerKey{wire.CONNACK, 0})
	}
	if err := c.awaitToken(ctx, c.paho.Connect(), c.Name+" CONNECT", overdue); err != nil {
		return fmt.Errorf("%s could not connect: %w", c.Name, err)
	}
	return nil
}

// liveConn says whether conn is the client's open connection.
func (c *Client) liveConn(conn int) bool {
	c.mu.Lock()
	cur := c.conn
	c.mu.Unlock()
	return conn == cur && c.paho.IsConnectionOpen()
}

// SessionPresent is the session-present flag of the client's last CONNACK.
func (c *Client) SessionPresent() bool { return c.lastSessionPresent() }

// Connected says whether the client is connected now.
func (c *Client) Connected() bool { return c.paho != nil && c.paho.IsConnectionOpen() }

// Connections counts the connections the broker accepted so far (accepting
// CONNACKs that reached the client).
func (c *Client) Connections() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connects
}

// Losses counts the connections that died under the client.
func (c *Client) Losses() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.losses)
}

// Subscribe subscribes to filter at qos and returns the granted QoS (or
// 0x80 when the broker refused).
func (c *Client) Subscribe(ctx context.Context, filter string, qos byte) (byte, error) {
	t := c.paho.Subscribe(filter, qos, nil)
	overdue := func(now time.Time) (wire.Type, string, bool) { return c.answers.overdueFor(now, wire.SUBACK, filter) }
	if err := c.awaitToken(ctx, t, c.Name+" SUBSCRIBE "+filter, overdue); err != nil {
		return 0, err
	}
	granted, ok := t.(*mqtt.SubscribeToken).Result()[filter]
	if !ok {
		return 0, fmt.Errorf("%s SUBSCRIBE %s: SUBACK carried no code for it", c.Name, filter)
	}
	c.mu.Lock()
	c.filters[filter] = qos
	c.mu.Unlock()
	return granted, nil
}

// Unsubscribe removes the subscription to filter.
func (c *Client) Unsubscribe(ctx context.Context, filter string) error {
	overdue := func(now time.Time) (wire.Type, string, bool) { return c.answers.overdueFor(now, wire.UNSUBACK, filter) }
	if err := c.awaitToken(ctx, c.paho.Unsubscribe(filter), c.Name+" UNSUBSCRIBE "+filter, overdue); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.filters, filter)
	c.mu.Unlock()
	return nil
}

// Publish sends payload to topic and waits until the QoS handshake has
// ended on the wire: the broker's PUBACK (QoS 1) or PUBCOMP (QoS 2) has
// reached the client, or for QoS 0 the packet has been written. The payload
// is the message's id in the history, so keep payloads unique in a spec.
func (c *Client) Publish(ctx context.Context, topic string, qos byte, payload string) error {
	return c.PublishAsync(topic, qos, false, payload).Wait(ctx)
}

// PublishRetained is Publish with RETAIN=1. The retained message is
// cleared when the spec ends.
func (c *Client) PublishRetained(ctx context.Context, topic string, qos byte, payload string) error {
	return c.PublishAsync(topic, qos, true, payload).Wait(ctx)
}

// InFlight is a publish whose handshake may still be running.
type InFlight struct {
	name    string
	c       *Client
	id      uint16 // its packet id, once paho gave it one
	qos     byte
	attempt *history.Attempt
	done    chan struct{} // closed once acknowledged or failed
	once    sync.Once
	err     error
}

func (p *InFlight) finish(err error, outcome func()) {
	p.once.Do(func() {
		p.err = err
		outcome()
		close(p.done)
	})
}

// PublishAsync starts a publish and returns at once: use it to have
// several messages in flight when a fault lands.
//
// The acknowledgement is taken from the wire, not from paho: paho reports
// a resumed publish complete as soon as it is queued again after a
// reconnect, before the broker has acknowledged it.
func (c *Client) PublishAsync(topic string, qos byte, retain bool, payload string) *InFlight {
	p := &InFlight{name: fmt.Sprintf("%s PUBLISH %q QoS %d", c.Name, payload, qos), c: c, qos: qos, done: make(chan struct{})}
	p.attempt = c.rec.Publish(c.Name, topic, payload, qos, retain)
	if retain {
		c.spec.Retained(topic)
	}
	start := time.Now()
	t := c.paho.Publish(topic, qos, retain, []byte(payload))
	if qos > 0 {
		if id := t.(*mqtt.PublishToken).MessageID(); id != 0 {
			p.id = id
			c.await(id, qos, p, start)
		}
	}
	go func() {
		select {
		case <-t.Done():
		case <-c.closed:
			p.finish(fmt.Errorf("%s: the client closed before the handshake ended", p.name), p.attempt.Unknown)
			return
		}
		switch err := t.Error(); {
		case errors.Is(err, mqtt.ErrNotConnected):
			p.finish(fmt.Errorf("%s: %w", p.name, err), func() { p.attempt.Failed(err) })
		case err != nil && qos > 0 && c.cfg.autoReconnect:
			// paho keeps the message in its store and re-sends it after
			// reconnecting: only the broker's ack on the wire ends it.
		case err != nil:
			p.finish(fmt.Errorf("%s: %w", p.name, err), p.attempt.Unknown)
		case qos == 0:
			p.finish(nil, p.attempt.Acked)
		}
	}()
	return p
}

// await files p to be acknowledged when the broker's ack for packet id
// crosses the link. An ack seen since start is already p's: packet ids are
// reused only once acknowledged.
func (c *Client) await(id uint16, qos byte, p *InFlight, start time.Time) {
	c.mu.Lock()
	if at, ok := c.acks[ackKey{id, qos}]; ok && at.After(start) {
		c.mu.Unlock()
		p.finish(nil, p.attempt.Acked)
		return
	}
	c.awaiting[ackKey{id, qos}] = p
	c.mu.Unlock()
}

type ackKey struct {
	id  uint16
	qos byte
}

// observe follows the client's link as packets cross it: it records them
// in the history, counts accepted connections, completes publishes when
// the broker's ack arrives, and keeps the QoS 2 receiver state.
func (c *Client) observe(e proxy.Entry) {
	c.answers.track(e)
	c.mu.Lock()
	c.latestConn = max(c.latestConn, e.Conn)
	latest := c.latestConn
	c.mu.Unlock()
	if conn, ok := clientSideEnded(e, latest); ok {
		c.rec.WireEndAt(e.At, c.Name, conn)
	}
	p := e.Packet
	from := e.Dir == proxy.FromBroker
	switch {
	case e.Kind == proxy.Partial, e.Kind == proxy.Dropped && from && p.Type != 0:
		// Cut, or vanished on its way to the client: the broker sent it
		// (a PUBREL shows it had read the PUBREC) but the client never
		// got it whole.
		c.rec.WireCutAt(e.At, c.Name, e.Conn, from, p.Type.String(), p.PacketID, p.QoS, p.DUP)
		return
	case e.Kind != proxy.Passed:
		return
	}
	switch {
	case !from && p.Type == wire.PUBLISH && p.PayloadSize > 0 && len(p.Payload) == p.PayloadSize:
		// The payload is the message id: the order check learns when the
		// broker can have received the message.
		c.rec.WirePublishAt(e.At, c.Name, e.Conn, p.PacketID, p.QoS, p.DUP, string(p.Payload))
	case !from && p.Type == wire.CONNECT:
		c.rec.WireConnectAt(e.At, c.Name, e.Conn, connectLevel(p)) // what the broker may send depends on it
	case from && p.Type == wire.SUBACK:
		c.rec.WireSubackAt(e.At, c.Name, e.Conn, p.PacketID, p.ReasonCodes)
	default:
		c.rec.WireAt(e.At, c.Name, e.Conn, from, p.Type.String(), p.PacketID, p.QoS, p.DUP, p.SessionPresent, p.ReasonCode)
	}
	if !from {
		switch p.Type {
		case wire.SUBSCRIBE, wire.UNSUBSCRIBE:
			c.mu.Lock()
			ack, early := c.earlyAcks[p.PacketID]
			if early {
				delete(c.earlyAcks, p.PacketID)
			} else {
				c.requests[p.PacketID] = p.Subscriptions
			}
			c.mu.Unlock()
			if early {
				c.answered(p.Subscriptions, ack)
			}
		}
		return
	}
	switch p.Type {
	case wire.CONNACK:
		if p.ReasonCode == 0 {
			var abandoned []*InFlight
			c.mu.Lock()
			c.connects++
			c.conn = e.Conn
			if !p.SessionPresent {
				clear(c.unreleased)
				clear(c.verdicts)
				clear(c.released)
				clear(c.completed)
				c.store.ended()
				if !c.cfg.clean && c.connects > 1 {
					// The store dropped what these publishes were waiting
					// on: nothing will ever acknowledge them.
					for k, f := range c.awaiting {
						abandoned = append(abandoned, f)
						delete(c.awaiting, k)
					}
				}
			}
			c.mu.Unlock()
			c.rec.ConnectedAt(e.At, c.Name, c.cfg.clean, p.SessionPresent)
			for _, f := range abandoned {
				f.finish(fmt.Errorf("%s: abandoned unacknowledged: %s reconnected with CleanSession=0 (connection %d) and the broker's CONNACK said session present 0, "+
					"so the session holding this message is gone and the client does not re-send it into a new one; "+
					"a broker that still had the session breaks [MQTT-3.2.2-2]", f.name, c.Name, e.Conn), f.attempt.Unknown)
			}
		}
	case wire.PUBLISH:
		c.mu.Lock()
		if len(p.Payload) == p.PayloadSize && p.PayloadSize <= maxArrivalKey {
			key := p.Topic + "\x00" + string(p.Payload)
			c.arrivals[key] = append(c.arrivals[key], e.At)
		}
		if p.QoS == 2 {
			c.verdicts[p.PacketID] = append(c.verdicts[p.PacketID], c.unreleased[p.PacketID])
			c.unreleased[p.PacketID] = true
		}
		c.mu.Unlock()
	case wire.PUBREL:
		c.mu.Lock()
		delete(c.unreleased, p.PacketID)
		c.mu.Unlock()
	case wire.SUBACK, wire.UNSUBACK:
		// Subscriptions are recorded as the broker's answer crosses the
		// link, not when paho reports it: a reconnect can lose paho's token
		// while the broker has already subscribed the client.
		// The two directions of a link are decoded apart, so the answer
		// can be seen before the request it answers: it then waits for it.
		c.mu.Lock()
		req, asked := c.requests[p.PacketID]
		delete(c.requests, p.PacketID)
		if !asked {
			c.earlyAcks[p.PacketID] = e
		}
		c.mu.Unlock()
		if asked {
			c.answered(req, e)
		}
	case wire.PUBACK, wire.PUBCOMP:
		if p.Type == wire.PUBCOMP {
			c.mu.Lock()
			if c.released[p.PacketID] {
				c.completed[p.PacketID] = true
			}
			delete(c.released, p.PacketID)
			c.mu.Unlock()
		}
		key := ackKey{p.PacketID, 1}
		if p.Type == wire.PUBCOMP {
			key.qos = 2
		}
		c.mu.Lock()
		f := c.awaiting[key]
		delete(c.awaiting, key)
		c.acks[key] = e.At
		var wrong *InFlight // a QoS 2 PUBLISH answered with PUBACK
		if f == nil && p.Type == wire.PUBACK {
			if wrong = c.awaiting[ackKey{p.PacketID, 2}]; wrong != nil {
				delete(c.awaiting, ackKey{p.PacketID, 2})
			}
		}
		c.mu.Unlock()
		if f != nil {
			f.finish(nil, f.attempt.Acked)
		}
		if wrong != nil {
			wrong.finish(fmt.Errorf("%s: the broker answered the QoS 2 PUBLISH id=%d with PUBACK, the QoS 1 acknowledgement, instead of PUBREC [MQTT-3.3.4-1 MQTT-4.3.3-2]",
				wrong.name, p.PacketID), wrong.attempt.Unknown)
		}
	}
}

// Duplicates counts QoS 2 messages the broker sent again before releasing
// them, which the client withheld from the application.
func (c *Client) Duplicates() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.duplicates
}

// Wait waits for the publish handshake to end: at most the
// acknowledgement bound after the PUBLISH (or the PUBREL) crossed the link
// unanswered, and at most opTimeout in any case.
func (p *InFlight) Wait(ctx context.Context) error {
	limit, why := answerLimit(), ""
	switch p.qos {
	case 1:
		limit, why = stalledLimit(limit, wire.PUBACK)
	case 2:
		limit, why = stalledLimit(limit, wire.PUBREC, wire.PUBCOMP)
	}
	err := awaitAnswer(ctx, p.done, limit, func(now time.Time) (wire.Type, string, bool) {
		if p.id == 0 {
			return 0, "", false
		}
		p.c.Link.Trace().Sync()
		if p.qos == 1 {
			return p.c.answers.overdue(now, answerKey{wire.PUBACK, p.id})
		}
		return p.c.answers.overdue(now, answerKey{wire.PUBCOMP, p.id}, answerKey{wire.PUBREC, p.id})
	})
	switch {
	case err == nil:
		return p.err
	case errors.Is(err, errNoAnswer):
		return fmt.Errorf("%s: no acknowledgement within %v%s", p.name, limit, why)
	}
	return fmt.Errorf("%s: %w", p.name, err)
}

// Done says whether the handshake has ended.
func (p *InFlight) Done() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Received returns the messages received so far, in arrival order.
func (c *Client) Received() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...)
}

// Payloads returns the payloads received so far, in arrival order.
func (c *Client) Payloads() []string {
	var out []string
	for _, m := range c.Received() {
		out = append(out, m.Payload)
	}
	return out
}

// Count is how many times payload arrived.
func (c *Client) Count(payload string) int {
	n := 0
	for _, m := range c.Received() {
		if m.Payload == payload {
			n++
		}
	}
	return n
}

// Disconnect sends DISCONNECT and closes the connection: a normal end. It
// returns once the DISCONNECT, or the close, has crossed the link (at
// most a second later): paho may still be writing it when its Disconnect
// returns, and a connection the spec opens next for the same client id
// must not reach the broker first (the broker would take over a
// connection the client meant to have ended).
func (c *Client) Disconnect() {
	if c.paho != nil && c.paho.IsConnectionOpen() {
		c.mu.Lock()
		conn := c.latestConn
		c.mu.Unlock()
		c.paho.Disconnect(100)
		c.rec.Disconnected(c.Name)
		c.awaitLeft(conn, time.Second)
	}
}

// awaitLeft waits, at most d, until the link shows the client's side of
// connection conn ended: its DISCONNECT passed, or it closed.
func (c *Client) awaitLeft(conn int, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c.Link.Trace().Sync()
		for _, e := range c.Link.Trace().Entries() {
			if e.Conn != conn {
				continue
			}
			if e.Kind == proxy.Passed && e.Dir == proxy.ToBroker && e.Packet.Type == wire.DISCONNECT {
				return
			}
			if _, ended := clientSideEnded(e, conn); ended {
				return
			}
		}
		time.Sleep(5 * time.Millisecond) // polling the trace, bounded by d
	}
}

// close ends the client whatever its state.
func (c *Client) close() {
	select {
	case <-c.closed:
		return
	default:
		close(c.closed)
	}
	if c.paho != nil {
		if c.paho.IsConnectionOpen() {
			c.rec.Disconnected(c.Name)
		}
		c.paho.Disconnect(0)
	}
}
