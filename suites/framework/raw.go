package framework

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// Raw is a connection that speaks MQTT packet by packet, for checks that
// need exact bytes: malformed packets, protocol violations, clean-up.
type Raw struct {
	conn    net.Conn
	version byte
}

// dialRaw connects straight to the broker, over the target's transport.
func dialRaw(ctx context.Context, up proxy.Upstream) (*Raw, error) {
	c, _, err := up.Dial(ctx)
	if err != nil {
		return nil, err
	}
	return &Raw{conn: c, version: wire.V311}, nil
}

// Send writes one packet.
func (r *Raw) Send(p wire.Packet) error { return r.Write(wire.Encode(p)) }

// Write writes bytes as they are.
func (r *Raw) Write(b []byte) error {
	_ = r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := r.conn.Write(b)
	return err
}

// Read reads the next packet, waiting at most d.
func (r *Raw) Read(d time.Duration) (wire.Packet, error) {
	_ = r.conn.SetReadDeadline(time.Now().Add(d))
	b, err := wire.ReadPacket(r.conn, 1<<28)
	if err != nil {
		return wire.Packet{}, err
	}
	return wire.Decode(b, r.version)
}

// Expect reads packets until one of type t arrives, within d.
func (r *Raw) Expect(t wire.Type, d time.Duration) (wire.Packet, error) {
	deadline := time.Now().Add(d)
	for {
		p, err := r.Read(time.Until(deadline))
		if err != nil {
			return p, fmt.Errorf("waiting for %s: %w", t, err)
		}
		if p.Type == t {
			return p, nil
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
	ack, err := r.Expect(wire.CONNACK, 5*time.Second)
	if err == nil && ack.ReasonCode != 0 {
		err = fmt.Errorf("CONNACK refused the connection: 0x%02x", ack.ReasonCode)
	}
	return ack, err
}

// Close closes the connection without DISCONNECT.
func (r *Raw) Close() error { return r.conn.Close() }
