package proxy

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// session is a client→broker byte stream of known packets, with the
// offset where each packet starts.
type session struct {
	bytes  []byte
	starts []int
	pkts   []wire.Packet
}

func (s *session) add(p wire.Packet) {
	s.starts = append(s.starts, len(s.bytes))
	s.pkts = append(s.pkts, p)
	s.bytes = append(s.bytes, wire.Encode(p)...)
}

func (s *session) end(i int) int {
	if i+1 < len(s.starts) {
		return s.starts[i+1]
	}
	return len(s.bytes)
}

func clientSession(version byte) *session {
	s := &session{}
	pub := func(id uint16, qos byte, topic string, n int) wire.Packet {
		return wire.Packet{Header: wire.Header{Type: wire.PUBLISH}, Version: version, QoS: qos, PacketID: id, Topic: topic, Payload: bytes.Repeat([]byte("p"), n)}
	}
	s.add(wire.Packet{Header: wire.Header{Type: wire.CONNECT}, ProtocolName: "MQTT", ProtocolLevel: version, CleanStart: true, KeepAlive: 30, ClientID: "c1"})
	s.add(wire.Packet{Header: wire.Header{Type: wire.SUBSCRIBE}, Version: version, PacketID: 1, Subscriptions: []wire.Subscription{{Filter: "a/#", QoS: 1}}})
	s.add(pub(0, 0, "a/zero", 3))
	s.add(pub(2, 1, "a/one", 200))
	s.add(pub(3, 2, "a/two", 20000)) // a remaining length of three bytes
	s.add(wire.Packet{Header: wire.Header{Type: wire.PUBREL}, Version: version, PacketID: 3})
	s.add(wire.Packet{Header: wire.Header{Type: wire.PINGREQ}})
	s.add(pub(4, 1, "b", 1))
	s.add(pub(5, 1, "a/one", 0))
	s.add(wire.Packet{Header: wire.Header{Type: wire.DISCONNECT}, Version: version})
	return s
}

// chunkings splits b in many ways: whole, byte by byte, and at random.
func chunkings(b []byte, seed uint64) [][][]byte {
	out := [][][]byte{{b}}
	var ones [][]byte
	for i := range b {
		ones = append(ones, b[i:i+1])
	}
	out = append(out, ones)
	r := rand.New(rand.NewPCG(seed, 7))
	for range 20 {
		var cs [][]byte
		for rest := b; len(rest) > 0; {
			n := min(1+r.IntN(300), len(rest))
			if r.IntN(4) == 0 {
				n = min(1+r.IntN(5), len(rest))
			}
			cs, rest = append(cs, rest[:n]), rest[n:]
		}
		out = append(out, cs)
	}
	return out
}

// run feeds chunks to a fresh tap's client→broker half with cut armed, and
// returns what passed and whether the cut fired.
func run(t *testing.T, chunks [][]byte, cut Cut) ([]byte, bool, *Trace) {
	t.Helper()
	trace := newTrace()
	tp := newTap("c", trace, nil)
	f, err := tp.arm(cut)
	if err != nil {
		t.Fatal(err)
	}
	h := tp.half(cut.dir)
	var out []byte
	for _, c := range chunks {
		o, end := h.feed(c)
		out = append(out, o...)
		if end {
			break
		}
	}
	out = append(out, h.eof()...)
	select {
	case <-f.Fired():
		return out, true, trace
	default:
		return out, false, trace
	}
}

func TestCutsLandExactlyWhateverTheSegmentation(t *testing.T) {
	for _, v := range []byte{wire.V311, wire.V5} {
		s := clientSession(v)
		cases := []struct {
			cut  Cut
			want int // bytes that pass
		}{
			{Before(ToBroker, PUBLISH), s.starts[2]},
			{After(ToBroker, PUBLISH), s.end(2)},
			{After(ToBroker, Publish(1)), s.end(3)},
			{Before(ToBroker, PUBLISH.ID(3)), s.starts[4]},
			{Into(ToBroker, PUBLISH.ID(3), 1), s.starts[4] + 1},
			{Into(ToBroker, PUBLISH.ID(3), 4), s.starts[4] + 4}, // inside the remaining length
			{Into(ToBroker, PUBLISH.ID(3), 9000), s.starts[4] + 9000},
			{After(ToBroker, PUBLISH.ID(3)), s.end(4)},
			{Into(ToBroker, PUBLISH.ID(3), 1<<30), s.end(4)}, // past the end: after it
			{After(ToBroker, PUBLISH.On("a/one")).Nth(2), s.end(8)},
			{Before(ToBroker, PUBLISH.On("b")), s.starts[7]},
			{After(ToBroker, PUBREL.ID(3)), s.end(5)},
			{Before(ToBroker, PINGREQ), s.starts[6]},
			{After(ToBroker, CONNECT), s.end(0)},
			{Into(ToBroker, CONNECT, 3), 3},
			{Before(ToBroker, DISCONNECT), s.starts[9]},
			{After(ToBroker, Publish(1)).Nth(3), s.end(8)},
			{AfterBytes(ToBroker, 0), 0},
			{AfterBytes(ToBroker, 1), 1},
			{AfterBytes(ToBroker, 777), 777},
		}
		for _, tc := range cases {
			for i, chunks := range chunkings(s.bytes, uint64(len(tc.cut.String()))) {
				out, fired, trace := run(t, chunks, tc.cut)
				if !fired || !bytes.Equal(out, s.bytes[:tc.want]) {
					t.Fatalf("v%d %s, chunking %d: fired=%v, %d bytes passed, want %d\n%s",
						v, tc.cut, i, fired, len(out), tc.want, Format(trace.Entries(), trace.Entries()[0].At, 0))
				}
			}
		}
	}
}

func TestCutsThatNeverMatchPassEverything(t *testing.T) {
	s := clientSession(wire.V311)
	for _, cut := range []Cut{
		After(ToBroker, PUBLISH.ID(99)),
		Before(ToBroker, PUBLISH.On("nowhere")),
		After(ToBroker, Publish(2)).Nth(2),
		AfterBytes(ToBroker, len(s.bytes)+1),
	} {
		for i, chunks := range chunkings(s.bytes, 1) {
			out, fired, _ := run(t, chunks, cut)
			if fired || !bytes.Equal(out, s.bytes) {
				t.Fatalf("%s, chunking %d: fired=%v, %d of %d bytes passed", cut, i, fired, len(out), len(s.bytes))
			}
		}
	}
}

func TestTraceDecodesEveryPacketWhateverTheSegmentation(t *testing.T) {
	s := clientSession(wire.V5)
	for i, chunks := range chunkings(s.bytes, 3) {
		trace := newTrace()
		h := newTap("c", trace, nil).half(ToBroker)
		for _, c := range chunks {
			if out, _ := h.feed(c); !bytes.Equal(out, c) {
				t.Fatalf("chunking %d: the tap changed a chunk", i)
			}
		}
		got := trace.Packets(ToBroker)
		if len(got) != len(s.pkts) {
			t.Fatalf("chunking %d: %d packets in the trace, want %d", i, len(got), len(s.pkts))
		}
		for j, p := range got {
			want := s.pkts[j]
			if p.Type != want.Type || p.PacketID != want.PacketID || p.Topic != want.Topic || p.Size() != s.end(j)-s.starts[j] || p.Malformed != "" {
				t.Fatalf("chunking %d, packet %d: traced %s, want %s", i, j, p, want)
			}
		}
	}
}

func TestGarbagePassesUnchangedAndTheTraceSaysSo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	junk := make([]byte, 5000)
	for i := range junk {
		junk[i] = byte(r.UintN(256))
	}
	junk[0], junk[1], junk[2], junk[3], junk[4] = 0x30, 0xff, 0xff, 0xff, 0xff // a remaining length of five bytes
	for i, chunks := range chunkings(junk, 9) {
		trace := newTrace()
		tp := newTap("c", trace, nil)
		if _, err := tp.arm(After(ToBroker, PUBLISH)); err != nil {
			t.Fatal(err)
		}
		h := tp.half(ToBroker)
		var out []byte
		for _, c := range chunks {
			o, _ := h.feed(c)
			out = append(out, o...)
		}
		if !bytes.Equal(out, junk) {
			t.Fatalf("chunking %d: garbage changed in transit (%d of %d bytes passed)", i, len(out), len(junk))
		}
		if !bytes.Contains([]byte(Format(trace.Entries(), trace.Entries()[0].At, 0)), []byte("framing lost")) {
			t.Fatalf("chunking %d: the trace does not say the bytes were not MQTT", i)
		}
	}
}

func TestBrokerSideLearnsTheVersionFromConnect(t *testing.T) {
	trace := newTrace()
	tp := newTap("c", trace, nil)
	up, down := tp.half(ToBroker), tp.half(FromBroker)
	up.feed(wire.Encode(wire.Packet{Header: wire.Header{Type: wire.CONNECT}, ProtocolName: "MQTT", ProtocolLevel: wire.V5, ClientID: "x"}))
	ack := wire.Packet{Header: wire.Header{Type: wire.CONNACK}, Version: wire.V5, ReasonCode: 0x87,
		Properties: []wire.Property{{ID: 0x1F, Value: "go away"}}}
	down.feed(wire.Encode(ack))
	got := trace.Packets(FromBroker)
	if len(got) != 1 || got[0].ReasonCode != 0x87 || len(got[0].Properties) != 1 || got[0].Malformed != "" {
		t.Fatalf("the v5 CONNACK was decoded as %v", got)
	}
}
