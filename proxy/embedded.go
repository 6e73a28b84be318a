package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	zlog "github.com/rs/zerolog/log"
)

// embedded is Toxiproxy running in this process: no binary, no HTTP. Its
// toxic engine (the toxic collection and links of each proxy, the toxic
// registry) carries every byte; Faultline accepts the client connections
// and dials the broker itself, so it holds both sockets of every
// connection (a cut can reset either side) and dials any transport (TLS
// and websockets too) without an extra hop.
type embedded struct {
	server *toxiproxy.ApiServer
}

var quietOnce sync.Once

func newEmbedded() *embedded {
	// The bandwidth toxic logs through zerolog's global logger; proxies log
	// through the server's. Both would flood a test run.
	quietOnce.Do(func() { zlog.Logger = zerolog.Nop() })
	metrics := toxiproxy.NewMetricsContainer(prometheus.NewRegistry()) // must not be nil
	return &embedded{server: toxiproxy.NewServer(metrics, zerolog.Nop())}
}

func (e *embedded) custom() bool { return toxics.New(&toxics.ToxicWrapper{Type: tapType}) != nil }

func (e *embedded) open(l *Link, initial []toxic) (handle, error) {
	p := toxiproxy.NewProxy(e.server, l.id, "127.0.0.1:0", l.upstream.String())
	h := &embeddedProxy{server: e.server, p: p, l: l}
	for _, t := range initial {
		if err := h.add(t); err != nil {
			return nil, err
		}
	}
	if err := h.enable(true); err != nil {
		return nil, err
	}
	return h, nil
}

func (e *embedded) close() error { return nil }

type embeddedProxy struct {
	server *toxiproxy.ApiServer
	p      *toxiproxy.Proxy
	l      *Link

	mu      sync.Mutex
	ln      net.Listener
	addr    string // kept across Down/Restore so clients reconnect to the same port
	refused bool   // the link is down: connections are reset as they come
}

func (h *embeddedProxy) listen() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addr
}

func (h *embeddedProxy) serve(ln net.Listener) {
	for {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		refused := h.refused
		h.mu.Unlock()
		if refused {
			resetNow(client)
			continue
		}
		go h.connect(client)
	}
}

// resetNow ends a connection with a RST before it carries a byte.
func resetNow(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// connect dials the broker for one client connection and starts the
// Toxiproxy links of both directions.
func (h *embeddedProxy) connect(client net.Conn) {
	l := h.l
	broker, raw, err := l.upstream.Dial(context.Background())
	if err != nil {
		l.log(Entry{Kind: Event, Note: "could not reach the broker " + l.upstream.String() + ": " + err.Error()})
		client.Close()
		return
	}
	_ = client.(*net.TCPConn).SetNoDelay(true)
	l.pairs.begin(client, broker, raw, func(p *pair) {
		up := &side{Conn: client, p: p, ps: l.pairs}
		down := &side{Conn: broker, p: p, ps: l.pairs, fromBroker: true}
		name := fmt.Sprintf("c%d", p.n)
		// Upstream first: the tap pairs a connection's halves in this order.
		h.p.Toxics.StartLink(h.server, name+"upstream", up, down, stream.Upstream)
		h.p.Toxics.StartLink(h.server, name+"downstream", down, up, stream.Downstream)
	})
}

func (h *embeddedProxy) add(t toxic) error {
	body, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return bounded("add toxic "+t.Name, func() error {
		_, err := h.p.Toxics.AddToxicJson(bytes.NewReader(body))
		return err
	})
}

func (h *embeddedProxy) remove(name string) error {
	return bounded("remove toxic "+name, func() error {
		return h.p.Toxics.RemoveToxic(context.Background(), name)
	})
}

// enable lets connections through again, or resets each new one as it
// comes (its open ones are ended by the caller). The listener stays open
// while the link is down: closed, its port could be taken meanwhile by
// any socket of the machine (another link, a client's own port), and the
// link could not come back on the address its clients reconnect to.
func (h *embeddedProxy) enable(on bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refused = !on
	if !on || h.ln != nil {
		return nil
	}
	addr := h.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	h.ln, h.addr = ln, ln.Addr().String()
	go h.serve(ln)
	return nil
}

func (h *embeddedProxy) delete() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refused = true
	if h.ln != nil {
		h.ln.Close()
		h.ln = nil
	}
	return nil
}
