package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"sync"
)

// Options configure a Server.
type Options struct {
	// Upstream is the broker every link leads to.
	Upstream Upstream
	// ToxiproxyURL selects an existing Toxiproxy server (its HTTP API,
	// e.g. http://127.0.0.1:8474). Empty: Toxiproxy runs in this process.
	ToxiproxyURL string
}

// Server hands out links to one broker.
type Server struct {
	up Upstream
	b  backend
	id string

	mu    sync.Mutex
	seq   int
	links map[*Link]struct{}
}

// Start starts the embedded Toxiproxy, or connects to the external one.
func Start(o Options) (*Server, error) {
	if o.Upstream.URL == nil {
		return nil, fmt.Errorf("proxy: no broker to lead to")
	}
	var b backend
	if o.ToxiproxyURL == "" {
		b = newEmbedded()
	} else {
		e, err := newExternal(o.ToxiproxyURL)
		if err != nil {
			return nil, err
		}
		b = e
	}
	var id [4]byte
	_, _ = rand.Read(id[:])
	return &Server{up: o.Upstream, b: b, id: hex.EncodeToString(id[:]), links: map[*Link]struct{}{}}, nil
}

// Upstream is the broker the links lead to.
func (s *Server) Upstream() Upstream { return s.up }

// Embedded says whether Toxiproxy runs in this process.
func (s *Server) Embedded() bool { _, ok := s.b.(*embedded); return ok }

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Link creates a new link to the broker. name labels it in traces.
func (s *Server) Link(name string) (*Link, error) {
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("faultline-%s-%d-%s", s.id, s.seq, unsafeName.ReplaceAllString(name, "_"))
	s.mu.Unlock()

	l := &Link{name: name, id: id, srv: s, upstream: s.up, trace: newTrace()}
	l.tap = newTap(name, l.trace, func(n int, st Style) { l.pairs.mark(n, st) })
	l.trace.sync = l.tap.settleAll
	l.pairs = newPairs(l.log, l.tap.isDark)
	var initial []toxic
	if s.b.custom() {
		registerTap(id, l.tap)
		for _, stream := range []string{"upstream", "downstream"} {
			initial = append(initial, toxic{Name: "mqtt_" + stream, Type: tapType, Stream: stream, Toxicity: 1,
				Attributes: map[string]any{"link": id, "dir": stream}})
		}
	}
	h, err := s.b.open(l, initial)
	if err != nil {
		unregisterTap(id)
		return nil, fmt.Errorf("link %s: %w", name, err)
	}
	l.h = h
	s.mu.Lock()
	s.links[l] = struct{}{}
	s.mu.Unlock()
	return l, nil
}

func (s *Server) forget(l *Link) {
	s.mu.Lock()
	delete(s.links, l)
	s.mu.Unlock()
}

// Close removes every link and stops the embedded Toxiproxy.
func (s *Server) Close() error {
	s.mu.Lock()
	links := make([]*Link, 0, len(s.links))
	for l := range s.links {
		links = append(links, l)
	}
	s.mu.Unlock()
	for _, l := range links {
		_ = l.Close()
	}
	return s.b.close()
}
