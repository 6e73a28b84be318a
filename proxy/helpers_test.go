package proxy_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/faultline-mqtt/faultline/proxy"
)

// upstream is a plain TCP server standing in for a broker: it echoes what
// it reads (when echo is set) and reports, per connection, the bytes it
// received and how the connection ended.
type upstream struct {
	ln    net.Listener
	echo  bool
	ended chan ending
	mu    sync.Mutex
	conns []net.Conn
}

type ending struct {
	got []byte
	err error // io.EOF for a FIN, ECONNRESET for a RST
}

func startUpstream(t *testing.T, echo bool) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{ln: ln, echo: echo, ended: make(chan ending, 64)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.mu.Lock()
			u.conns = append(u.conns, c)
			u.mu.Unlock()
			go u.serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		u.mu.Lock()
		defer u.mu.Unlock()
		for _, c := range u.conns {
			c.Close()
		}
	})
	return u
}

func (u *upstream) serve(c net.Conn) {
	var got []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if n > 0 && u.echo {
			_, _ = c.Write(buf[:n])
		}
		if err != nil {
			u.ended <- ending{got: got, err: err}
			return
		}
	}
}

// next waits for the next connection to end.
func (u *upstream) next(t *testing.T) ending {
	t.Helper()
	select {
	case e := <-u.ended:
		return e
	case <-time.After(3 * time.Second):
		t.Fatal("the upstream connection did not end")
		return ending{}
	}
}

func (u *upstream) url() string { return "tcp://" + u.ln.Addr().String() }

// server starts a link server towards u, with the embedded Toxiproxy or,
// when external is set, a Toxiproxy server reached over its HTTP API.
func server(t *testing.T, url string, external bool) *proxy.Server {
	t.Helper()
	up, err := proxy.ParseUpstream(url)
	if err != nil {
		t.Fatal(err)
	}
	opts := proxy.Options{Upstream: up}
	if external {
		opts.ToxiproxyURL = toxiproxyHTTP(t)
	}
	s, err := proxy.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// toxiproxyHTTP serves a real Toxiproxy server's HTTP API on loopback, as
// an existing Toxiproxy would, and returns its URL.
func toxiproxyHTTP(t *testing.T) string {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &http.Server{Handler: srv.Routes(), ReadHeaderTimeout: 5 * time.Second}
	go h.Serve(ln)
	t.Cleanup(func() {
		h.Close()
		srv.Collection.Clear()
	})
	return "http://" + ln.Addr().String()
}

func link(t *testing.T, s *proxy.Server, name string) *proxy.Link {
	t.Helper()
	l, err := s.Link(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func dialLink(t *testing.T, l *proxy.Link) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", l.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readFor reads until error or d passes; it returns the bytes and the error
// that ended the read (os.ErrDeadlineExceeded when the connection stayed
// open and silent).
func readFor(c net.Conn, d time.Duration) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	var got []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, err
		}
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
func isEOF(err error) bool   { return errors.Is(err, io.EOF) }
func isOpen(err error) bool  { return errors.Is(err, os.ErrDeadlineExceeded) }
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}
