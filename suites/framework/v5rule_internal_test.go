package framework

import (
	"strings"
	"testing"

	"github.com/faultline-mqtt/faultline/proxy/wire"
)

func TestV5WireRule(t *testing.T) {
	enc := func(p wire.Packet) []byte {
		p.Version = wire.V5
		return wire.Encode(p)
	}
	u16 := func(n int) []byte { return []byte{byte(n >> 8), byte(n)} }
	str := func(s string) []byte { return wire.AppendString(nil, s) }
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	props := wire.Props(wire.Property{ID: wire.PropResponseTopic, Value: "reply/to"}, wire.Property{ID: wire.PropContentType, Value: "text/plain"},
		UserProp("k\ufeff", "v"), wire.Property{ID: wire.PropSubscriptionIdentifier, Value: uint32(200)})
	publish := enc(wire.Publish("a/\ufeff/b", 1, 7, "hello", props))

	// a PUBLISH with these properties, its Property Length and the first
	// byte of its Subscription Identifier as given
	publishWith := func(propLen []byte, ps ...[]byte) []byte {
		return wire.Raw(0x30, str("t"), propLen, cat(ps...), []byte("x"))
	}
	userProp := func(k, v string) []byte { return cat([]byte{wire.PropUserProperty}, str(k), str(v)) }
	strProp := func(id byte, s string) []byte { return cat([]byte{id}, str(s)) }

	cases := []struct {
		name string
		b    []byte
		want string // a statement the problems must name; "" for none
	}{
		{"a PUBLISH with properties", publish, ""},
		{"a bare QoS 0 PUBLISH", enc(wire.Publish("t", 0, 0, "x")), ""},
		{"a SUBACK", enc(wire.Packet{Header: wire.Header{Type: wire.SUBACK}, PacketID: 3, ReasonCodes: []byte{0, 1, 0x8F}}), ""},
		{"a short PUBACK", wire.Raw(0x40, u16(5)), ""},
		{"a PUBACK with a reason code only", wire.Raw(0x40, u16(5), []byte{0x10}), ""},
		{"a PUBREL", enc(wire.PubRel(5)), ""},
		{"a PINGRESP", []byte{0xD0, 0}, ""},
		{"a bare DISCONNECT", []byte{0xE0, 0}, ""},
		{"an AUTH continuing", enc(wire.Auth(0x18)), ""},
		{"a long PUBLISH", enc(wire.Publish("t", 0, 0, strings.Repeat("x", 300))), ""},

		{"a remaining length in two bytes", []byte{0xD0, 0x80, 0x00}, "MQTT-1.5.5-1"},
		{"a PUBLISH remaining length in four bytes", append([]byte{0x30, 0x80 | byte(len(publish)-2), 0x80, 0x80, 0x00}, publish[2:]...), "MQTT-1.5.5-1"},
		{"a property length in two bytes", publishWith([]byte{0x80, 0x00}), "MQTT-1.5.5-1"},
		{"a Subscription Identifier in two bytes", publishWith([]byte{3}, []byte{wire.PropSubscriptionIdentifier, 0x85, 0x00}), "MQTT-1.5.5-1"},
		{"a SUBACK with flags 0001", wire.Raw(0x91, u16(3), []byte{0, 0}), "MQTT-2.1.3-1"},
		{"a PINGRESP with flags 1000", []byte{0xD8, 0}, "MQTT-2.1.3-1"},
		{"a PUBREL with flags 0000", wire.Raw(0x60, u16(5)), "MQTT-2.1.3-1"},
		{"a PUBLISH without a Property Length", wire.Raw(0x30, str("t"), []byte("payload")), "MQTT-2.2.2-1"},
		{"a SUBACK without a Property Length", wire.Raw(0x90, u16(3), []byte{0}), "MQTT-2.2.2-1"},
		{"a CONNACK without a Property Length", wire.Raw(0x20, []byte{0, 0}), "MQTT-2.2.2-1"},
		{"a User Property name that is not UTF-8", publishWith([]byte{9}, userProp("k\xff", "vv")), "MQTT-1.5.7-1"},
		{"a User Property value that is not UTF-8", publishWith([]byte{9}, userProp("kk", "v\xc0")), "MQTT-1.5.7-1"},
		{"a topic name that is not UTF-8", wire.Raw(0x30, str("a/\xed\xa0\x80"), []byte{0}, []byte("x")), "MQTT-3.3.2-1"},
		{"a Response Topic that is not UTF-8", publishWith([]byte{6}, strProp(wire.PropResponseTopic, "r/\xff")), "MQTT-3.3.2-13"},
		{"a Response Topic with a wildcard", publishWith([]byte{7}, strProp(wire.PropResponseTopic, "r/+/")), "MQTT-3.3.2-14"},
		{"a Response Topic with '#'", publishWith([]byte{6}, strProp(wire.PropResponseTopic, "r/#")), "MQTT-3.3.2-14"},
		{"a Content Type that is not UTF-8", publishWith([]byte{6}, strProp(wire.PropContentType, "t\x00\xfe")), "MQTT-3.3.2-19"},
		{"an AUTH with flags 0001", wire.Raw(0xF1, []byte{0x18, 0}), "MQTT-3.15.1-1"},
		{"an AUTH with an undefined reason code", wire.Raw(0xF0, []byte{0x05, 0}), "MQTT-3.15.2-1"},
	}
	for _, c := range cases {
		got := v5WireProblems(c.b)
		switch {
		case c.want == "" && len(got) > 0:
			t.Errorf("%s (% x): want no problem, got %q", c.name, c.b, got)
		case c.want != "" && !strings.Contains(strings.Join(got, "\n"), c.want):
			t.Errorf("%s (% x): want a problem naming %s, got %q", c.name, c.b, c.want, got)
		}
	}
}

func TestVarIntLen(t *testing.T) {
	for v, want := range map[int]int{0: 1, 127: 1, 128: 2, 16383: 2, 16384: 3, 2097151: 3, 2097152: 4, 268435455: 4} {
		if got := varIntLen(v); got != want {
			t.Errorf("varIntLen(%d) = %d, want %d", v, got, want)
		}
		if b := wire.AppendVarInt(nil, v); len(b) != want {
			t.Errorf("the codec writes %d in %d bytes, the rule wants %d", v, len(b), want)
		}
	}
}
