package framework

import (
	"context"
	"errors"
	"fmt"
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

	cfg  clientConfig
	rec  *history.Recorder
	spec *Framework
	paho mqtt.Client

	mu       sync.Mutex
	msgs     []Message
	connects int // CONNACKs that accepted a connection, seen on the wire
	losses   []error
	awaiting map[ackKey]*InFlight // publishes waiting for the broker's ack
	acks     map[ackKey]time.Time // when each packet id was last acked
	closed   chan struct{}
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

// awaitToken waits for a paho token, bounded by ctx and by limit.
func awaitToken(ctx context.Context, t mqtt.Token, limit time.Duration, what string) error {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, context.Cause(ctx))
	case <-timer.C:
		return fmt.Errorf("%s: no answer within %v", what, limit)
	}
}

// opTimeout bounds each client operation (CONNECT, SUBSCRIBE, a publish
// handshake) inside a spec's own timeout.
const opTimeout = 10 * time.Second

func (c *Client) options() *mqtt.ClientOptions {
	o := mqtt.NewClientOptions().
		AddBroker("tcp://" + c.Link.Addr()).
		SetClientID(c.ID).
		SetProtocolVersion(4).
		SetCleanSession(c.cfg.clean).
		SetKeepAlive(c.cfg.keepAlive).
		SetPingTimeout(c.cfg.pingTimeout).
		SetConnectTimeout(5 * time.Second).
		SetWriteTimeout(5 * time.Second).
		SetAutoReconnect(c.cfg.autoReconnect).
		SetMaxReconnectInterval(time.Second).
		SetConnectRetry(false).
		SetResumeSubs(true).
		SetOrderMatters(true).
		SetDefaultPublishHandler(c.received).
		SetConnectionLostHandler(c.onLost)
	if c.cfg.username != "" {
		o.SetUsername(c.cfg.username)
	}
	if c.cfg.password != "" {
		o.SetPassword(c.cfg.password)
	}
	if w := c.cfg.will; w != nil {
		o.SetWill(w.topic, w.payload, w.qos, w.retain)
	}
	return o
}

func (c *Client) received(_ mqtt.Client, m mqtt.Message) {
	msg := Message{Topic: m.Topic(), Payload: string(m.Payload()), QoS: m.Qos(), Dup: m.Duplicate(), Retain: m.Retained(), At: time.Now()}
	c.mu.Lock()
	c.msgs = append(c.msgs, msg)
	c.mu.Unlock()
	c.rec.Delivered(c.Name, msg.Topic, msg.Payload, msg.QoS, msg.Dup, msg.Retain)
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
	}
	if err := awaitToken(ctx, c.paho.Connect(), opTimeout, c.Name+" CONNECT"); err != nil {
		return fmt.Errorf("%s could not connect: %w", c.Name, err)
	}
	return nil
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
	if err := awaitToken(ctx, t, opTimeout, c.Name+" SUBSCRIBE "+filter); err != nil {
		return 0, err
	}
	granted, ok := t.(*mqtt.SubscribeToken).Result()[filter]
	if !ok {
		return 0, fmt.Errorf("%s SUBSCRIBE %s: SUBACK carried no code for it", c.Name, filter)
	}
	c.rec.Subscribed(c.Name, filter, qos, granted)
	return granted, nil
}

// Unsubscribe removes the subscription to filter.
func (c *Client) Unsubscribe(ctx context.Context, filter string) error {
	if err := awaitToken(ctx, c.paho.Unsubscribe(filter), opTimeout, c.Name+" UNSUBSCRIBE "+filter); err != nil {
		return err
	}
	c.rec.Unsubscribed(c.Name, filter)
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
	p := &InFlight{name: fmt.Sprintf("%s PUBLISH %q QoS %d", c.Name, payload, qos), qos: qos, done: make(chan struct{})}
	p.attempt = c.rec.Publish(c.Name, topic, payload, qos, retain)
	if retain {
		c.spec.Retained(topic)
	}
	start := time.Now()
	t := c.paho.Publish(topic, qos, retain, []byte(payload))
	if qos > 0 {
		if id := t.(*mqtt.PublishToken).MessageID(); id != 0 {
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

// observe follows the client's link: accepted CONNACKs and the broker's
// acknowledgements as they cross it.
func (c *Client) observe(e proxy.Entry) {
	if e.Dir != proxy.FromBroker || e.Kind != proxy.Passed {
		return
	}
	switch e.Packet.Type {
	case wire.CONNACK:
		if e.Packet.ReasonCode == 0 {
			c.mu.Lock()
			c.connects++
			c.mu.Unlock()
			c.rec.Connected(c.Name, c.cfg.clean, e.Packet.SessionPresent)
		}
	case wire.PUBACK, wire.PUBCOMP:
		key := ackKey{e.Packet.PacketID, 1}
		if e.Packet.Type == wire.PUBCOMP {
			key.qos = 2
		}
		c.mu.Lock()
		p := c.awaiting[key]
		delete(c.awaiting, key)
		c.acks[key] = e.At
		c.mu.Unlock()
		if p != nil {
			p.finish(nil, p.attempt.Acked)
		}
	}
}

// Wait waits for the publish handshake to end.
func (p *InFlight) Wait(ctx context.Context) error {
	timer := time.NewTimer(opTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", p.name, context.Cause(ctx))
	case <-timer.C:
		return fmt.Errorf("%s: no acknowledgement within %v", p.name, opTimeout)
	}
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

// Disconnect sends DISCONNECT and closes the connection: a normal end.
func (c *Client) Disconnect() {
	if c.paho != nil && c.paho.IsConnectionOpen() {
		c.paho.Disconnect(100)
		c.rec.Disconnected(c.Name)
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
