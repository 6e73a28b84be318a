package proxy_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/faultline-mqtt/faultline/proxy"
)

// Each fault is checked on both backends: the embedded Toxiproxy (faults
// in Faultline's toxic) and an external one over HTTP (faults in the
// gateway).
func backends(t *testing.T, f func(t *testing.T, external bool)) {
	t.Run("embedded", func(t *testing.T) { f(t, false) })
	t.Run("external", func(t *testing.T) { f(t, true) })
}

func TestLinkPassesBytesUnchanged(t *testing.T) {
	backends(t, func(t *testing.T, external bool) {
		up := startUpstream(t, true)
		l := link(t, server(t, up.url(), external), "c")
		c := dialLink(t, l)
		want := payload(200000)
		go c.Write(want)
		got := make([]byte, len(want))
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("echo through the link: %v (equal=%v)", err, bytes.Equal(got, want))
		}
	})
}

func TestCutResetsTheBrokerSideNow(t *testing.T) {
	backends(t, func(t *testing.T, external bool) {
		up := startUpstream(t, true)
		l := link(t, server(t, up.url(), external), "c")
		c := dialLink(t, l)
		c.Write([]byte("hi"))
		if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
			t.Fatal(err)
		}
		l.Cut()
		if e := up.next(t); !isReset(e.err) {
			t.Errorf("broker side ended with %v, want a RST", e.err)
		}
		if _, err := readFor(c, 2*time.Second); isOpen(err) {
			t.Errorf("client side still open after the cut")
		}
		// The link lets new connections through.
		c2 := dialLink(t, l)
		c2.Write([]byte("again"))
		if _, err := io.ReadFull(c2, make([]byte, 5)); err != nil {
			t.Errorf("new connection after the cut: %v", err)
		}
	})
}

func TestCutAfterBytesLetsExactlyNThrough(t *testing.T) {
	for _, n := range []int{1, 17, 1000, 100000} {
		backends(t, func(t *testing.T, external bool) {
			up := startUpstream(t, false)
			l := link(t, server(t, up.url(), external), "c")
			c := dialLink(t, l)
			f := l.CutAfterBytes(proxy.ToBroker, n)
			go c.Write(payload(n + 5000))
			e := up.next(t)
			if len(e.got) != n {
				t.Errorf("upstream received %d bytes, want %d", len(e.got), n)
			}
			select {
			case <-f.Fired():
			default:
				t.Error("the cut did not report firing")
			}
			// It fires once: a new connection carries everything.
			c2 := dialLink(t, l)
			c2.Write(payload(n + 10))
			c2.Close()
			if e := up.next(t); len(e.got) != n+10 {
				t.Errorf("after the cut fired, a new connection carried %d bytes, want %d", len(e.got), n+10)
			}
		})
	}
}

func TestCutAfterBytesFromBroker(t *testing.T) {
	backends(t, func(t *testing.T, external bool) {
		up := startUpstream(t, true)
		l := link(t, server(t, up.url(), external), "c")
		c := dialLink(t, l)
		l.CutAfterBytes(proxy.FromBroker, 10)
		go c.Write(payload(100))
		got, err := readFor(c, 3*time.Second)
		if len(got) != 10 || isOpen(err) {
			t.Errorf("client received %d bytes then %v; want 10 then the end", len(got), err)
		}
	})
}

func TestBlackholeKeepsSocketsOpenAndDropsBytes(t *testing.T) {
	backends(t, func(t *testing.T, external bool) {
		up := startUpstream(t, true)
		l := link(t, server(t, up.url(), external), "c")
		c := dialLink(t, l)
		c.Write([]byte("ping"))
		if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
			t.Fatal(err)
		}
		l.Blackhole()
		c.Write([]byte("lost"))
		got, err := readFor(c, 300*time.Millisecond)
		if len(got) != 0 || !isOpen(err) {
			t.Fatalf("under a blackhole the client read %q then %v; want nothing, socket open", got, err)
		}
		if err := l.Restore(); err != nil {
			t.Fatal(err)
		}
		// The stream lost bytes, so restoring ends the connection.
		if _, err := readFor(c, 2*time.Second); isOpen(err) {
			t.Error("the blackholed connection survived Restore")
		}
		if e := up.next(t); string(e.got) != "ping" {
			t.Errorf("upstream received %q, want only %q", e.got, "ping")
		}
	})
}

func TestLatencyDelaysEachDirection(t *testing.T) {
	backends(t, func(t *testing.T, external bool) {
		up := startUpstream(t, true)
		l := link(t, server(t, up.url(), external), "c")
		c := dialLink(t, l)
		if err := l.Latency(proxy.FromBroker, 100*time.Millisecond, 0); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		c.Write([]byte("x"))
		if _, err := readFor(c, 50*time.Millisecond); !isOpen(err) {
			t.Fatal("the echo came back early")
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		if rtt := time.Since(start); rtt < 100*time.Millisecond {
			t.Errorf("round trip %v under 100ms latency", rtt)
		}
		if err := l.Restore(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBandwidthLimitsThroughput(t *testing.T) {
	backends(t, func(t *testing.T, external bool) {
		up := startUpstream(t, false)
		l := link(t, server(t, up.url(), external), "c")
		c := dialLink(t, l)
		if err := l.Bandwidth(proxy.ToBroker, 100); err != nil { // 100 KB/s
			t.Fatal(err)
		}
		start := time.Now()
		c.Write(payload(30000))
		c.Close()
		e := up.next(t)
		if took := time.Since(start); len(e.got) != 30000 || took < 250*time.Millisecond {
			t.Errorf("30 KB at 100 KB/s arrived whole=%v in %v; want ≥ 250ms", len(e.got) == 30000, took)
		}
	})
}

func TestFragmentSplitsIntoSmallSegments(t *testing.T) {
	backends(t, func(t *testing.T, external bool) {
		// A server that records the size of each read.
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		reads := make(chan []int, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var sizes []int
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					sizes = append(sizes, n)
				}
				if err != nil {
					reads <- sizes
					return
				}
			}
		}()
		l := link(t, server(t, "tcp://"+ln.Addr().String(), external), "c")
		c := dialLink(t, l)
		if err := l.Fragment(proxy.ToBroker, 3, 0, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		c.Write(payload(300))
		c.Close()
		// Without the slicer 300 bytes arrive in one read. With it about 100
		// segments arrive a millisecond apart; a busy reader may take a few
		// at once, so only ask for many reads, not for their sizes.
		sizes := <-reads
		total := 0
		for _, s := range sizes {
			total += s
		}
		if total != 300 || len(sizes) < 20 {
			t.Errorf("reads %v: %d bytes in %d reads; want 300 bytes in many small segments", sizes, total, len(sizes))
		}
	})
}

func TestDownRefusesUntilRestore(t *testing.T) {
	backends(t, func(t *testing.T, external bool) {
		up := startUpstream(t, true)
		l := link(t, server(t, up.url(), external), "c")
		c := dialLink(t, l)
		if err := l.Down(); err != nil {
			t.Fatal(err)
		}
		if _, err := readFor(c, 2*time.Second); isOpen(err) {
			t.Error("open connection survived Down")
		}
		// Refused, or (the embedded backend keeps its port) reset before
		// a byte passes.
		if c, err := net.DialTimeout("tcp", l.Addr(), time.Second); err == nil {
			c.Write([]byte("hi"))
			if _, err := readFor(c, 2*time.Second); isOpen(err) {
				t.Error("a new connection was let through while the link was down")
			}
			c.Close()
		}
		if err := l.Restore(); err != nil {
			t.Fatal(err)
		}
		c2 := dialLink(t, l)
		c2.Write([]byte("up"))
		_ = c2.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.ReadFull(c2, make([]byte, 2)); err != nil {
			t.Errorf("after Restore: %v", err)
		}
	})
}

func TestFaultsStayOnTheirLink(t *testing.T) {
	backends(t, func(t *testing.T, external bool) {
		up := startUpstream(t, true)
		s := server(t, up.url(), external)
		a, b := link(t, s, "a"), link(t, s, "b")
		ca, cb := dialLink(t, a), dialLink(t, b)
		a.Blackhole()
		a.Cut()
		if err := a.Latency(proxy.Both, 5*time.Second, 0); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		cb.Write([]byte("fine"))
		_ = cb.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.ReadFull(cb, make([]byte, 4)); err != nil || time.Since(start) > 2500*time.Millisecond {
			t.Errorf("link b suffered link a's faults: %v after %v", err, time.Since(start))
		}
		_ = ca
	})
}
