package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Upstream says how to reach the broker: its URL and, for ssl:// and
// wss://, the TLS settings.
type Upstream struct {
	URL *url.URL
	// TLS configures ssl:// and wss://. Nil means the system roots and
	// the URL's host as server name.
	TLS *tls.Config
	// DialTimeout bounds the TCP connect plus the TLS and websocket
	// handshakes. Zero means 5s.
	DialTimeout time.Duration
}

// Transport schemes, by the name they go by in MQTT_BROKER.
var schemes = map[string]struct {
	canonical string
	port      string
}{
	"tcp": {"tcp", "1883"}, "mqtt": {"tcp", "1883"},
	"ssl": {"ssl", "8883"}, "tls": {"ssl", "8883"}, "mqtts": {"ssl", "8883"}, "tcps": {"ssl", "8883"},
	"ws": {"ws", "80"}, "wss": {"wss", "443"},
}

// ParseUpstream checks a broker URL such as tcp://127.0.0.1:1883,
// ssl://host:8883 or ws://host:8080/mqtt and fills in default ports.
func ParseUpstream(raw string) (Upstream, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return Upstream{}, fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	s, ok := schemes[strings.ToLower(u.Scheme)]
	if !ok {
		return Upstream{}, fmt.Errorf("%q: scheme %q is not one of tcp://, ssl://, ws://, wss://", raw, u.Scheme)
	}
	if u.Hostname() == "" {
		return Upstream{}, fmt.Errorf("%q has no host (write it like tcp://127.0.0.1:1883)", raw)
	}
	port := u.Port()
	if port == "" {
		port = s.port
	} else if _, err := net.LookupPort("tcp", port); err != nil {
		return Upstream{}, fmt.Errorf("%q: bad port %q", raw, port)
	}
	out := *u
	out.Scheme = s.canonical
	out.Host = net.JoinHostPort(u.Hostname(), port)
	if out.Path == "" && (s.canonical == "ws" || s.canonical == "wss") {
		out.Path = "/mqtt"
	}
	return Upstream{URL: &out}, nil
}

// String is the URL without credentials.
func (u Upstream) String() string {
	if u.URL == nil {
		return "<no broker>"
	}
	c := *u.URL
	c.User = nil
	return c.String()
}

// Scheme is tcp, ssl, ws or wss.
func (u Upstream) Scheme() string { return u.URL.Scheme }

// Dial opens a connection to the broker over the upstream's transport and
// also returns the TCP socket underneath, so the caller can reset it.
func (u Upstream) Dial(ctx context.Context) (net.Conn, *net.TCPConn, error) {
	if u.URL == nil {
		return nil, nil, errors.New("no broker URL")
	}
	timeout := u.DialTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", u.URL.Host)
	if err != nil {
		return nil, nil, err
	}
	raw := c.(*net.TCPConn)
	_ = raw.SetNoDelay(true)
	if deadline, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(deadline)
	}
	var conn net.Conn = c
	switch u.URL.Scheme {
	case "ssl", "wss":
		tc := tls.Client(c, u.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, nil, fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	switch u.URL.Scheme {
	case "ws", "wss":
		wc, err := dialWebsocket(ctx, conn, u.URL)
		if err != nil {
			conn.Close()
			return nil, nil, err
		}
		conn = wc
	}
	_ = c.SetDeadline(time.Time{})
	return conn, raw, nil
}

func (u Upstream) tlsConfig() *tls.Config {
	cfg := &tls.Config{}
	if u.TLS != nil {
		cfg = u.TLS.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = u.URL.Hostname()
	}
	return cfg
}
