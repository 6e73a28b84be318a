package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func str(s string) []byte { return AppendString(nil, s) }

func connectBody(level byte, flags byte, rest ...[]byte) []byte {
	name := "MQTT"
	if level == V31 {
		name = "MQIsdp"
	}
	return cat(append(str(name), level, flags, 0, 60), cat(rest...))
}

func TestDecodeMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		v    byte
		want string // substring of Malformed
	}{
		{"reserved type", []byte{0x00, 0}, V311, "reserved packet type"},
		{"AUTH in 3.1.1", []byte{0xF0, 0}, V311, "AUTH is reserved"},
		{"PUBLISH QoS 3", Raw(0x36, str("a"), []byte{0, 1}), V311, "QoS 3"},
		{"PUBLISH DUP QoS 0", Raw(0x38, str("a")), V311, "DUP"},
		{"PUBLISH invalid UTF-8", Raw(0x30, str("a\xffb")), V311, "not valid UTF-8"},
		{"PUBLISH U+0000", Raw(0x30, str("a\x00b")), V311, "U+0000"},
		{"PUBLISH surrogate", Raw(0x30, str("a\xed\xa0\x80")), V311, "not valid UTF-8"},
		{"PUBLISH wildcard", Raw(0x30, str("a/+")), V311, "wildcard in topic name"},
		{"PUBLISH empty topic", Raw(0x30, str("")), V311, "empty topic name"},
		{"PUBLISH empty topic v5", Raw(0x30, str(""), []byte{0}), V5, "empty topic name"},
		{"PUBLISH id 0", Raw(0x32, str("a"), []byte{0, 0}), V311, "packet identifier 0"},
		{"PUBLISH topic past RL", Raw(0x30, []byte{0, 9, 'a'}), V311, "topic name runs past remaining length"},
		{"PUBLISH RL 1", Raw(0x30, []byte{0}), V311, "runs past remaining length"},
		{"PUBLISH props past RL", Raw(0x30, str("a"), []byte{9, 1}), V5, "properties runs past"},
		{"PUBLISH unknown prop", Raw(0x30, str("a"), []byte{2, 0x7f, 0}), V5, "unknown property identifier 0x7F"},
		{"PUBLISH prop not allowed", Raw(0x30, str("a"), []byte{5, 0x11, 0, 0, 0, 1}), V5, "SessionExpiryInterval not allowed in PUBLISH"},
		{"PUBLISH prop repeated", Raw(0x30, str("a"), []byte{4, 0x01, 0, 0x01, 1}), V5, "PayloadFormatIndicator repeated"},
		{"PUBLISH prop value", Raw(0x30, str("a"), []byte{2, 0x01, 2}), V5, "PayloadFormatIndicator value 2"},
		{"PUBLISH topic alias 0", Raw(0x30, str("a"), []byte{3, 0x23, 0, 0}), V5, "TopicAlias value 0"},
		{"PUBLISH prop overruns", Raw(0x30, str("a"), []byte{2, 0x02, 0}), V5, "MessageExpiryInterval runs past property length"},
		{"PUBLISH prop length 5 bytes", Raw(0x30, str("a"), []byte{0x80, 0x80, 0x80, 0x80, 0x01}), V5, "property length longer than 4 bytes"},
		{"SUBSCRIBE flags", Raw(0x80, []byte{0, 1}, str("a"), []byte{0}), V311, "SUBSCRIBE flags 0x0, want 0x2"},
		{"SUBSCRIBE no filters", Raw(0x82, []byte{0, 1}), V311, "no topic filters"},
		{"SUBSCRIBE QoS 3", Raw(0x82, []byte{0, 1}, str("a"), []byte{3}), V311, "requested QoS 3"},
		{"SUBSCRIBE reserved bits 3.1.1", Raw(0x82, []byte{0, 1}, str("a"), []byte{0x04}), V311, "reserved subscription option bits"},
		{"SUBSCRIBE reserved bits 5", Raw(0x82, []byte{0, 1, 0}, str("a"), []byte{0x40}), V5, "reserved subscription option bits"},
		{"SUBSCRIBE retain handling 3", Raw(0x82, []byte{0, 1, 0}, str("a"), []byte{0x30}), V5, "retain handling 3"},
		{"SUBSCRIBE no local shared", Raw(0x82, []byte{0, 1, 0}, str("$share/g/a"), []byte{0x04}), V5, "no local"},
		{"SUBSCRIBE bad share", Raw(0x82, []byte{0, 1, 0}, str("$share/g"), []byte{0}), V5, "invalid shared subscription"},
		{"SUBSCRIBE bad filter #", Raw(0x82, []byte{0, 1}, str("a/#/b"), []byte{0}), V311, "'#' not last"},
		{"SUBSCRIBE bad filter +", Raw(0x82, []byte{0, 1}, str("a/b+"), []byte{0}), V311, "wildcard inside a level"},
		{"SUBSCRIBE empty filter", Raw(0x82, []byte{0, 1}, str(""), []byte{0}), V311, "empty topic filter"},
		{"SUBSCRIBE id 0", Raw(0x82, []byte{0, 0}, str("a"), []byte{0}), V311, "packet identifier 0"},
		{"SUBSCRIBE truncated option", Raw(0x82, []byte{0, 1}, str("a")), V311, "subscription options runs past"},
		{"SUBSCRIBE v5 sub id twice", Raw(0x82, []byte{0, 1, 4, 0x0B, 1, 0x0B, 2}, str("a"), []byte{0}), V5, "SubscriptionIdentifier repeated"},
		{"UNSUBSCRIBE flags", Raw(0xA0, []byte{0, 1}, str("a")), V311, "UNSUBSCRIBE flags"},
		{"UNSUBSCRIBE empty", Raw(0xA2, []byte{0, 1}), V311, "no topic filters"},
		{"PUBREL flags", Raw(0x60, []byte{0, 1}), V311, "PUBREL flags 0x0, want 0x2"},
		{"PUBACK flags", Raw(0x41, []byte{0, 1}), V311, "PUBACK flags 0x1, want 0x0"},
		{"PUBACK RL 3 in 3.1.1", Raw(0x40, []byte{0, 1, 0}), V311, "leaves 1 bytes"},
		{"PUBACK RL 1", Raw(0x40, []byte{0}), V311, "packet identifier runs past"},
		{"PUBACK bad reason", Raw(0x40, []byte{0, 1, 0x92}), V5, "reason code 0x92 not allowed"},
		{"PINGREQ body", Raw(0xC0, []byte{0}), V311, "leaves 1 bytes"},
		{"PINGRESP flags", Raw(0xD1), V311, "PINGRESP flags"},
		{"DISCONNECT body 3.1.1", Raw(0xE0, []byte{0}), V311, "leaves 1 bytes"},
		{"DISCONNECT bad reason", Raw(0xE0, []byte{0x05}), V5, "reason code 0x05"},
		{"CONNACK 3.1.1 RL 3", Raw(0x20, []byte{0, 0, 0}), V311, "leaves 1 bytes"},
		{"CONNACK flags", Raw(0x20, []byte{2, 0}), V311, "reserved acknowledge flags"},
		{"CONNACK sp with error", Raw(0x20, []byte{1, 5}), V311, "session present with return code"},
		{"CONNACK return code 6", Raw(0x20, []byte{0, 6}), V311, "return code 0x06 not allowed"},
		{"CONNACK v5 no props", Raw(0x20, []byte{0, 0}), V5, "property length runs past"},
		{"SUBACK bad code", Raw(0x90, []byte{0, 1, 0x03}), V311, "return code 0x03"},
		{"SUBACK no codes", Raw(0x90, []byte{0, 1}), V311, "no reason codes"},
		{"UNSUBACK 3.1.1 with codes", Raw(0xB0, []byte{0, 1, 0}), V311, "leaves 1 bytes"},
		{"CONNECT reserved flag", Raw(0x10, connectBody(V311, 0x01, str("c"))), V311, "reserved connect flag"},
		{"CONNECT will QoS without will", Raw(0x10, connectBody(V311, 0x08, str("c"))), V311, "without will flag"},
		{"CONNECT will retain without will", Raw(0x10, connectBody(V311, 0x20, str("c"))), V311, "without will flag"},
		{"CONNECT will QoS 3", Raw(0x10, connectBody(V311, 0x1C, str("c"), str("w"), str("p"))), V311, "will QoS 3"},
		{"CONNECT password only 3.1.1", Raw(0x10, connectBody(V311, 0x40, str("c"), str("p"))), V311, "password flag without user name"},
		{"CONNECT bad name", Raw(0x10, cat(str("MQTX"), []byte{4, 2, 0, 0}, str("c"))), V311, `protocol name "MQTX"`},
		{"CONNECT MQIsdp level 4", Raw(0x10, cat(str("MQIsdp"), []byte{4, 2, 0, 0}, str("c"))), V311, `protocol name "MQIsdp"`},
		{"CONNECT level 6", Raw(0x10, connectBody(6, 2, str("c"))), V311, "unsupported protocol level 6"},
		{"CONNECT trailing", Raw(0x10, connectBody(V311, 2, str("c"), []byte{1})), V311, "leaves 1 bytes"},
		{"CONNECT missing user", Raw(0x10, connectBody(V311, 0x82, str("c"))), V311, "user name runs past"},
		{"CONNECT will wildcard", Raw(0x10, connectBody(V311, 0x06, str("c"), str("a/#"), str("p"))), V311, "wildcard in topic name"},
		{"CONNECT v5 will prop", Raw(0x10, connectBody(V5, 0x06, []byte{0}, str("c"), []byte{2, 0x17, 1}, str("w"), str("p"))), V5, "RequestProblemInformation not allowed in will"},
		{"CONNECT client id invalid", Raw(0x10, connectBody(V311, 0x02, str("\xc0\x80"))), V311, "client identifier is not valid UTF-8"},
		{"remaining length 5 bytes", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, V311, "remaining length longer than 4 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := Decode(tc.b, tc.v)
			if !strings.Contains(p.Malformed, tc.want) {
				t.Errorf("Decode(% x).Malformed = %q, want %q", tc.b, p.Malformed, tc.want)
			}
			if s := p.String(); !strings.Contains(s, " MALFORMED: ") || strings.Contains(s, "\n") {
				t.Errorf("String() = %q", s)
			}
		})
	}
}

func TestDecodeKeepsFieldsBeforeError(t *testing.T) {
	p, err := Decode(Raw(0x32, str("a/b"), []byte{0, 0}, []byte("x")), V311)
	if err != nil || p.Topic != "a/b" || p.QoS != 1 || p.PayloadSize != 1 || p.Malformed == "" {
		t.Errorf("got %v, err %v", p, err)
	}
	p, _ = Decode(Raw(0x10, connectBody(V311, 0x82, str("cid"))), V311)
	if p.ClientID != "cid" || !p.HasUsername || p.KeepAlive != 60 {
		t.Errorf("got %v", p)
	}
}

func TestDecodeErrors(t *testing.T) {
	if _, err := Decode([]byte{0x30, 0xff, 0xff, 0xff, 0xff}, V311); err != ErrLength {
		t.Errorf("5-byte RL: err %v", err)
	}
	for _, b := range [][]byte{nil, {0x30}, {0x30, 0x80}} {
		if _, err := Decode(b, V311); err != ErrIncomplete {
			t.Errorf("Decode(% x) err %v, want ErrIncomplete", b, err)
		}
	}
}

func TestDecodePrefixes(t *testing.T) {
	for _, want := range roundTrips() {
		b := Encode(want)
		full, _ := Decode(b, want.Version)
		for n := 0; n < len(b); n++ {
			p, err := Decode(b[:n], want.Version)
			if p.Malformed != "" {
				t.Errorf("%v: prefix %d malformed: %s", want, n, p.Malformed)
			}
			if len(p.Payload) > n {
				t.Fatalf("%v: prefix %d gave %d payload bytes", want, n, len(p.Payload))
			}
			// Only missing PUBLISH payload is not an error.
			payloadOnly := want.Type == PUBLISH && n >= full.Size()-full.PayloadSize
			if payloadOnly != (err == nil) {
				t.Errorf("%v: prefix %d/%d err %v", want, n, len(b), err)
			}
			if payloadOnly && (p.PayloadSize != full.PayloadSize || p.Topic != full.Topic) {
				t.Errorf("%v: prefix %d got %v", want, n, p)
			}
		}
		// Trailing bytes are ignored.
		if p, err := Decode(append(b, 0xff, 0x00), want.Version); err != nil || p.Size() != len(b) || p.Malformed != "" {
			t.Errorf("%v: with trailing bytes: %v %v", want, p, err)
		}
	}
}

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		b        []byte
		h        Header
		ok, fail bool
	}{
		{nil, Header{}, false, false},
		{[]byte{0x30}, Header{Type: PUBLISH}, false, false},
		{[]byte{0xC0, 0}, Header{Type: PINGREQ, Len: 2}, true, false},
		{[]byte{0x82, 0x80}, Header{Type: SUBSCRIBE, Flags: 2}, false, false},
		{[]byte{0x30, 0x80, 0x01}, Header{Type: PUBLISH, Remaining: 128, Len: 3}, true, false},
		{[]byte{0x30, 0x80, 0x00}, Header{Type: PUBLISH, Remaining: 0, Len: 3}, true, false},             // non-minimal
		{[]byte{0x30, 0x80, 0x80, 0x80, 0x00}, Header{Type: PUBLISH, Remaining: 0, Len: 5}, true, false}, // non-minimal
		{[]byte{0x3B, 0xff, 0xff, 0xff, 0x7f}, Header{Type: PUBLISH, Flags: 0xB, Remaining: MaxRemaining, Len: 5}, true, false},
		{[]byte{0x30, 0xff, 0xff, 0xff, 0xff}, Header{Type: PUBLISH}, false, true},
	} {
		h, ok, err := ParseHeader(tc.b)
		if h != tc.h || ok != tc.ok || (err != nil) != tc.fail {
			t.Errorf("ParseHeader(% x) = %+v, %v, %v", tc.b, h, ok, err)
		}
	}
}

func TestIdentityLen(t *testing.T) {
	pub := Encode(Packet{Header: Header{Type: PUBLISH}, QoS: 1, PacketID: 3, Topic: "abc", PayloadSize: 100})
	pub0 := Encode(Packet{Header: Header{Type: PUBLISH}, Topic: "abc", PayloadSize: 100})
	conn := Encode(Packet{Header: Header{Type: CONNECT}, ClientID: "x"})
	h, _, _ := ParseHeader(pub)
	h0, _, _ := ParseHeader(pub0)
	hc, _, _ := ParseHeader(conn)
	for _, tc := range []struct {
		h      Header
		prefix []byte
		want   int
	}{
		{h, pub[:2], 4},
		{h, pub[:3], 4},
		{h, pub[:4], 9},
		{h, pub, 9},
		{h0, pub0[:4], 7},
		{hc, conn[:2], len(conn)},
		{Header{Type: PUBACK, Remaining: 2, Len: 2}, []byte{0x40, 2}, 4},
		{Header{Type: PUBACK, Remaining: 1, Len: 2}, []byte{0x40, 1}, 3},
		{Header{Type: SUBACK, Remaining: 3, Len: 2}, nil, 4},
		{Header{Type: PUBLISH, Remaining: 3, Len: 2}, []byte{0x30, 3, 0xff, 0xff}, 5}, // capped at Size
		{Header{Type: PUBLISH, Remaining: 3, Len: -9}, nil, 0},
	} {
		if got := IdentityLen(tc.h, tc.prefix); got != tc.want {
			t.Errorf("IdentityLen(%+v, % x) = %d, want %d", tc.h, tc.prefix, got, tc.want)
		}
	}
}

func TestTypeNames(t *testing.T) {
	for ty := Reserved; ty <= AUTH; ty++ {
		got, ok := ParseType(strings.ToLower(ty.String()))
		if !ok || got != ty {
			t.Errorf("ParseType(%q) = %v, %v", ty.String(), got, ok)
		}
	}
	if Reserved.String() != "Reserved(0)" || PUBLISH.String() != "PUBLISH" || Type(16).String() != "Reserved(16)" {
		t.Errorf("names: %v %v %v", Reserved, PUBLISH, Type(16))
	}
	if _, ok := ParseType("PUBLISHX"); ok {
		t.Error("ParseType accepted PUBLISHX")
	}
}

func TestReadPacket(t *testing.T) {
	pub := Encode(Packet{Header: Header{Type: PUBLISH}, Topic: "a", PayloadSize: 300})
	ping := []byte{0xC0, 0}
	r := bytes.NewReader(cat(pub, ping))
	if got, err := ReadPacket(r, 1000); err != nil || !bytes.Equal(got, pub) {
		t.Fatalf("first: % x %v", got, err)
	}
	if got, err := ReadPacket(r, 1000); err != nil || !bytes.Equal(got, ping) {
		t.Fatalf("second: % x %v", got, err)
	}
	if _, err := ReadPacket(r, 1000); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}
	if _, err := ReadPacket(bytes.NewReader(pub[:10]), 1000); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated body: %v", err)
	}
	if _, err := ReadPacket(bytes.NewReader(pub[:2]), 1000); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated header: %v", err)
	}
	if _, err := ReadPacket(bytes.NewReader([]byte{0x30, 0xff, 0xff, 0xff, 0xff}), 0); err != ErrLength {
		t.Errorf("bad length: %v", err)
	}
	// A huge announced size fails before any body byte is read.
	huge := &countingReader{r: bytes.NewReader([]byte{0x30, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3})}
	if _, err := ReadPacket(huge, 1<<20); !errors.Is(err, ErrTooLarge) || huge.n != 5 {
		t.Errorf("huge: %v after %d bytes", err, huge.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
