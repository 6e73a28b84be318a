package framework

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// Meter counts the bytes one connection's TCP socket carries each way:
// TCP payload, so TLS records and websocket frames count as well as the
// MQTT packets inside them.
type Meter struct{ sent, received atomic.Int64 }

// Sent is how many bytes the client has written to the socket.
func (m *Meter) Sent() int64 { return m.sent.Load() }

// Received is how many bytes the client has read from the socket.
func (m *Meter) Received() int64 { return m.received.Load() }

// Bytes is both ways together.
func (m *Meter) Bytes() int64 { return m.Sent() + m.Received() }

type meteredConn struct {
	net.Conn
	m *Meter
}

func (c meteredConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.m.received.Add(int64(n))
	return n, err
}

func (c meteredConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.m.sent.Add(int64(n))
	return n, err
}

// MeteredRaw opens a raw MQTT connection straight to the broker, without
// a link, over the main target's transport (e nil) or endpoint e's, and
// counts the bytes on its TCP socket. The spec ends as not supported when
// the run has no such endpoint. The second result names the transport:
// tcp, ssl, ws or wss.
func (f *Framework) MeteredRaw(ctx context.Context, e *Endpoint) (*Raw, *Meter, string) {
	ginkgo.GinkgoHelper()
	up := current.Target.Upstream
	if e != nil {
		up = endpoint(*e).up
	}
	m := &Meter{}
	c, err := dialMetered(ctx, up, m)
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("cannot reach %s: %v", up, err))
	}
	r := &Raw{conn: c, version: wire.V311}
	f.raws = append(f.raws, r)
	return r, m, up.Scheme()
}

// dialMetered dials up as proxy.Upstream.Dial does, with m counting on
// the TCP socket beneath TLS and websockets.
func dialMetered(ctx context.Context, up proxy.Upstream, m *Meter) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		_ = c.(*net.TCPConn).SetNoDelay(true)
		return meteredConn{Conn: c, m: m}, nil
	}
	cfg := &tls.Config{}
	if up.TLS != nil {
		cfg = up.TLS.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = up.URL.Hostname()
	}
	switch up.Scheme() {
	case "ws", "wss":
		d := websocket.Dialer{NetDialContext: dial, TLSClientConfig: cfg, Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second}
		u := *up.URL
		u.User = nil
		ws, _, err := d.DialContext(ctx, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("websocket handshake: %w", err)
		}
		return &frameConn{ws: ws}, nil
	}
	c, err := dial(ctx, "tcp", up.URL.Host)
	if err != nil {
		return nil, err
	}
	if up.Scheme() == "ssl" {
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		return tc, nil
	}
	return c, nil
}
