package proxy

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// pair is one client connection and the broker connection it leads to.
// Faultline owns both sockets, so a cut can end either side with a RST.
type pair struct {
	n         int
	client    net.Conn
	clientRaw *net.TCPConn
	broker    net.Conn // possibly TLS or websocket over brokerRaw
	brokerRaw *net.TCPConn

	written [2]atomic.Int64 // bytes written towards the broker (ToBroker) and the client (FromBroker)

	closing atomic.Bool // a side is closing: what its reader sees now is no news

	mu      sync.Mutex
	reset   bool // closes send RSTs (SO_LINGER 0 on both sockets)
	ended   bool
	closes  int           // sides closed through Toxiproxy
	release chan struct{} // closed when a close held back by a blackhole may go on
}

func newPair(n int, client, broker net.Conn, brokerRaw *net.TCPConn) *pair {
	p := &pair{n: n, client: client, broker: broker, brokerRaw: brokerRaw, release: make(chan struct{})}
	p.clientRaw, _ = client.(*net.TCPConn)
	return p
}

// resetOnClose makes the closes Toxiproxy makes when a toxic ends the link
// RSTs, once the bytes let through before the cut have left.
func (p *pair) resetOnClose() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reset = true
}

func (p *pair) resetting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reset
}

// end closes both sides: with Reset each side gets a TCP RST (and a TLS
// broker connection no close_notify); otherwise a FIN.
func (p *pair) end(s Style) {
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		return
	}
	p.ended = true
	reset := p.reset || s == Reset
	close(p.release)
	p.mu.Unlock()
	if reset {
		// The bytes let through before the cut leave first.
		for _, c := range []*net.TCPConn{p.clientRaw, p.brokerRaw} {
			if c != nil {
				drain(c, 100*time.Millisecond)
				_ = c.SetLinger(0)
			}
		}
	}
	switch {
	case reset && p.brokerRaw != nil:
		p.brokerRaw.Close()
	case reset:
		p.broker.Close()
	default:
		closeWithFIN(p.broker, p.brokerRaw)
	}
	p.client.Close()
}

// finWait bounds how long a close waits for the broker to close its side.
const finWait = 500 * time.Millisecond

// closeWithFIN ends the broker side c (over raw) with a FIN that follows
// every byte let through. Closing a socket that still holds unread bytes
// from the broker sends a RST instead of a FIN, and a broker may then drop
// what it had not read yet: the bytes before the cut would be lost after
// all. So it shuts the sending side (after a TLS close_notify), reads and
// discards what the broker still sends until the broker closes too (at
// most finWait), and only then closes. A websocket connection is closed as
// before, with its close frame.
func closeWithFIN(c net.Conn, raw *net.TCPConn) error {
	tlsConn, isTLS := c.(*tls.Conn)
	if raw == nil || (c != net.Conn(raw) && !isTLS) {
		return c.Close()
	}
	if isTLS {
		_ = tlsConn.CloseWrite()
	}
	_ = raw.CloseWrite()
	_ = raw.SetReadDeadline(time.Now().Add(finWait))
	_, _ = io.Copy(io.Discard, raw)
	return c.Close()
}

func (p *pair) isEnded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ended
}

// pairs numbers a link's connections and keeps the open ones.
type pairs struct {
	log  func(Entry)
	dark func(n int) bool // is connection n blackholed now?

	start sync.Mutex // serialises the start of connections: numbers match the tap's
	next  int

	mu      sync.Mutex
	open    map[int]*pair
	refused bool // the link is down: connections that get this far are reset
	done    bool
}

func newPairs(log func(Entry), dark func(int) bool) *pairs {
	return &pairs{log: log, dark: dark, open: map[int]*pair{}}
}

// begin registers a connection under the next number and runs start (which
// must create the connection's tap halves) while no other connection
// starts. It returns false when the link is closing.
func (ps *pairs) begin(client, broker net.Conn, brokerRaw *net.TCPConn, start func(p *pair)) (*pair, bool) {
	ps.start.Lock()
	defer ps.start.Unlock()
	ps.mu.Lock()
	if ps.done || ps.refused {
		ps.mu.Unlock()
		// Unnumbered: the tap never sees it, and numbers must match.
		newPair(0, client, broker, brokerRaw).end(Reset)
		return nil, false
	}
	ps.next++
	p := newPair(ps.next, client, broker, brokerRaw)
	ps.open[p.n] = p
	ps.mu.Unlock()
	start(p)
	return p, true
}

// refuse makes connections that are still starting fail (the link is
// down), or lets them through again.
func (ps *pairs) refuse(on bool) {
	ps.mu.Lock()
	ps.refused = on
	ps.mu.Unlock()
}

// mark says how connection n must end once a cut has fired on it. The tap
// numbers a connection only once begin has registered it.
func (ps *pairs) mark(n int, s Style) {
	ps.mu.Lock()
	p := ps.open[n]
	ps.mu.Unlock()
	if p != nil && s == Reset {
		p.resetOnClose()
	}
}

// end ends the given connections (all when ns is nil) with style s and
// reports how many were open. passed, when given, says how many bytes of
// each connection passed the tap before the cut: they are let out first.
func (ps *pairs) end(ns []int, s Style, passed ...map[int][2]int64) int {
	ps.mu.Lock()
	var todo []*pair
	if ns == nil {
		for _, p := range ps.open {
			todo = append(todo, p)
		}
	} else {
		for _, n := range ns {
			if p := ps.open[n]; p != nil {
				todo = append(todo, p)
			}
		}
	}
	for _, p := range todo {
		delete(ps.open, p.n)
	}
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if len(passed) > 0 {
				p.settle(passed[0][p.n], 100*time.Millisecond)
			}
			p.end(s)
		}()
	}
	wg.Wait()
	return len(todo)
}

// finished forgets a connection whose both sides are closed.
func (ps *pairs) finished(p *pair) {
	ps.mu.Lock()
	delete(ps.open, p.n)
	ps.mu.Unlock()
}

func (ps *pairs) close() {
	ps.mu.Lock()
	ps.done = true
	ps.mu.Unlock()
	ps.end(nil, Reset)
}

// side is one socket of a pair as Toxiproxy reads it. It notes who closed
// the connection first, and while the link is blackholed it holds back a
// close by the broker, as a pulled cable would: the client is not told.
type side struct {
	net.Conn
	p          *pair
	ps         *pairs
	fromBroker bool
}

func (s *side) Read(b []byte) (int, error) {
	n, err := s.Conn.Read(b)
	if err == nil || s.p.isEnded() || s.p.closing.Load() || errors.Is(err, net.ErrClosed) {
		return n, err // a socket closed here is no news
	}
	switch {
	case s.fromBroker && s.ps.dark(s.p.n):
		s.ps.log(Entry{Conn: s.p.n, Kind: Event, Note: "broker closed the connection (the client is not told: the link is blackholed)"})
		<-s.p.release
	case s.fromBroker:
		s.ps.log(Entry{Conn: s.p.n, Kind: Event, Note: "broker closed the connection" + reason(err)})
	default:
		s.ps.log(Entry{Conn: s.p.n, Kind: Event, Note: "client closed the connection" + reason(err)})
	}
	return n, err
}

// Write counts what reaches the socket, so a cut can wait for the bytes
// that passed the tap before it to be written.
func (s *side) Write(b []byte) (int, error) {
	n, err := s.Conn.Write(b)
	if s.fromBroker {
		s.p.written[ToBroker].Add(int64(n))
	} else {
		s.p.written[FromBroker].Add(int64(n))
	}
	return n, err
}

// settle waits, at most d, until the bytes that passed the tap (passed,
// per direction) have been written to the sockets and sent.
func (p *pair) settle(passed [2]int64, d time.Duration) {
	deadline := time.Now().Add(d)
	p.await(passed, deadline)
	for _, c := range []*net.TCPConn{p.brokerRaw, p.clientRaw} {
		if c != nil {
			drain(c, time.Until(deadline))
		}
	}
}

// await waits, until deadline, for the bytes that passed the tap to be
// written to their sockets.
func (p *pair) await(passed [2]int64, deadline time.Time) {
	for time.Now().Before(deadline) {
		if p.written[ToBroker].Load() >= passed[ToBroker] && p.written[FromBroker].Load() >= passed[FromBroker] {
			return
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// Close closes the socket; once both sides are closed the pair is done.
// After a reset cut the socket first lets its queued bytes leave, then
// closes with a RST; otherwise the broker's side ends with a FIN after
// every byte let through (closeWithFIN).
func (s *side) Close() error {
	raw := s.p.clientRaw
	if s.fromBroker {
		raw = s.p.brokerRaw
	}
	s.p.closing.Store(true)
	var err error
	switch {
	case raw != nil && s.p.resetting():
		// The socket itself: a TLS or websocket layer would say goodbye
		// before the RST.
		drain(raw, 100*time.Millisecond)
		_ = raw.SetLinger(0)
		err = raw.Close()
	case s.fromBroker:
		err = closeWithFIN(s.Conn, raw)
	default:
		err = s.Conn.Close()
	}
	s.p.mu.Lock()
	s.p.closes++
	done := s.p.closes == 2
	if done && !s.p.ended {
		s.p.ended = true
		close(s.p.release)
	}
	s.p.mu.Unlock()
	if done {
		s.ps.finished(s.p)
	}
	return err
}

func reason(err error) string {
	if errors.Is(err, io.EOF) {
		return ""
	}
	return ": " + err.Error()
}
