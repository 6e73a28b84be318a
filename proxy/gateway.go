package proxy

import (
	"context"
	"io"
	"net"
	"sync"
)

// gateway is a link's last hop: it accepts connections from the link's
// Toxiproxy proxy and dials the broker for each over the upstream's
// transport. It owns the broker-side socket, so it can end it with a RST.
// With an external Toxiproxy (which lacks Faultline's toxic) it also feeds
// the link's tap.
type gateway struct {
	ln       net.Listener
	upstream Upstream
	tap      *tap // fed here only when the toxic cannot be
	tapped   bool
	log      func(Entry)

	mu    sync.Mutex
	pairs map[int]*pair
	marks map[int]Style // how to end connections whose cut came early
	done  bool
}

// pair is one client connection as it crosses the gateway.
type pair struct {
	n     int
	front net.Conn     // from the Toxiproxy proxy
	back  net.Conn     // to the broker, possibly TLS or websocket
	raw   *net.TCPConn // the TCP socket under back

	mu     sync.Mutex
	style  Style // how to end the broker side: Reset or Close
	ended  bool
	hidden bool // the broker closed while blackholed: the client is not told yet
}

func startGateway(up Upstream, t *tap, tapped bool, log func(Entry)) (*gateway, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &gateway{ln: ln, upstream: up, tap: t, tapped: tapped, log: log,
		pairs: map[int]*pair{}, marks: map[int]Style{}}
	go g.serve()
	return g, nil
}

func (g *gateway) addr() string { return g.ln.Addr().String() }

func (g *gateway) serve() {
	// Toxiproxy dials the gateway once per client connection, in the order
	// it accepts them, so the nth connection here is the tap's nth.
	for n := 1; ; n++ {
		front, err := g.ln.Accept()
		if err != nil {
			return
		}
		go g.handle(n, front)
	}
}

func (g *gateway) handle(n int, front net.Conn) {
	var up, down *tapHalf
	if g.tapped {
		up, down = g.tap.half(ToBroker), g.tap.half(FromBroker)
	}
	back, raw, err := g.upstream.Dial(context.Background())
	if err != nil {
		g.log(Entry{Conn: n, Kind: Event, Note: "gateway could not reach the broker " + g.upstream.String() + ": " + err.Error()})
		front.Close()
		return
	}
	p := &pair{n: n, front: front, back: back, raw: raw, style: Close}
	g.mu.Lock()
	if s, ok := g.marks[n]; ok {
		p.style = s
		delete(g.marks, n)
	}
	if g.done {
		g.mu.Unlock()
		p.end(Reset)
		return
	}
	g.pairs[n] = p
	g.mu.Unlock()

	go func() {
		g.pipe(back, front, up)
		if !p.isEnded() {
			g.log(Entry{Conn: n, Kind: Event, Note: "the connection closed on the client's side"})
		}
		p.end(p.current())
	}()
	g.pipe(front, back, down)
	switch {
	case p.isEnded():
	case g.tap.isDark(n):
		g.log(Entry{Conn: n, Kind: Event, Note: "broker closed the connection (the client is not told: the link is blackholed)"})
		p.hide()
	default:
		g.log(Entry{Conn: n, Kind: Event, Note: "broker closed the connection"})
		p.end(p.current())
	}
	g.mu.Lock()
	if !p.hidden {
		delete(g.pairs, n)
	}
	g.mu.Unlock()
}

// pipe copies src to dst until either fails, through the tap half h when
// the gateway feeds the tap. Between two plain TCP sockets io.Copy splices
// in the kernel.
func (g *gateway) pipe(dst, src net.Conn, h *tapHalf) {
	if h == nil {
		_, _ = io.Copy(dst, src)
		return
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			out, end := h.feed(buf[:n])
			if len(out) > 0 {
				if _, werr := dst.Write(out); werr != nil {
					return
				}
			}
			if end {
				return
			}
		}
		if err != nil {
			if rest := h.eof(); len(rest) > 0 {
				_, _ = dst.Write(rest)
			}
			return
		}
	}
}

func (p *pair) isEnded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ended || p.hidden
}

func (p *pair) current() Style {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.style
}

// end closes both sides. With Reset the broker side ends with a TCP RST
// (SO_LINGER 0) and no TLS close_notify; otherwise with a FIN.
func (p *pair) end(s Style) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	p.ended = true
	if s == Reset {
		_ = p.raw.SetLinger(0)
		p.raw.Close()
	} else {
		p.back.Close()
	}
	p.front.Close()
}

// hide closes only the broker side, as a blackholed link would: the FIN
// never reaches the client.
func (p *pair) hide() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ended {
		p.hidden = true
		p.back.Close()
	}
}

// mark sets how connection n ends once its bytes have drained.
func (g *gateway) mark(n int, s Style) {
	g.mu.Lock()
	p := g.pairs[n]
	if p == nil {
		g.marks[n] = s
	}
	g.mu.Unlock()
	if p != nil {
		p.mu.Lock()
		p.style = s
		p.mu.Unlock()
	}
}

// endConns ends the given connections (all when ns is nil) with style s
// and reports how many were open.
func (g *gateway) endConns(ns []int, s Style) int {
	g.mu.Lock()
	var ps []*pair
	if ns == nil {
		for _, p := range g.pairs {
			ps = append(ps, p)
		}
	} else {
		for _, n := range ns {
			if p := g.pairs[n]; p != nil {
				ps = append(ps, p)
			}
		}
	}
	for _, p := range ps {
		delete(g.pairs, p.n)
	}
	g.mu.Unlock()
	for _, p := range ps {
		p.end(s)
	}
	return len(ps)
}

func (g *gateway) close() {
	g.mu.Lock()
	g.done = true
	g.mu.Unlock()
	g.ln.Close()
	g.endConns(nil, Reset)
}
