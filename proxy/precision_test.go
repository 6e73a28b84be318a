package proxy_test

import (
	"bytes"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// stream is a byte stream of known packets.
type stream struct {
	bytes  []byte
	starts []int
}

func (s *stream) add(p wire.Packet) {
	s.starts = append(s.starts, len(s.bytes))
	s.bytes = append(s.bytes, wire.Encode(p)...)
}

func (s *stream) end(i int) int {
	if i+1 < len(s.starts) {
		return s.starts[i+1]
	}
	return len(s.bytes)
}

func publish(id uint16, qos byte, topic string, n int) wire.Packet {
	return wire.Packet{Header: wire.Header{Type: wire.PUBLISH}, QoS: qos, PacketID: id, Topic: topic, Payload: bytes.Repeat([]byte("p"), n)}
}

func toBrokerStream() *stream {
	s := &stream{}
	s.add(wire.Packet{Header: wire.Header{Type: wire.CONNECT}, ProtocolName: "MQTT", ProtocolLevel: 4, CleanStart: true, KeepAlive: 30, ClientID: "c1"})
	s.add(publish(0, 0, "a/zero", 3))                                       // 1
	s.add(publish(2, 1, "a/one", 200))                                      // 2
	s.add(publish(3, 2, "a/two", 1000))                                     // 3
	s.add(wire.Packet{Header: wire.Header{Type: wire.PUBREL}, PacketID: 3}) // 4
	s.add(wire.Packet{Header: wire.Header{Type: wire.PINGREQ}})             // 5
	s.add(publish(4, 1, "b", 1))                                            // 6
	s.add(publish(5, 1, "a/one", 0))                                        // 7
	s.add(wire.Packet{Header: wire.Header{Type: wire.DISCONNECT}})          // 8
	return s
}

func fromBrokerStream() *stream {
	s := &stream{}
	s.add(wire.Packet{Header: wire.Header{Type: wire.CONNACK}})                                     // 0
	s.add(wire.Packet{Header: wire.Header{Type: wire.SUBACK}, PacketID: 1, ReasonCodes: []byte{1}}) // 1
	s.add(publish(1, 1, "a/x", 50))                                                                 // 2
	s.add(publish(2, 2, "a/y", 700))                                                                // 3
	s.add(wire.Packet{Header: wire.Header{Type: wire.PUBREL}, PacketID: 2})                         // 4
	s.add(wire.Packet{Header: wire.Header{Type: wire.PINGRESP}})                                    // 5
	s.add(publish(3, 1, "a/x", 10))                                                                 // 6
	return s
}

// writer sends b the way a condition wants it segmented.
type writer func(c net.Conn, b []byte)

func whole(c net.Conn, b []byte) { c.Write(b) }

// dribble writes b in small random pieces with pauses, so the proxy reads
// packets split over many segments (and sometimes several in one).
func dribble(seed uint64) writer {
	return func(c net.Conn, b []byte) {
		r := rand.New(rand.NewPCG(seed, 1))
		for len(b) > 0 {
			n := min(1+r.IntN(40), len(b))
			if _, err := c.Write(b[:n]); err != nil {
				return
			}
			b = b[n:]
			time.Sleep(time.Duration(r.IntN(150)) * time.Microsecond)
		}
	}
}

type condition struct {
	name  string
	fault func(l *proxy.Link) error
	write writer
}

func conditions() []condition {
	return []condition{
		{"plain", nil, whole},
		{"client segments", nil, dribble(1)},
		{"latency", func(l *proxy.Link) error { return l.Latency(proxy.Both, 3*time.Millisecond, time.Millisecond) }, dribble(2)},
		{"slicer", func(l *proxy.Link) error { return l.Fragment(proxy.Both, 5, 4, 20*time.Microsecond) }, whole},
	}
}

const repeats = 3

func TestCutsLandExactlyOverRealSockets(t *testing.T) {
	s := toBrokerStream()
	cases := []struct {
		cut  proxy.Cut
		want int
	}{
		{proxy.Before(proxy.ToBroker, proxy.PUBLISH), s.starts[1]},
		{proxy.After(proxy.ToBroker, proxy.Publish(1)), s.end(2)},
		{proxy.Into(proxy.ToBroker, proxy.PUBLISH.ID(3), 5), s.starts[3] + 5},
		{proxy.After(proxy.ToBroker, proxy.PUBREL.ID(3)), s.end(4)},
		{proxy.Before(proxy.ToBroker, proxy.PINGREQ), s.starts[5]},
		{proxy.After(proxy.ToBroker, proxy.PUBLISH.On("a/one")).Nth(2), s.end(7)},
		{proxy.AfterBytes(proxy.ToBroker, 333), 333},
	}
	backends(t, func(t *testing.T, external bool) {
		up := startUpstream(t, false)
		srv := server(t, up.url(), external)
		for _, cond := range conditions() {
			for _, tc := range cases {
				for i := range repeats {
					l := link(t, srv, "c")
					if cond.fault != nil {
						if err := cond.fault(l); err != nil {
							t.Fatal(err)
						}
					}
					f := arm(t, l, tc.cut.With(proxy.Close))
					c := dialLink(t, l)
					go cond.write(c, s.bytes)
					e := up.next(t)
					if !bytes.Equal(e.got, s.bytes[:tc.want]) || !isEOF(e.err) {
						t.Fatalf("%s, %s, run %d: broker got %d bytes then %v; want %d then a FIN\n%s",
							cond.name, tc.cut, i, len(e.got), e.err, tc.want, proxy.Format(l.Trace().Entries(), time.Time{}, 0))
					}
					waitFired(t, f)
					l.Close()
				}
			}
		}
	})
}

func arm(t *testing.T, l *proxy.Link, c proxy.Cut) *proxy.Fault {
	t.Helper()
	f, err := l.Arm(c)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// speaker is a broker stand-in that writes a stream to each connection
// once the client has said something (as a broker answers CONNECT).
func speaker(t *testing.T, data []byte, write writer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if _, err := c.Read(make([]byte, 1)); err != nil {
					c.Close()
					return
				}
				write(c, data)
				readFor(c, 10*time.Second)
				c.Close()
			}()
		}
	}()
	return "tcp://" + ln.Addr().String()
}

func TestCutsFromTheBrokerLandExactly(t *testing.T) {
	s := fromBrokerStream()
	cases := []struct {
		cut  proxy.Cut
		want int
	}{
		{proxy.After(proxy.FromBroker, proxy.CONNACK), s.end(0)},
		{proxy.Before(proxy.FromBroker, proxy.Publish(1)), s.starts[2]},
		{proxy.After(proxy.FromBroker, proxy.Publish(1)), s.end(2)},
		{proxy.Into(proxy.FromBroker, proxy.PUBLISH.ID(2), 3), s.starts[3] + 3},
		{proxy.Before(proxy.FromBroker, proxy.PUBREL), s.starts[4]},
		{proxy.After(proxy.FromBroker, proxy.PUBREL.ID(2)), s.end(4)},
		{proxy.After(proxy.FromBroker, proxy.PUBLISH.On("a/x")).Nth(2), s.end(6)},
	}
	backends(t, func(t *testing.T, external bool) {
		for ci, cond := range conditions() {
			srv := server(t, speaker(t, s.bytes, cond.write), external)
			for _, tc := range cases {
				for i := range repeats {
					l := link(t, srv, "c")
					if cond.fault != nil {
						if err := cond.fault(l); err != nil {
							t.Fatal(err)
						}
					}
					f := arm(t, l, tc.cut)
					c := dialLink(t, l)
					c.Write([]byte{0})
					got, err := readFor(c, 5*time.Second)
					if !bytes.Equal(got, s.bytes[:tc.want]) || isOpen(err) {
						t.Fatalf("%s (%d), %s, run %d: client got %d bytes then %v; want %d then the end\n%s",
							cond.name, ci, tc.cut, i, len(got), err, tc.want, proxy.Format(l.Trace().Entries(), time.Time{}, 0))
					}
					waitFired(t, f)
					l.Close()
				}
			}
		}
	})
}

func TestCutStyles(t *testing.T) {
	s := toBrokerStream()
	backends(t, func(t *testing.T, external bool) {
		up := startUpstream(t, false)
		srv := server(t, up.url(), external)

		l := link(t, srv, "reset")
		arm(t, l, proxy.After(proxy.ToBroker, proxy.Publish(1)))
		c := dialLink(t, l)
		c.Write(s.bytes)
		if e := up.next(t); !bytes.Equal(e.got, s.bytes[:s.end(2)]) || !isReset(e.err) {
			t.Errorf("reset: broker got %d bytes then %v; want %d then a RST", len(e.got), e.err, s.end(2))
		}

		l = link(t, srv, "blackhole")
		arm(t, l, proxy.After(proxy.ToBroker, proxy.Publish(1)).With(proxy.Blackhole))
		c = dialLink(t, l)
		c.Write(s.bytes)
		if got, err := readFor(c, 300*time.Millisecond); len(got) != 0 || !isOpen(err) {
			t.Errorf("blackhole: the client's side did not stay open and silent: %d bytes, %v", len(got), err)
		}
		select {
		case e := <-up.ended:
			t.Errorf("blackhole: the broker's side ended (%v) while blackholed", e.err)
		default:
		}
		if err := l.Restore(); err != nil {
			t.Fatal(err)
		}
		if e := up.next(t); !bytes.Equal(e.got, s.bytes[:s.end(2)]) {
			t.Errorf("blackhole: broker got %d bytes, want %d", len(e.got), s.end(2))
		}
	})
}

// A close cut ends the broker's side with a FIN after the bytes before the
// cut, also while the broker is still sending and nobody reads it: closing
// a socket with unread bytes would send a RST, and a broker may drop what
// it had not read yet when a RST arrives.
func TestCloseIsAFINWhileTheBrokerKeepsTalking(t *testing.T) {
	s := toBrokerStream()
	backends(t, func(t *testing.T, external bool) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		ended := make(chan ending, 8)
		var sent atomic.Int64 // by the broker, on the current connection
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				sent.Store(0)
				go func() {
					defer c.Close()
					go func() { // talk until nobody takes more
						chunk := payload(64 << 10)
						for {
							n, err := c.Write(chunk)
							sent.Add(int64(n))
							if err != nil {
								return
							}
						}
					}()
					got, err := readFor(c, 5*time.Second)
					ended <- ending{got: got, err: err}
				}()
			}
		}()
		srv := server(t, "tcp://"+ln.Addr().String(), external)
		for i := range repeats {
			l := link(t, srv, "chatty")
			f := arm(t, l, proxy.After(proxy.ToBroker, proxy.Publish(1)).With(proxy.Close))
			c := dialLink(t, l) // never read: the broker's bytes pile up
			c.Write(s.bytes[:1])
			stalled(t, &sent) // the proxy's socket to the broker now holds unread bytes
			c.Write(s.bytes[1:])
			select {
			case e := <-ended:
				if !bytes.Equal(e.got, s.bytes[:s.end(2)]) || !isEOF(e.err) {
					t.Fatalf("run %d: broker got %d bytes then %v; want %d then a FIN", i, len(e.got), e.err, s.end(2))
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the broker's connection did not end")
			}
			waitFired(t, f)
			c.Close()
			l.Close()
		}
	})
}

// stalled waits (at most 10 s) until n has not grown for 100 ms.
func stalled(t *testing.T, n *atomic.Int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last, since := n.Load(), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		if v := n.Load(); v != last || v == 0 {
			last, since = v, time.Now()
		} else if time.Since(since) >= 100*time.Millisecond {
			return
		}
	}
	t.Fatal("the broker never stopped sending: nothing held it back")
}

// waitFired waits (at most 5 s) for f to fire.
func waitFired(t *testing.T, f *proxy.Fault) {
	t.Helper()
	select {
	case <-f.Fired():
	case <-time.After(5 * time.Second):
		t.Fatal("the cut never fired")
	}
}
