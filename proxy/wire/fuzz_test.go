package wire

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var writeCorpus = flag.Bool("write-corpus", false, "rewrite the seed corpus under testdata/fuzz")

// streamSeeds are byte streams worth fuzzing from, with the stream version.
func streamSeeds() []struct {
	data    []byte
	version byte
} {
	s311, s5 := session311(), session5()
	v31 := cat(
		Encode(Packet{Header: Header{Type: CONNECT}, ProtocolLevel: V31, ClientID: "old", KeepAlive: 5}),
		Encode(Packet{Header: Header{Type: PUBLISH}, Version: V31, QoS: 1, PacketID: 1, Topic: "t", Payload: []byte("31"), PayloadSize: 2}),
	)
	broker311 := cat(
		Encode(Packet{Header: Header{Type: CONNACK}, SessionPresent: true}),
		Encode(Packet{Header: Header{Type: SUBACK}, PacketID: 1, ReasonCodes: []byte{1, 0x80}}),
		Encode(Packet{Header: Header{Type: PUBLISH}, QoS: 2, PacketID: 9, Topic: "a/b", Payload: []byte("v"), PayloadSize: 1}),
		Encode(Packet{Header: Header{Type: UNSUBACK}, PacketID: 2}),
		Encode(Packet{Header: Header{Type: PINGRESP}}),
	)
	broker5 := cat(
		Encode(Packet{Header: Header{Type: CONNACK}, Version: V5, Properties: []Property{{PropAssignedClientIdentifier, "id"}, {PropTopicAliasMaximum, uint16(10)}}}),
		Encode(Packet{Header: Header{Type: SUBACK}, Version: V5, PacketID: 1, ReasonCodes: []byte{2, 0x97}}),
		Encode(Packet{Header: Header{Type: PUBLISH}, Version: V5, Topic: "x", Properties: []Property{{PropSubscriptionIdentifier, uint32(300)}, {PropCorrelationData, []byte{9}}}, PayloadSize: 40}),
		Encode(Packet{Header: Header{Type: PUBREL}, Version: V5, PacketID: 2, ReasonCode: 0x92}),
		Encode(Packet{Header: Header{Type: UNSUBACK}, Version: V5, PacketID: 2, ReasonCodes: []byte{0x11}}),
		Encode(Packet{Header: Header{Type: DISCONNECT}, Version: V5, ReasonCode: 0x8E, Properties: []Property{{PropReasonString, "taken"}}}),
	)
	malformed := cat(
		[]byte{0x00, 0},
		Raw(0x36, str("q3")),
		Raw(0x80, []byte{0, 1}, str("a"), []byte{0}),
		Raw(0x30, str("bad\xff")),
		Raw(0x30, str("nul\x00")),
		Raw(0x30, []byte{0, 200, 'x'}),
		Raw(0x40, []byte{0}),
		Raw(0xF0, []byte{0x18, 0}),
	)
	nonMinimal := cat([]byte{0xC0, 0x80, 0x00}, []byte{0x30, 0x83, 0x80, 0x00, 0, 1, 't'}, []byte{0xE0, 0x80, 0x80, 0x80, 0x00})
	badProps := cat(Raw(0x30, str("t"), []byte{0x80, 0x80, 0x80, 0x80, 0x01}), Raw(0x30, str("t"), []byte{3, 0x26, 0, 9}))
	return []struct {
		data    []byte
		version byte
	}{
		{s311, 0},
		{s5, 0},
		{s311[:len(s311)/2], 0},
		{s5[:len(s5)-3], 0},
		{v31, 0},
		{broker311, V311},
		{broker5, V5},
		{malformed, V311},
		{malformed, V5},
		{nonMinimal, V311},
		{badProps, V5},
		{cat([]byte{0xC0, 0}, []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f}, []byte("garbage")), 0},
		{[]byte{0x32, 0xff, 0xff, 0xff, 0x7f, 0, 1, 't', 0, 1, 1, 2, 3}, 0},
		{[]byte("GET / HTTP/1.1\r\nHost: broker\r\n\r\n"), 0},
		{nil, 0},
	}
}

// decodeSeeds are single packets worth fuzzing from.
func decodeSeeds() []struct {
	data    []byte
	version byte
} {
	var seeds []struct {
		data    []byte
		version byte
	}
	add := func(b []byte, v byte) {
		seeds = append(seeds, struct {
			data    []byte
			version byte
		}{b, v})
	}
	for _, p := range roundTrips() {
		b := Encode(p)
		add(b, p.Version)
		if len(b) > 4 && p.Type != PUBLISH {
			add(b[:len(b)-1], p.Version)
		}
	}
	add([]byte{0x30, 0xff, 0xff, 0xff, 0xff}, V311)
	add(Raw(0x36, str("a\x00"), []byte{0, 0}), V5)
	add(Raw(0x82, []byte{0, 1, 0}, str("$share/g/#"), []byte{0x3F}), V5)
	add([]byte("\x10\x10\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x02id"), 0)
	return seeds
}

func FuzzStream(f *testing.F) {
	for i, s := range streamSeeds() {
		f.Add(s.data, s.version, int64(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, version byte, seed int64) {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		init := Stream{Version: version}
		if seed&1 != 0 { // small limits to exercise "too large to decode"
			init.MaxHeld = r.IntN(100)
			init.PayloadPreview = r.IntN(40) - 5
		}
		s := init
		whole := feed(&s, data, len(data)+1)
		checkTiling(t, whole, int64(len(data)), &s)
		s = init
		if got := feed(&s, data, randomSizes(r, len(data), 1+r.IntN(64))...); !reflect.DeepEqual(whole, got) {
			t.Fatalf("random chunks differ:\n%s\nwant\n%s", dump(got), dump(whole))
		}
		if len(data) < 4096 {
			s = init
			if got := feed(&s, data, 1); !reflect.DeepEqual(whole, got) {
				t.Fatalf("bytewise differs:\n%s\nwant\n%s", dump(got), dump(whole))
			}
		}
		for _, fr := range whole {
			checkFrame(t, fr, data, s.preview(), s.maxHeld())
		}
	})
}

// checkFrame checks a frame against Decode of its bytes.
func checkFrame(t *testing.T, f Frame, data []byte, preview, maxHeld int) {
	if strings.Contains(f.String(), "\n") {
		t.Fatalf("multi-line String: %q", f.String())
	}
	if f.Lost || f.Size() > maxHeld {
		return
	}
	if len(f.Payload) > preview || f.Will != nil && len(f.Will.Payload) > preview {
		t.Fatalf("frame keeps more than the preview: %v", f)
	}
	want, _ := Decode(data[f.Offset:f.Offset+int64(f.Size())], f.Version)
	want.Payload = clip(want.Payload, preview)
	if want.Will != nil {
		want.Will.Payload = clip(want.Will.Payload, preview)
	}
	if !reflect.DeepEqual(f.Packet, want) {
		t.Fatalf("frame differs from Decode:\n got %#v\nwant %#v", f.Packet, want)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds() {
		f.Add(s.data, s.version)
	}
	f.Fuzz(func(t *testing.T, data []byte, version byte) {
		p, err := Decode(data, version)
		if len(p.Payload) > len(data) || p.Will != nil && len(p.Will.Payload) > len(data) {
			t.Fatalf("payload longer than the input")
		}
		if s := p.String(); strings.Contains(s, "\n") {
			t.Fatalf("multi-line String: %q", s)
		}
		h, ok, _ := ParseHeader(data)
		if ok && IdentityLen(h, data) > h.Size() {
			t.Fatalf("IdentityLen %d > Size %d", IdentityLen(h, data), h.Size())
		}
		if err != nil || p.Malformed != "" || len(data) < p.Size() {
			return
		}
		// A well-formed packet survives Encode and Decode.
		again, err := Decode(Encode(p), version)
		p.Header, again.Header = Header{}, Header{}
		if err != nil || !reflect.DeepEqual(p, again) {
			t.Fatalf("re-encoded packet differs (err %v):\n got %#v\nwant %#v", err, again, p)
		}
	})
}

// TestWriteCorpus rewrites testdata/fuzz from the seeds above when run with
// -write-corpus.
func TestWriteCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("run with -write-corpus to rewrite the seed corpus")
	}
	for i, s := range streamSeeds() {
		writeSeed(t, "FuzzStream", i, fmt.Sprintf("[]byte(%q)\nbyte(%q)\nint64(%d)\n", s.data, s.version, i))
	}
	for i, s := range decodeSeeds() {
		writeSeed(t, "FuzzDecode", i, fmt.Sprintf("[]byte(%q)\nbyte(%q)\n", s.data, s.version))
	}
}

func writeSeed(t *testing.T, fuzz string, i int, values string) {
	dir := filepath.Join("testdata", "fuzz", fuzz)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "seed-"+strconv.Itoa(i))
	if err := os.WriteFile(name, []byte("go test fuzz v1\n"+values), 0o644); err != nil {
		t.Fatal(err)
	}
}

// benchStream returns a realistic client stream: mostly small QoS 1
// PUBLISH and PUBACK packets, with a 4 KiB payload every 16 messages.
func benchStream(v byte) []byte {
	var b bytes.Buffer
	small := []byte(`{"t":21.5,"h":40}`)
	large := bytes.Repeat([]byte("x"), 4096)
	var props []Property
	if v == V5 {
		props = []Property{{PropMessageExpiryInterval, uint32(60)}}
	}
	for i := 1; b.Len() < 1<<20; i++ {
		payload := small
		if i%16 == 0 {
			payload = large
		}
		topic := "sensors/" + strconv.Itoa(i%100) + "/temperature"
		b.Write(Encode(Packet{Header: Header{Type: PUBLISH}, Version: v, QoS: 1, PacketID: uint16(i), Topic: topic, Payload: payload, PayloadSize: len(payload), Properties: props}))
		b.Write(Encode(Packet{Header: Header{Type: PUBACK}, Version: v, PacketID: uint16(i)}))
	}
	return b.Bytes()
}

func BenchmarkStream(b *testing.B) {
	for _, v := range []byte{V311, V5} {
		b.Run("v"+strconv.Itoa(int(v)), func(b *testing.B) {
			data := benchStream(v)
			packets := 0
			count := func(Frame) { packets++ }
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				s := Stream{Version: v}
				for rest := data; len(rest) > 0; {
					n := min(len(rest), 32<<10) // a typical TCP read
					s.Feed(rest[:n], count)
					rest = rest[n:]
				}
			}
			b.ReportMetric(float64(packets)/float64(b.N), "packets/op")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	pkt := Encode(Packet{Header: Header{Type: PUBLISH}, QoS: 1, PacketID: 1, Topic: "sensors/1/temperature", Payload: []byte("21.5"), PayloadSize: 4})
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		Decode(pkt, V311)
	}
}
