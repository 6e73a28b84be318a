package framework

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// Raw is a connection that speaks MQTT packet by packet, for checks that
// need exact bytes: malformed packets, protocol violations, clean-up.
type Raw struct {
	// Link is the raw connection's own link (nil for direct connections).
	Link    *proxy.Link
	conn    net.Conn
	version byte
	answers owed           // what the broker owes this connection (stall.go)
	judge   func(b []byte) // judges each packet read (Raw5: the 5.0 encoding rule)
	level   byte           // the protocol level of the last CONNECT written (connectLevel)
}

// dialRaw connects straight to the broker, over the target's transport.
func dialRaw(ctx context.Context, up proxy.Upstream) (*Raw, error) {
	c, _, err := up.Dial(ctx)
	if err != nil {
		return nil, err
	}
	return &Raw{conn: c, version: wire.V311}, nil
}

// Raw opens a raw MQTT connection through a new link of the spec's: the
// bytes it sends and receives show in the spec's trace.
func (f *Framework) Raw(ctx context.Context, name string) *Raw {
	ginkgo.GinkgoHelper()
	return f.rawOn(ctx, f.Link(name), name)
}

// rawOn opens a raw connection through link l.
func (f *Framework) rawOn(ctx context.Context, l *proxy.Link, name string) *Raw {
	ginkgo.GinkgoHelper()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", l.Addr())
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("%s: cannot reach its link: %v", name, err))
	}
	r := &Raw{Link: l, conn: c, version: wire.V311}
	f.raws = append(f.raws, r)
	return r
}

// ConnectPacket is a CONNECT with the run's credentials, a unique client
// id and a clean session, for raw connections to start from.
func ConnectPacket() wire.Packet { return connectPacket(current.clientID()) }

// connectPacket is a clean-session CONNECT for id with the run's
// credentials (wire.Login: a password goes only with a user name
// [MQTT-3.1.2-22]).
func connectPacket(id string) wire.Packet {
	return wire.Connect(id, wire.Login(current.Target.Username, current.Target.Password))
}

// ExpectClosed waits up to d for the broker to close the connection. It
// returns nil when the broker closed it (whatever it sent before), and an
// error naming what happened otherwise: the connection stayed open.
func (r *Raw) ExpectClosed(d time.Duration) error {
	seen, closed := r.ReadUntilClosed(d)
	switch {
	case closed:
		return nil
	case len(seen) > 0:
		names := make([]string, len(seen))
		for i, p := range seen {
			names[i] = p.String()
		}
		return fmt.Errorf("the connection was still open after %v (the broker sent %s)", d, strings.Join(names, ", "))
	default:
		return fmt.Errorf("the connection was still open after %v", d)
	}
}

// Send writes one packet.
func (r *Raw) Send(p wire.Packet) error {
	err := r.Write(wire.Encode(p))
	if err == nil {
		r.answers.sent(p, 1, time.Now())
	}
	return err
}

// Write writes bytes as they are.
func (r *Raw) Write(b []byte) error {
	if p, err := wire.Decode(b, r.version); err == nil && p.Type == wire.CONNECT {
		r.level = connectLevel(p)
	}
	_ = r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := r.conn.Write(b)
	return err
}

// Read reads the next packet, waiting at most d.
func (r *Raw) Read(d time.Duration) (wire.Packet, error) {
	_ = r.conn.SetReadDeadline(time.Now().Add(d))
	b, err := wire.ReadPacket(r.conn, 1<<28)
	if err != nil {
		if !isTimeout(err) {
			r.answers.end(1, time.Now(), true)
		}
		return wire.Packet{}, err
	}
	if r.judge != nil {
		r.judge(b)
	}
	p, err := wire.Decode(b, r.version)
	if err == nil {
		r.answers.answered(p)
	}
	return p, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Expect reads packets until one of type t arrives, within d. Its error
// names the packets that came instead. When t is an answer the broker owes
// (a CONNACK, a PUBACK...), the error of a wait that ran out says what
// never came, and for an answer the broker has withheld in several specs
// already the wait lasts at most stallGrace (stall.go).
func (r *Raw) Expect(t wire.Type, d time.Duration) (wire.Packet, error) {
	cut := ""
	if isAnswer(t) {
		if bound, why := answerBound(t); why != "" && bound < d {
			d, cut = bound, why
		}
	}
	deadline := time.Now().Add(d)
	var other []string
	for {
		p, err := r.Read(time.Until(deadline))
		if err != nil {
			if isAnswer(t) && isTimeout(err) {
				noteMissing(t)
				err = &missingAnswer{answer: t, text: r.missing(t, d) + cut, cause: err}
			}
			if len(other) > 0 {
				return p, fmt.Errorf("waiting for %s: %w (received meanwhile: %s)", t, err, strings.Join(other, ", "))
			}
			return p, fmt.Errorf("waiting for %s: %w", t, err)
		}
		if p.Type == t {
			return p, nil
		}
		if len(other) < 5 {
			other = append(other, p.String())
		}
	}
}

// Connect sends CONNECT and waits for an accepting CONNACK.
func (r *Raw) Connect(p wire.Packet) (wire.Packet, error) {
	if p.ProtocolName == "" {
		p.ProtocolName, p.ProtocolLevel = "MQTT", wire.V311
	}
	p.Type = wire.CONNECT
	if err := r.Send(p); err != nil {
		return wire.Packet{}, err
	}
	ack, err := r.Expect(wire.CONNACK, ackTimeout())
	if err == nil && ack.ReasonCode != 0 {
		err = fmt.Errorf("CONNACK refused the connection: 0x%02x", ack.ReasonCode)
	}
	return ack, err
}

// missing says which answer of type t never came, waited for d.
func (r *Raw) missing(t wire.Type, d time.Duration) string {
	if k, req, ok := r.answers.latest(t); ok {
		return missingText(k, req, time.Now())
	}
	return fmt.Sprintf("%s within %v", missingPhrase(t), d)
}

// Close closes the connection without DISCONNECT.
func (r *Raw) Close() error { return r.conn.Close() }

// ReadUntilClosed reads packets for up to d. It returns the packets the
// broker sent and whether it closed the connection within d.
func (r *Raw) ReadUntilClosed(d time.Duration) (seen []wire.Packet, closed bool) {
	deadline := time.Now().Add(d)
	for {
		p, err := r.Read(time.Until(deadline))
		var ne net.Error
		switch {
		case err == nil:
			seen = append(seen, p)
		case errors.As(err, &ne) && ne.Timeout():
			return seen, false
		default:
			return seen, true // EOF, reset: closed
		}
	}
}

// SubscribeFilters sends one SUBSCRIBE with packet id id asking for every
// filter at its QoS, in order.
func (r *Raw) SubscribeFilters(id uint16, subs ...wire.Subscription) error {
	return r.Send(wire.Subscribe(id, subs...))
}

// UnsubscribeFilters sends one UNSUBSCRIBE with packet id id.
func (r *Raw) UnsubscribeFilters(id uint16, filters ...string) error {
	return r.Send(wire.Unsubscribe(id, filters...))
}

// ReadAcking reads what the broker sends for up to d, or until enough
// (given every packet read so far) says to stop, and answers as a
// well-behaved subscriber: PUBACK for a QoS 1 PUBLISH, PUBREC for a QoS 2
// PUBLISH and PUBCOMP for its PUBREL. It returns the packets read, and an
// error only when the connection ended or failed (not when d passed).
//
// When the connection still waits for an answer the broker has withheld
// in several specs already (stall.go), d is at most stallGrace.
func (r *Raw) ReadAcking(d time.Duration, enough func([]wire.Packet) bool) ([]wire.Packet, error) {
	for _, t := range r.answers.pending() {
		if _, stalled := stalledAnswer(t); stalled {
			d = min(d, stallGrace())
		}
	}
	deadline := time.Now().Add(d)
	var got []wire.Packet
	for enough == nil || !enough(got) {
		left := time.Until(deadline)
		if left <= 0 {
			return got, nil
		}
		p, err := r.Read(left)
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return got, nil
		case err != nil:
			return got, err
		}
		got = append(got, p)
		var answer wire.Type
		switch {
		case p.Type == wire.PUBLISH && p.QoS == 1:
			answer = wire.PUBACK
		case p.Type == wire.PUBLISH && p.QoS == 2:
			answer = wire.PUBREC
		case p.Type == wire.PUBREL:
			answer = wire.PUBCOMP
		default:
			continue
		}
		if err := r.Send(wire.Ack(answer, p.PacketID)); err != nil {
			return got, err
		}
	}
	return got, nil
}

// OfType returns the packets of type t among ps, in order.
// PacketList names packets for a failure message ("nothing" for none).
func PacketList(ps []wire.Packet) string {
	if len(ps) == 0 {
		return "nothing"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func OfType(ps []wire.Packet, t wire.Type) []wire.Packet {
	var out []wire.Packet
	for _, p := range ps {
		if p.Type == t {
			out = append(out, p)
		}
	}
	return out
}

// ConnectPacketVia is ConnectPacket with endpoint e's credentials.
func ConnectPacketVia(e Endpoint) wire.Packet {
	return ConnectPacket().With(wire.Login(e.Credentials()))
}
