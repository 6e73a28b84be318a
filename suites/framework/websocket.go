package framework

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// Direct websocket connections, for checks of the websocket layer itself.

// Websocket is a direct websocket connection to a ws:// or wss://
// endpoint, without a link, for checks of the websocket layer itself: the
// subprotocol the broker selects, frame types, packets split across frames
// or sharing one. Its Raw writes one binary frame per Write or Send and
// reads MQTT packets across frames; a frame of another type from the broker
// is a read error.
type Websocket struct {
	*Raw
	// Subprotocol is what the broker selected in its handshake ("" for none).
	Subprotocol string
	c           *frameConn
}

// Websocket opens a websocket to endpoint e (ws:// or wss://), offering
// subprotocols, and fails the spec if the handshake fails.
func (f *Framework) Websocket(ctx context.Context, e Endpoint, subprotocols ...string) *Websocket {
	ginkgo.GinkgoHelper()
	res := endpoint(e)
	if s := res.up.Scheme(); s != "ws" && s != "wss" {
		Unsupported(fmt.Sprintf("%s=%s is not a websocket endpoint", e.env, res.up))
	}
	d := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: 5 * time.Second, TLSClientConfig: res.up.TLS}
	if d.TLSClientConfig != nil {
		d.TLSClientConfig = d.TLSClientConfig.Clone()
		d.TLSClientConfig.ServerName = res.up.URL.Hostname()
	}
	u := *res.up.URL
	u.User = nil
	ws, resp, err := d.DialContext(ctx, u.String(), nil)
	if err != nil {
		status := ""
		if resp != nil {
			status = " (" + resp.Status + ")"
		}
		ginkgo.Fail(fmt.Sprintf("websocket handshake with %s: %v%s", u.String(), err, status))
	}
	fc := &frameConn{ws: ws}
	w := &Websocket{Raw: &Raw{conn: fc, version: wire.V311}, Subprotocol: ws.Subprotocol(), c: fc}
	f.raws = append(f.raws, w.Raw)
	return w
}

// WriteText sends b in one text frame.
func (w *Websocket) WriteText(b []byte) error { return w.c.write(websocket.TextMessage, b) }

// frameConn is a websocket as the byte stream Raw reads and writes.
type frameConn struct {
	ws *websocket.Conn
	r  io.Reader
	wm sync.Mutex
}

func (c *frameConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			kind, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if kind != websocket.BinaryMessage {
				return 0, fmt.Errorf("the broker sent a websocket frame of type %d (text is 1), not a binary one", kind)
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue
			}
			return n, nil
		}
		return n, err
	}
}

func (c *frameConn) write(kind int, b []byte) error {
	c.wm.Lock()
	defer c.wm.Unlock()
	return c.ws.WriteMessage(kind, b)
}

func (c *frameConn) Write(b []byte) (int, error) {
	if err := c.write(websocket.BinaryMessage, b); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (c *frameConn) Close() error { return c.ws.Close() }

func (c *frameConn) LocalAddr() net.Addr { return c.ws.LocalAddr() }

func (c *frameConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

func (c *frameConn) SetDeadline(t time.Time) error { return c.ws.NetConn().SetDeadline(t) }

func (c *frameConn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

func (c *frameConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
