package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// dialWebsocket runs the websocket handshake over conn (already TLS for
// wss) with the "mqtt" subprotocol, and returns a byte stream over it.
func dialWebsocket(ctx context.Context, conn net.Conn, u *url.URL) (net.Conn, error) {
	given := func(context.Context, string, string) (net.Conn, error) { return conn, nil }
	d := websocket.Dialer{
		NetDialContext:    given,
		NetDialTLSContext: given,
		Subprotocols:      []string{"mqtt"},
		HandshakeTimeout:  5 * time.Second,
	}
	ws, resp, err := d.DialContext(ctx, u.String(), nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("websocket handshake with %s: %s", u.Redacted(), resp.Status)
		}
		return nil, fmt.Errorf("websocket handshake with %s: %w", u.Redacted(), err)
	}
	return &wsConn{ws: ws}, nil
}

// wsConn carries a byte stream in binary websocket messages, as MQTT over
// websockets does: messages need not align with MQTT packets.
type wsConn struct {
	ws *websocket.Conn
	r  io.Reader
	wm sync.Mutex
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			kind, r, err := c.ws.NextReader()
			if err != nil {
				if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
					return 0, io.EOF
				}
				return 0, err
			}
			if kind != websocket.BinaryMessage {
				return 0, fmt.Errorf("websocket: broker sent a %s message; MQTT needs binary", messageKind(kind))
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n == 0 {
				continue
			}
			return n, nil
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.wm.Lock()
	defer c.wm.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) Close() error                       { return c.ws.Close() }
func (c *wsConn) LocalAddr() net.Addr                { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr               { return c.ws.RemoteAddr() }
func (c *wsConn) SetDeadline(t time.Time) error      { return c.ws.NetConn().SetDeadline(t) }
func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }

func messageKind(k int) string {
	if k == websocket.TextMessage {
		return "text"
	}
	return fmt.Sprintf("type %d", k)
}
