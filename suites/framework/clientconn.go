package framework

import (
	"net"
	"net/url"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// dial opens the client's connection to its link. The connection keeps
// paho to the rules of a QoS 2 sender that it breaks around reconnects:
// once it has sent PUBREL for a packet id it must not send that PUBLISH
// again but re-send the PUBREL [MQTT-4.3.3-1, MQTT-4.4.0-1]. paho keeps
// the PUBLISH in its store until PUBCOMP and re-sends it after a reconnect;
// here a PUBREL written for an id turns the stored PUBLISH into that PUBREL
// (so a resumed session re-sends the PUBREL), and a PUBLISH paho still
// writes for a released id goes out as the PUBREL instead, and one it
// re-sends after that flow has completed is not sent at all. paho writes one
// packet per Write.
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
	if err != nil || !ok || h.Size() != len(b) || (h.Type != wire.PUBREL && h.Type != wire.PUBLISH) {
		return w.Conn.Write(b)
	}
	p, err := wire.Decode(b, wire.V311)
	if err != nil {
		return w.Conn.Write(b)
	}
	switch {
	case p.Type == wire.PUBREL:
		w.c.mu.Lock()
		w.c.released[p.PacketID] = true
		w.c.mu.Unlock()
		w.c.store.released(p.PacketID)
	case p.QoS == 2:
		if p.DUP {
			// Whether the flow has ended is decided by what has crossed
			// the link: bring its decoding up to date first.
			w.c.Link.Trace().Sync()
		}
		w.c.mu.Lock()
		released := w.c.released[p.PacketID]
		stale := p.DUP && w.c.completed[p.PacketID]
		if !p.DUP {
			delete(w.c.completed, p.PacketID) // a new message under this id
		}
		w.c.mu.Unlock()
		if stale {
			// paho loaded the PUBLISH to re-send it before the resumed
			// flow completed (PUBREC, PUBREL, PUBCOMP): sent now, it would
			// be a new message under a finished id [MQTT-4.3.3-1].
			return len(b), nil
		}
		if released {
			if _, err := w.Conn.Write(wire.Encode(wire.PubRel(p.PacketID))); err != nil {
				return 0, err
			}
			return len(b), nil
		}
	}
	return w.Conn.Write(b)
}
