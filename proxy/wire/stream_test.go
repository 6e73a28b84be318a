package wire

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// session311 returns a client's 3.1.1 byte stream with every kind of packet,
// including one malformed packet that keeps the framing.
func session311() []byte {
	big := bytes.Repeat([]byte("0123456789"), 20)
	return cat(
		Encode(Packet{Header: Header{Type: CONNECT}, ProtocolLevel: V311, ClientID: "c1", CleanStart: true, KeepAlive: 30,
			Will: &Will{Topic: "will/t", QoS: 1, Payload: []byte("bye"), PayloadSize: 3}, Username: "u", Password: []byte("p")}),
		Encode(Packet{Header: Header{Type: SUBSCRIBE}, PacketID: 1, Subscriptions: []Subscription{{Filter: "a/#", QoS: 1}, {Filter: "b/+", QoS: 2}}}),
		Encode(Packet{Header: Header{Type: PUBLISH}, Topic: "a/1", Payload: []byte("hello"), PayloadSize: 5}),
		Encode(Packet{Header: Header{Type: PUBLISH}, QoS: 1, PacketID: 2, Topic: "a/2", Payload: big, PayloadSize: len(big)}),
		Encode(Packet{Header: Header{Type: PUBACK}, PacketID: 5}),
		Raw(0x36, str("bad/qos"), []byte{0, 3}, []byte("x")),
		Encode(Packet{Header: Header{Type: PUBREC}, PacketID: 6}),
		Encode(Packet{Header: Header{Type: PUBREL}, PacketID: 6}),
		Encode(Packet{Header: Header{Type: PUBCOMP}, PacketID: 6}),
		Encode(Packet{Header: Header{Type: UNSUBSCRIBE}, PacketID: 7, Subscriptions: []Subscription{{Filter: "a/#"}}}),
		Encode(Packet{Header: Header{Type: PINGREQ}}),
		Encode(Packet{Header: Header{Type: PUBLISH}, QoS: 2, PacketID: 8, Topic: "empty"}),
		Encode(Packet{Header: Header{Type: DISCONNECT}}),
	)
}

// session5 returns a client's 5.0 byte stream; the stream learns the
// version from its CONNECT.
func session5() []byte {
	return cat(
		Encode(Packet{Header: Header{Type: CONNECT}, ProtocolLevel: V5, ClientID: "c5", KeepAlive: 10,
			Properties: []Property{{PropSessionExpiryInterval, uint32(60)}, {PropReceiveMaximum, uint16(5)}}}),
		Encode(Packet{Header: Header{Type: AUTH}, Version: V5, ReasonCode: 0x18, Properties: []Property{{PropAuthenticationMethod, "m"}}}),
		Encode(Packet{Header: Header{Type: SUBSCRIBE}, Version: V5, PacketID: 1, Subscriptions: []Subscription{{Filter: "x", Options: 0x2E}}}),
		Encode(Packet{Header: Header{Type: PUBLISH}, Version: V5, QoS: 1, PacketID: 2, Topic: "x", Payload: bytes.Repeat([]byte{0xAB}, 300), PayloadSize: 300,
			Properties: []Property{{PropTopicAlias, uint16(1)}, {PropUserProperty, [2]string{"k", "v"}}}}),
		Encode(Packet{Header: Header{Type: PUBLISH}, Version: V5, Topic: "", Payload: []byte("aliased"), PayloadSize: 7,
			Properties: []Property{{PropTopicAlias, uint16(1)}}}),
		Encode(Packet{Header: Header{Type: PUBACK}, Version: V5, PacketID: 3, ReasonCode: 0x10}),
		Encode(Packet{Header: Header{Type: DISCONNECT}, Version: V5, ReasonCode: 0x04}),
	)
}

// feed runs data through a new stream in chunks of the given sizes (the
// last size repeats) and returns the frames, Lost frames merged.
func feed(s *Stream, data []byte, sizes ...int) []Frame {
	var frames []Frame
	for i := 0; len(data) > 0; i++ {
		n := min(sizes[min(i, len(sizes)-1)], len(data))
		s.Feed(data[:n], func(f Frame) { frames = append(frames, f) })
		data = data[n:]
	}
	return mergeLost(frames)
}

// mergeLost joins consecutive Lost frames, which depend on the chunking.
func mergeLost(frames []Frame) []Frame {
	var out []Frame
	for _, f := range frames {
		if n := len(out); n > 0 && f.Lost && out[n-1].Lost {
			out[n-1].Remaining += f.Remaining
			continue
		}
		out = append(out, f)
	}
	return out
}

// randomSizes returns chunk sizes from 1 to max that cover n bytes.
func randomSizes(r *rand.Rand, n, max int) []int {
	var sizes []int
	for total := 0; total < n; {
		k := 1 + r.IntN(max)
		sizes = append(sizes, k)
		total += k
	}
	return sizes
}

// checkChunkings feeds data whole, a byte at a time and in random chunks and
// requires identical frames; it returns the frames.
func checkChunkings(t *testing.T, data []byte, init Stream) []Frame {
	t.Helper()
	s := init
	whole := feed(&s, data, len(data)+1)
	s = init
	if bytewise := feed(&s, data, 1); !reflect.DeepEqual(whole, bytewise) {
		t.Fatalf("one byte at a time differs:\n%s\nwant\n%s", dump(bytewise), dump(whole))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		s = init
		sizes := randomSizes(r, len(data), 1+r.IntN(600))
		if got := feed(&s, data, sizes...); !reflect.DeepEqual(whole, got) {
			t.Fatalf("chunks %v differ:\n%s\nwant\n%s", sizes, dump(got), dump(whole))
		}
	}
	checkTiling(t, whole, int64(len(data)), &s)
	return whole
}

// checkTiling requires frames to cover the stream without gaps: each starts
// where the previous one ended, and only the pending packet is left.
func checkTiling(t *testing.T, frames []Frame, total int64, s *Stream) {
	t.Helper()
	var off int64
	for _, f := range frames {
		if f.Offset != off {
			t.Fatalf("frame %v at %d, want %d", f, f.Offset, off)
		}
		off += int64(f.Size())
	}
	_, seen, _ := s.Pending()
	if off+int64(seen) != total || s.Offset() != total {
		t.Fatalf("frames end at %d + pending %d, stream offset %d, total %d", off, seen, s.Offset(), total)
	}
}

func dump(frames []Frame) string {
	var b strings.Builder
	for _, f := range frames {
		fmt.Fprintf(&b, "  @%d %v\n", f.Offset, f)
	}
	return b.String()
}

func TestStreamChunkings(t *testing.T) {
	frames := checkChunkings(t, session311(), Stream{})
	var types []string
	for _, f := range frames {
		types = append(types, f.Type.String())
	}
	want := "CONNECT SUBSCRIBE PUBLISH PUBLISH PUBACK PUBLISH PUBREC PUBREL PUBCOMP UNSUBSCRIBE PINGREQ PUBLISH DISCONNECT"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("types %s\nwant  %s", got, want)
	}
	big := frames[3]
	if big.PayloadSize != 200 || len(big.Payload) != DefaultPayloadPreview || big.Topic != "a/2" || big.PacketID != 2 {
		t.Errorf("big PUBLISH: %v", big)
	}
	if !strings.Contains(frames[5].Malformed, "QoS 3") || frames[5].Topic != "bad/qos" {
		t.Errorf("malformed PUBLISH: %v", frames[5])
	}
	if c := frames[0]; c.ClientID != "c1" || c.Will == nil || string(c.Will.Payload) != "bye" || !c.HasPassword {
		t.Errorf("CONNECT: %v", c)
	}
	for i, f := range frames {
		if i != 5 && f.Malformed != "" {
			t.Errorf("frame %d malformed: %v", i, f)
		}
	}
}

func TestStreamLearnsVersion(t *testing.T) {
	var s Stream
	frames := checkChunkings(t, session5(), s)
	for _, f := range frames {
		if f.Malformed != "" || f.Version != V5 {
			t.Errorf("frame %v: version %d", f, f.Version)
		}
	}
	if p := frames[3]; len(p.Properties) != 2 || p.PayloadSize != 300 || len(p.Payload) != 64 {
		t.Errorf("v5 PUBLISH: %v", p)
	}
	feed(&s, session5(), 7)
	if s.Version != V5 {
		t.Errorf("Version = %d after a v5 CONNECT", s.Version)
	}
	// The broker's direction is told the version by the caller.
	broker := Stream{Version: V5}
	ack := Encode(Packet{Header: Header{Type: CONNACK}, Version: V5, Properties: []Property{{PropMaximumQoS, byte(1)}}})
	if f := feed(&broker, ack, 1); len(f) != 1 || f[0].Malformed != "" || len(f[0].Properties) != 1 {
		t.Errorf("v5 CONNACK: %v", f)
	}
}

func TestStreamSeveralPacketsInOneChunk(t *testing.T) {
	var s Stream
	ping := []byte{0xC0, 0}
	var got []Frame
	s.Feed(cat(ping, ping, ping, ping[:1]), func(f Frame) { got = append(got, f) })
	if len(got) != 3 || got[2].Offset != 4 {
		t.Fatalf("frames %v", got)
	}
	if h, seen, in := s.Pending(); !in || seen != 1 || h.Type != PINGREQ || h.Len != 0 {
		t.Errorf("Pending = %+v %d %v", h, seen, in)
	}
	s.Feed(ping[1:], func(f Frame) { got = append(got, f) })
	if len(got) != 4 || got[3].Offset != 6 || s.Offset() != 8 {
		t.Errorf("frames %v offset %d", got, s.Offset())
	}
	if _, _, in := s.Pending(); in {
		t.Error("Pending after a whole packet")
	}
}

func TestStreamLostFraming(t *testing.T) {
	var s Stream
	var got []Frame
	collect := func(f Frame) { got = append(got, f) }
	s.Feed([]byte{0xC0, 0, 0x30, 0xff, 0xff}, collect)
	s.Feed([]byte{0xff, 0xff, 1, 2, 3}, collect)
	s.Feed([]byte{0xC0, 0}, collect)
	want := []Frame{
		{Packet: Packet{Header: Header{Type: PINGREQ, Len: 2}, Version: V311}},
		{Offset: 2, Lost: true, Packet: Packet{Header: Header{Remaining: 8}}},
		{Offset: 10, Lost: true, Packet: Packet{Header: Header{Remaining: 2}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", dump(got), dump(want))
	}
	if !s.Lost() || s.Offset() != 12 {
		t.Errorf("Lost %v Offset %d", s.Lost(), s.Offset())
	}
	checkChunkings(t, []byte{0xC0, 0, 0x30, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 0xC0, 0}, Stream{})
}

func TestStreamTruncated(t *testing.T) {
	data := session311()
	var s Stream
	frames := feed(&s, data[:len(data)-1], 3)
	if len(frames) != 12 {
		t.Fatalf("%d frames", len(frames))
	}
	if h, seen, in := s.Pending(); !in || h.Type != DISCONNECT || seen != 1 {
		t.Errorf("Pending = %+v %d %v", h, seen, in)
	}
}

func TestStreamTooLarge(t *testing.T) {
	subs := make([]Subscription, 300)
	for i := range subs {
		subs[i] = Subscription{Filter: "some/long/topic/filter", QoS: 1}
	}
	sub := Encode(Packet{Header: Header{Type: SUBSCRIBE}, PacketID: 9, Subscriptions: subs})
	pubProps := Encode(Packet{Header: Header{Type: PUBLISH}, Version: V5, Topic: strings.Repeat("t", 3000), PayloadSize: 10})
	data := cat(sub, pubProps, []byte{0xC0, 0})
	frames := checkChunkings(t, data, Stream{MaxHeld: 1024, Version: V5})
	if len(frames) != 3 || frames[0].Malformed != "too large to decode" || frames[0].PacketID != 9 || frames[0].Size() != len(sub) {
		t.Errorf("SUBSCRIBE: %v", frames[0])
	}
	if frames[1].Malformed != "too large to decode" || frames[1].PayloadSize != 0 || frames[2].Type != PINGREQ {
		t.Errorf("PUBLISH: %v / %v", frames[1], frames[2])
	}
}

func TestStreamBoundedMemory(t *testing.T) {
	const size = 20 << 20
	topic := "big/payload"
	head := cat([]byte{0x32}, AppendVarInt(nil, 2+len(topic)+2+size), str(topic), []byte{0, 42})
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	var frames []Frame
	collect := func(f Frame) { frames = append(frames, f) }
	var s Stream
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s.Feed(head, collect)
	for left := size; left > 0; left -= len(chunk) {
		s.Feed(chunk[:min(left, len(chunk))], collect)
		if h, seen, in := s.Pending(); left > len(chunk) && (!in || h.Remaining != size+15 || seen != len(head)+size-left+len(chunk)) {
			t.Fatalf("Pending = %+v %d %v", h, seen, in)
		}
	}
	s.Feed([]byte{0xD0, 0}, collect)
	runtime.ReadMemStats(&after)
	if len(frames) != 2 {
		t.Fatalf("%d frames", len(frames))
	}
	p := frames[0]
	if p.PayloadSize != size || len(p.Payload) != DefaultPayloadPreview || p.Topic != topic || p.PacketID != 42 || !bytes.Equal(p.Payload, chunk[:64]) {
		t.Errorf("PUBLISH %v", p)
	}
	if frames[1].Type != PINGRESP || frames[1].Offset != int64(len(head)+size) {
		t.Errorf("after: %v at %d", frames[1], frames[1].Offset)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("feeding 20 MiB allocated %d bytes", grew)
	}
	if cap(s.buf) > 1024 {
		t.Errorf("stream holds a %d byte buffer", cap(s.buf))
	}
}

func TestStreamPreviewSettings(t *testing.T) {
	pub := Encode(Packet{Header: Header{Type: PUBLISH}, Topic: "t", Payload: []byte("0123456789"), PayloadSize: 10})
	for _, tc := range []struct{ preview, want int }{{0, 10}, {-1, 0}, {4, 4}} {
		s := Stream{PayloadPreview: tc.preview}
		for _, sizes := range [][]int{{100}, {1}} {
			f := feed(&s, pub, sizes...)
			if len(f) != 1 || len(f[0].Payload) != tc.want || f[0].PayloadSize != 10 {
				t.Errorf("preview %d: %v", tc.preview, f)
			}
		}
	}
}

// TestStreamMatchesDecode checks each frame against Decode of its bytes.
func TestStreamMatchesDecode(t *testing.T) {
	for _, data := range [][]byte{session311(), session5()} {
		var s Stream
		for _, f := range feed(&s, data, 5) {
			want, _ := Decode(data[f.Offset:f.Offset+int64(f.Size())], f.Version)
			want.Payload = clip(want.Payload, DefaultPayloadPreview)
			if want.Will != nil {
				want.Will.Payload = clip(want.Will.Payload, DefaultPayloadPreview)
			}
			if !reflect.DeepEqual(f.Packet, want) {
				t.Errorf("frame %v\nwant  %v", f, want)
			}
		}
	}
}
