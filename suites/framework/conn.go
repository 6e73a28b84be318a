package framework

import (
	"net"
	"net/url"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// dial opens the client's connection to its link. The connection keeps
// paho to one more rule of a QoS 2 sender: once it has sent PUBREL for a
// packet id it must not send that PUBLISH again [MQTT-4.3.3-1]. After a
// reconnect paho can queue the stored PUBLISH for re-sending just before
// the broker's re-sent PUBREC makes it send PUBREL; such a PUBLISH is
// dropped here (a broker that completed the flow would rightly take it as a
// new message). paho writes one packet per Write.
func (c *Client) dial(_ *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", c.Link.Addr(), 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &clientConn{Conn: conn, c: c}, nil
}

type clientConn struct {
	net.Conn
	c *Client
}

func (w *clientConn) Write(b []byte) (int, error) {
	h, ok, err := wire.ParseHeader(b)
	if err == nil && ok && h.Size() == len(b) {
		switch h.Type {
		case wire.PUBREL:
			if p, err := wire.Decode(b, wire.V311); err == nil {
				w.c.mu.Lock()
				w.c.released[p.PacketID] = true
				w.c.mu.Unlock()
			}
		case wire.PUBLISH:
			if p, err := wire.Decode(b, wire.V311); err == nil && p.QoS == 2 {
				w.c.mu.Lock()
				drop := w.c.released[p.PacketID]
				w.c.mu.Unlock()
				if drop {
					return len(b), nil
				}
			}
		}
	}
	return w.Conn.Write(b)
}
