package framework

import (
	"context"
	"fmt"
	"os"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/fixtures/embedded"
	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// MQTT 5.0 enhanced authentication (AUTH) on raw connections, and raw 5.0
// connections over the other endpoints.

// The enhanced authentication a run uses. Unset: the embedded broker's
// own method (embedded.ChallengeMethod), which a broker that does not know
// it refuses: the specs that need a supported method then report "not
// supported", with the CONNACK the broker gave.
const (
	EnvAuthMethod = "FAULTLINE_AUTH_METHOD" // Authentication Method of the enhanced-authentication specs
	EnvAuthData   = "FAULTLINE_AUTH_DATA"   // its Authentication Data: in CONNECT and in every answer to AUTH 0x18 (not for faultline-challenge, whose answers are computed)
)

// AuthMethod5 is the Authentication Method the enhanced-authentication
// specs use, and the data they send with it.
func AuthMethod5() (method string, data []byte) {
	if d := os.Getenv(EnvAuthData); d != "" {
		data = []byte(d)
	}
	return env(EnvAuthMethod, embedded.ChallengeMethod), data
}

// AuthAnswer5 is a client's answer to the challenge of an AUTH 0x18 in
// method: computed for the embedded broker's method, FAULTLINE_AUTH_DATA
// for any other.
func AuthAnswer5(method string, challenge []byte) []byte {
	if method == embedded.ChallengeMethod {
		return embedded.ChallengeAnswer(challenge)
	}
	_, data := AuthMethod5()
	return data
}

// AuthConnect5 is ConnectPacket5 naming Authentication Method method, with
// data (if any).
func AuthConnect5(method string, data []byte) wire.Packet {
	p := ConnectPacket5()
	p.Properties = append(p.Properties, wire.Property{ID: wire.PropAuthenticationMethod, Value: method})
	if len(data) > 0 {
		p.Properties = append(p.Properties, wire.Property{ID: wire.PropAuthenticationData, Value: data})
	}
	return p
}

// AuthExchange5 is how a broker answered a CONNECT that named an
// Authentication Method.
type AuthExchange5 struct {
	Method string
	// Challenges are the AUTH packets the broker sent before its CONNACK.
	Challenges []wire.Packet
	// Connack is the broker's CONNACK (Type 0 when none came).
	Connack wire.Packet
	// Closed says the connection ended before a CONNACK came.
	Closed bool
}

// Refused says whether the broker refused the method outright: a CONNACK
// 0x8C (Bad authentication method) or 0x87 (Not authorized) before any
// AUTH, the answers MQTT 5.0 gives a broker that does not support a
// method [MQTT-4.12.0-1].
func (x AuthExchange5) Refused() bool {
	return len(x.Challenges) == 0 && x.Connack.Type == wire.CONNACK && (x.Connack.ReasonCode == 0x8C || x.Connack.ReasonCode == 0x87)
}

// String tells the exchange, for messages.
func (x AuthExchange5) String() string {
	s := fmt.Sprintf("method %q:", x.Method)
	for _, a := range x.Challenges {
		s += " " + a.String() + ","
	}
	switch {
	case x.Connack.Type == wire.CONNACK:
		s += " " + x.Connack.String()
	case x.Closed:
		s += " the connection closed without CONNACK"
	default:
		s += " no CONNACK"
	}
	return s
}

// Authenticate5 sends connect (which names an Authentication Method) and
// answers every AUTH 0x18 of the broker with answer(challenge data), in
// AUTH 0x18 naming the method, until the CONNACK comes, the connection
// ends, or a wait of AckTimeout passes. An AUTH of another reason code is
// recorded and not answered.
func (r *Raw) Authenticate5(connect wire.Packet, answer func(challenge []byte) []byte) (AuthExchange5, error) {
	method, _ := Props(connect.Properties).Str(wire.PropAuthenticationMethod)
	x := AuthExchange5{Method: method}
	if err := r.Send(connect); err != nil {
		return x, err
	}
	for {
		p, err := r.Read(ackTimeout())
		switch {
		case isTimeout(err):
			return x, fmt.Errorf("no CONNACK within %v (%s)", ackTimeout(), x)
		case err != nil:
			x.Closed = true
			return x, nil
		}
		switch p.Type {
		case wire.CONNACK:
			x.Connack = p
			return x, nil
		case wire.AUTH:
			x.Challenges = append(x.Challenges, p)
			if p.ReasonCode != 0x18 {
				continue
			}
			data, _ := Props(p.Properties).Bytes(wire.PropAuthenticationData)
			if err := r.Send(AuthPacket5(0x18, method, answer(data))); err != nil {
				return x, err
			}
		default:
			return x, fmt.Errorf("the broker sent %s before its CONNACK (%s)", p, x)
		}
	}
}

// AuthPacket5 is an AUTH with reason code code naming method, with data
// (if any).
func AuthPacket5(code byte, method string, data []byte) wire.Packet {
	ps := []wire.Property{{ID: wire.PropAuthenticationMethod, Value: method}}
	if data != nil {
		ps = append(ps, wire.Property{ID: wire.PropAuthenticationData, Value: data})
	}
	return wire.Auth(code, wire.Props(ps...))
}

// RequireAuthMethod5 ends the spec as not supported when the broker
// refused the method outright (Refused), with the CONNACK as evidence.
func RequireAuthMethod5(x AuthExchange5) {
	ginkgo.GinkgoHelper()
	if x.Refused() {
		Unsupported(fmt.Sprintf("the broker refused Authentication Method %q with %s before any AUTH: it supports no such method (%s names the method to use, %s its data)",
			x.Method, x.Connack, EnvAuthMethod, EnvAuthData))
	}
}

// Raw5Via opens a raw 5.0 connection through a new link to endpoint e.
func (f *Framework) Raw5Via(ctx context.Context, e Endpoint, name string) *Raw {
	ginkgo.GinkgoHelper()
	r := f.RawVia(ctx, e, name)
	r.version = wire.V5
	return r
}

// Websocket5 is Websocket reading with the MQTT 5.0 grammar.
func (f *Framework) Websocket5(ctx context.Context, e Endpoint, subprotocols ...string) *Websocket {
	ginkgo.GinkgoHelper()
	w := f.Websocket(ctx, e, subprotocols...)
	w.Raw.version = wire.V5
	return w
}

// EnhancedAuth5 names the run's Authentication Method (AuthMethod5), with
// its data, in a Client5's CONNECT; the client then answers the broker's
// challenges (AUTH 0x18) itself, at CONNECT and on Reauthenticate.
func EnhancedAuth5() Option5 {
	method, data := AuthMethod5()
	return func(s *Settings5) {
		s.Properties = setProp(s.Properties, Prop(wire.PropAuthenticationMethod, method))
		if len(data) > 0 {
			s.Properties = setProp(s.Properties, Prop(wire.PropAuthenticationData, data))
		}
	}
}

// authReply is a Client5's answer to an AUTH, called under c.mu: an AUTH
// 0x18 naming the run's Authentication Method gets the method's answer.
// (A broker sends that challenge only to a client that named the method:
// EnhancedAuth5.)
func (c *Client5) authReply(p wire.Packet) []wire.Packet {
	method, _ := AuthMethod5()
	if m, _ := Props(p.Properties).Str(wire.PropAuthenticationMethod); p.ReasonCode != 0x18 || m != method {
		return nil
	}
	challenge, _ := Props(p.Properties).Bytes(wire.PropAuthenticationData)
	return []wire.Packet{AuthPacket5(0x18, method, AuthAnswer5(method, challenge))}
}

// Reauthenticate re-authenticates a client connected with EnhancedAuth5:
// it sends AUTH 0x19 naming the method, answers the broker's challenges,
// and waits (bounded by AckTimeout) for the broker's AUTH 0x00, which it
// returns.
func (c *Client5) Reauthenticate(ctx context.Context) (wire.Packet, error) {
	conn, n, err := c.current("Reauthenticate")
	if err != nil {
		return wire.Packet{}, err
	}
	method, data := AuthMethod5()
	c.mu.Lock()
	since := len(c.inbox)
	c.mu.Unlock()
	if err := c.write(conn, AuthPacket5(0x19, method, data)); err != nil {
		return wire.Packet{}, fmt.Errorf("%s: sending AUTH 0x19: %w", c.Name, err)
	}
	var done wire.Packet
	err = c.wait(ctx, since, fmt.Sprintf("%s: no AUTH 0x00 (Success) ended its re-authentication", c.Name), func() (bool, error) {
		for _, in := range c.inbox[since:] {
			if in.Conn == n && in.Packet.Type == wire.AUTH && in.Packet.ReasonCode == 0 {
				done = in.Packet
				return true, nil
			}
		}
		return false, c.gone(n, "during its re-authentication")
	})
	return done, err
}
