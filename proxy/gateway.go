package proxy

import (
	"context"
	"net"
	"sync"
	"time"
)

// gateway is the last hop of a link on an external Toxiproxy: that server
// proxies the client to the gateway, and the gateway dials the broker over
// the upstream's transport. An external server does not have Faultline's
// MQTT toxic compiled in, so the gateway feeds the link's tap instead, and
// owns the broker-side socket, so a cut can still reset it.
type gateway struct {
	ln net.Listener
	l  *Link

	mu      sync.Mutex
	refused bool // the link is down: connections are reset as they come
}

// refuse resets every new connection from now on (the link is down), or
// lets them through again. Toxiproxy's own listener stays up: disabling
// the proxy would free its port, which any socket of the machine could
// take before the link comes back.
func (g *gateway) refuse(on bool) {
	g.mu.Lock()
	g.refused = on
	g.mu.Unlock()
}

func startGateway(l *Link) (*gateway, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &gateway{ln: ln, l: l}
	go g.serve()
	return g, nil
}

func (g *gateway) addr() string { return g.ln.Addr().String() }

func (g *gateway) serve() {
	for {
		front, err := g.ln.Accept()
		if err != nil {
			return
		}
		go g.handle(front)
	}
}

func (g *gateway) handle(front net.Conn) {
	l := g.l
	g.mu.Lock()
	refused := g.refused
	g.mu.Unlock()
	if refused {
		resetNow(front)
		return
	}
	back, raw, err := l.upstream.Dial(context.Background())
	if err != nil {
		l.log(Entry{Kind: Event, Note: "could not reach the broker " + l.upstream.String() + ": " + err.Error()})
		front.Close()
		return
	}
	var up, down *tapHalf
	p, ok := l.pairs.begin(front, back, raw, func(*pair) {
		up, down = l.tap.half(ToBroker), l.tap.half(FromBroker)
	})
	if !ok {
		return
	}
	client := &side{Conn: front, p: p, ps: l.pairs}
	broker := &side{Conn: back, p: p, ps: l.pairs, fromBroker: true}
	go func() {
		pipe(broker, client, up)
		g.finish(p)
	}()
	pipe(client, broker, down)
	g.finish(p)
	l.pairs.finished(p)
}

// finish ends a pair once one of its pipes stopped. A cut fired in one
// direction stops the other pipe too, and that one can get here first:
// the bytes the cut let through must still be written (at most 100 ms)
// before the sockets close, or a FIN would overtake them.
func (g *gateway) finish(p *pair) {
	if !p.isEnded() {
		p.await(g.l.tap.passed(p.n), time.Now().Add(100*time.Millisecond))
	}
	p.end(Close)
}

// pipe copies src to dst through the tap half h until either side fails
// or the tap ends the connection. A pair marked for reset sends a RST
// when it ends (pair.end).
func pipe(dst, src *side, h *tapHalf) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 && h.pass(buf[:n], time.Now()) {
			_, werr := dst.Write(buf[:n])
			h.settle() // before buf is read into again
			if werr != nil {
				return
			}
		} else if n > 0 {
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

func (g *gateway) close() { g.ln.Close() }
