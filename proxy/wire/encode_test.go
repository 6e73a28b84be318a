package wire

import (
	"bytes"
	"reflect"
	"testing"
)

// roundTrips lists packets that must survive Encode then Decode unchanged,
// for the version given in each packet.
func roundTrips() []Packet {
	will := &Will{Topic: "dead/topic", QoS: 1, Retain: true, PayloadSize: 4, Payload: []byte("gone")}
	will5 := &Will{Topic: "dead/5", QoS: 2, PayloadSize: 3, Payload: []byte("bye"), Properties: []Property{
		{PropWillDelayInterval, uint32(30)},
		{PropPayloadFormatIndicator, byte(1)},
		{PropContentType, "text/plain"},
		{PropResponseTopic, "reply/here"},
		{PropCorrelationData, []byte{1, 2, 3}},
		{PropMessageExpiryInterval, uint32(3600)},
		{PropUserProperty, [2]string{"k", "v"}},
	}}
	var ps []Packet
	for _, v := range []byte{V31, V311, V5} {
		name := "MQTT"
		if v == V31 {
			name = "MQIsdp"
		}
		ps = append(ps,
			Packet{Header: Header{Type: CONNECT}, ProtocolName: name, ProtocolLevel: v, Version: v, CleanStart: true, KeepAlive: 60, ClientID: "client1", ConnectFlags: 0x02},
			Packet{Header: Header{Type: CONNECT}, ProtocolName: name, ProtocolLevel: v, Version: v, KeepAlive: 0, ClientID: "", ConnectFlags: 0xEC,
				Will: will, Username: "user", HasUsername: true, HasPassword: true, Password: []byte("secret")},
			Packet{Header: Header{Type: CONNACK}, Version: v, SessionPresent: true},
			Packet{Header: Header{Type: CONNACK}, Version: v, ReasonCode: connackRefusal(v)},
			Packet{Header: Header{Type: PUBLISH}, Version: v, Topic: "a/b", Payload: []byte("hello"), PayloadSize: 5},
			Packet{Header: Header{Type: PUBLISH}, Version: v, QoS: 1, DUP: true, Retain: true, PacketID: 7, Topic: "sensors/1/temp", Payload: []byte("21.5C"), PayloadSize: 5},
			Packet{Header: Header{Type: PUBLISH}, Version: v, QoS: 2, PacketID: 65535, Topic: "empty/payload"},
			Packet{Header: Header{Type: PUBACK}, Version: v, PacketID: 1},
			Packet{Header: Header{Type: PUBREC}, Version: v, PacketID: 2},
			Packet{Header: Header{Type: PUBREL}, Version: v, PacketID: 3},
			Packet{Header: Header{Type: PUBCOMP}, Version: v, PacketID: 4},
			Packet{Header: Header{Type: SUBSCRIBE}, Version: v, PacketID: 5, Subscriptions: []Subscription{
				{Filter: "a/+/c", QoS: 0}, {Filter: "d/#", QoS: 1, Options: 1}, {Filter: "#", QoS: 2, Options: 2}}},
			Packet{Header: Header{Type: SUBACK}, Version: v, PacketID: 5, ReasonCodes: []byte{0, 1, 2, 0x80}},
			Packet{Header: Header{Type: UNSUBSCRIBE}, Version: v, PacketID: 6, Subscriptions: []Subscription{{Filter: "a/+/c"}, {Filter: "d/#"}}},
			Packet{Header: Header{Type: PINGREQ}, Version: v},
			Packet{Header: Header{Type: PINGRESP}, Version: v},
			Packet{Header: Header{Type: DISCONNECT}, Version: v},
		)
		if v != V5 {
			ps = append(ps, Packet{Header: Header{Type: UNSUBACK}, Version: v, PacketID: 6})
		}
	}
	user := Property{PropUserProperty, [2]string{"trace", "abc"}}
	reason := Property{PropReasonString, "because"}
	ps = append(ps,
		Packet{Header: Header{Type: CONNECT}, ProtocolName: "MQTT", ProtocolLevel: V5, Version: V5, ConnectFlags: 0xD6, CleanStart: true, KeepAlive: 30,
			ClientID: "c5", Will: will5, Username: "u", HasUsername: true, HasPassword: true, Password: []byte{0, 1},
			Properties: []Property{
				{PropSessionExpiryInterval, uint32(120)},
				{PropReceiveMaximum, uint16(10)},
				{PropMaximumPacketSize, uint32(1 << 20)},
				{PropTopicAliasMaximum, uint16(5)},
				{PropRequestResponseInformation, byte(1)},
				{PropRequestProblemInformation, byte(0)},
				{PropAuthenticationMethod, "SCRAM-SHA-1"},
				{PropAuthenticationData, []byte("client-first")},
				user, user,
			}},
		Packet{Header: Header{Type: CONNECT}, ProtocolName: "MQTT", ProtocolLevel: V5, Version: V5, ConnectFlags: 0x40, HasPassword: true, ClientID: "nouser"},
		Packet{Header: Header{Type: CONNACK}, Version: V5, ReasonCode: 0, Properties: []Property{
			{PropSessionExpiryInterval, uint32(0)},
			{PropAssignedClientIdentifier, "auto-1"},
			{PropServerKeepAlive, uint16(20)},
			{PropResponseInformation, "resp/"},
			{PropServerReference, "other:1883"},
			{PropMaximumQoS, byte(1)},
			{PropRetainAvailable, byte(0)},
			{PropWildcardSubscriptionAvailable, byte(1)},
			{PropSubscriptionIdentifierAvailable, byte(1)},
			{PropSharedSubscriptionAvailable, byte(0)},
			reason,
		}},
		Packet{Header: Header{Type: PUBLISH}, Version: V5, QoS: 1, PacketID: 9, Topic: "", Payload: []byte{0xff, 0}, PayloadSize: 2, Properties: []Property{
			{PropTopicAlias, uint16(3)},
			{PropSubscriptionIdentifier, uint32(1)},
			{PropSubscriptionIdentifier, uint32(268435455)},
			{PropPayloadFormatIndicator, byte(0)},
			{PropMessageExpiryInterval, uint32(10)},
			{PropCorrelationData, []byte{}},
			user,
		}},
		Packet{Header: Header{Type: PUBACK}, Version: V5, PacketID: 1, ReasonCode: 0x10},
		Packet{Header: Header{Type: PUBREC}, Version: V5, PacketID: 2, ReasonCode: 0x80, Properties: []Property{reason}},
		Packet{Header: Header{Type: PUBREL}, Version: V5, PacketID: 3, ReasonCode: 0x92},
		Packet{Header: Header{Type: PUBCOMP}, Version: V5, PacketID: 4, Properties: []Property{user}},
		Packet{Header: Header{Type: SUBSCRIBE}, Version: V5, PacketID: 5, Properties: []Property{{PropSubscriptionIdentifier, uint32(200)}, user},
			Subscriptions: []Subscription{
				{Filter: "a/b", QoS: 1, Options: 0x01 | NoLocal | RetainAsPublished | 2<<RetainHandlingShift},
				{Filter: "$share/g/x/#", QoS: 2, Options: 0x02 | 1<<RetainHandlingShift},
			}},
		Packet{Header: Header{Type: SUBACK}, Version: V5, PacketID: 5, ReasonCodes: []byte{0x01, 0x02, 0x00, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2}, Properties: []Property{reason}},
		Packet{Header: Header{Type: UNSUBSCRIBE}, Version: V5, PacketID: 6, Subscriptions: []Subscription{{Filter: "a/b"}}, Properties: []Property{user}},
		Packet{Header: Header{Type: UNSUBACK}, Version: V5, PacketID: 6, ReasonCodes: []byte{0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91}},
		Packet{Header: Header{Type: UNSUBACK}, Version: V5, PacketID: 7, ReasonCodes: []byte{0}, Properties: []Property{reason}},
		Packet{Header: Header{Type: DISCONNECT}, Version: V5, ReasonCode: 0x8E},
		Packet{Header: Header{Type: DISCONNECT}, Version: V5, ReasonCode: 0x04, Properties: []Property{
			{PropSessionExpiryInterval, uint32(5)}, reason, {PropServerReference, "b:1883"}}},
		Packet{Header: Header{Type: AUTH}, Version: V5},
		Packet{Header: Header{Type: AUTH}, Version: V5, ReasonCode: 0x18, Properties: []Property{
			{PropAuthenticationMethod, "SCRAM-SHA-1"}, {PropAuthenticationData, []byte("server-first")}, reason}},
		Packet{Header: Header{Type: AUTH}, Version: V5, ReasonCode: 0x19},
	)
	return ps
}

// connackRefusal returns a CONNACK refusal code valid in version v.
func connackRefusal(v byte) byte {
	if v == V5 {
		return 0x85
	}
	return 0x05
}

func TestRoundTrip(t *testing.T) {
	for _, want := range roundTrips() {
		b := Encode(want)
		got, err := Decode(b, want.Version)
		if err != nil {
			t.Errorf("%v: Decode(% x) error %v", want, b, err)
			continue
		}
		if got.Malformed != "" {
			t.Errorf("%v: Decode(% x) malformed: %s", want, b, got.Malformed)
		}
		if got.Size() != len(b) {
			t.Errorf("%v: Size %d, encoded %d bytes", want, got.Size(), len(b))
		}
		password := want.Password
		want.Header = got.Header
		want.Password = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of % x:\n got %#v\nwant %#v", b, got, want)
			continue
		}
		got.Password = password // Decode never keeps it
		if again := Encode(got); !bytes.Equal(again, b) {
			t.Errorf("%v: re-encoded\n% x\nwant\n% x", got, again, b)
		}
	}
}

func TestRemainingLengthBoundaries(t *testing.T) {
	for _, tc := range []struct{ remaining, hdrLen int }{
		{0, 2}, {127, 2}, {128, 3}, {16383, 3}, {16384, 4}, {2097151, 4}, {2097152, 5},
	} {
		for _, v := range []byte{V311, V5} {
			p := Packet{Header: Header{Type: PUBLISH}, Version: v, QoS: 1, PacketID: 1, Topic: "t"}
			overhead := 2 + 1 + 2
			if v == V5 {
				overhead++
			}
			if tc.remaining < overhead {
				continue
			}
			p.PayloadSize = tc.remaining - overhead
			b := Encode(p)
			got, err := Decode(b, v)
			if err != nil || got.Malformed != "" {
				t.Fatalf("RL %d v%d: err %v malformed %q", tc.remaining, v, err, got.Malformed)
			}
			if got.Remaining != tc.remaining || got.Len != tc.hdrLen || got.PayloadSize != p.PayloadSize || len(got.Payload) != p.PayloadSize || len(b) != got.Size() {
				t.Errorf("RL %d v%d: got Remaining %d Len %d PayloadSize %d", tc.remaining, v, got.Remaining, got.Len, got.PayloadSize)
			}
			// A prefix holding only the headers decodes with the full size.
			got, err = Decode(b[:tc.hdrLen+overhead], v)
			if err != nil || got.PayloadSize != p.PayloadSize || len(got.Payload) != 0 {
				t.Errorf("RL %d v%d prefix: err %v PayloadSize %d payload %d", tc.remaining, v, err, got.PayloadSize, len(got.Payload))
			}
		}
	}
	// The largest and the empty PINGREQ bodies, without the payload.
	h, ok, err := ParseHeader([]byte{0x30, 0xff, 0xff, 0xff, 0x7f})
	if !ok || err != nil || h.Remaining != MaxRemaining || h.Len != 5 {
		t.Errorf("max header: %+v %v %v", h, ok, err)
	}
	if got := AppendVarInt(nil, MaxRemaining); !bytes.Equal(got, []byte{0xff, 0xff, 0xff, 0x7f}) {
		t.Errorf("AppendVarInt(max) = % x", got)
	}
}

func TestEncodeDerivedFlags(t *testing.T) {
	for _, tc := range []struct {
		p     Packet
		first byte
	}{
		{Packet{Header: Header{Type: PUBLISH}, QoS: 2, DUP: true, Retain: true, Topic: "x", PacketID: 1}, 0x3D},
		{Packet{Header: Header{Type: PUBLISH, Flags: 0xF}, Topic: "x"}, 0x30},
		{Packet{Header: Header{Type: PUBREL}, PacketID: 1}, 0x62},
		{Packet{Header: Header{Type: SUBSCRIBE}, PacketID: 1}, 0x82},
		{Packet{Header: Header{Type: UNSUBSCRIBE}, PacketID: 1}, 0xA2},
		{Packet{Header: Header{Type: PUBACK, Flags: 0x3}, PacketID: 1}, 0x43},
		{Packet{Header: Header{Type: PINGREQ}}, 0xC0},
	} {
		if b := Encode(tc.p); b[0] != tc.first {
			t.Errorf("%v: first byte 0x%02X, want 0x%02X", tc.p.Type, b[0], tc.first)
		}
	}
}

func TestEncodeShortForms(t *testing.T) {
	for _, tc := range []struct {
		p    Packet
		want []byte
	}{
		{Packet{Header: Header{Type: PUBACK}, Version: V5, PacketID: 1}, []byte{0x40, 2, 0, 1}},
		{Packet{Header: Header{Type: PUBACK}, Version: V5, PacketID: 1, ReasonCode: 0x10}, []byte{0x40, 3, 0, 1, 0x10}},
		{Packet{Header: Header{Type: DISCONNECT}, Version: V5}, []byte{0xE0, 0}},
		{Packet{Header: Header{Type: DISCONNECT}, Version: V5, ReasonCode: 0x8E}, []byte{0xE0, 1, 0x8E}},
		{Packet{Header: Header{Type: DISCONNECT}, ReasonCode: 0x8E}, []byte{0xE0, 0}},
		{Packet{Header: Header{Type: CONNACK}, Version: V5}, []byte{0x20, 3, 0, 0, 0}},
		{Packet{Header: Header{Type: CONNECT}, ProtocolLevel: V311, ClientID: "a", CleanStart: true, KeepAlive: 10},
			[]byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 10, 0, 1, 'a'}},
		{Packet{Header: Header{Type: CONNECT}, Version: V31, ClientID: "a"},
			[]byte{0x10, 15, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0, 0, 0, 0, 1, 'a'}},
	} {
		if got := Encode(tc.p); !bytes.Equal(got, tc.want) {
			t.Errorf("Encode(%v) = % x, want % x", tc.p, got, tc.want)
		}
	}
}

func TestDecodeShortForms(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		v    byte
		code byte
	}{
		{[]byte{0x40, 2, 0, 1}, V5, 0},
		{[]byte{0x50, 3, 0, 1, 0x10}, V5, 0x10},
		{[]byte{0x62, 4, 0, 1, 0x92, 0}, V5, 0x92},
		{[]byte{0xE0, 0}, V5, 0},
		{[]byte{0xE0, 1, 0x8E}, V5, 0x8E},
		{[]byte{0xF0, 0}, V5, 0},
		{[]byte{0xF0, 1, 0x18}, V5, 0x18},
	} {
		p, err := Decode(tc.b, tc.v)
		if err != nil || p.Malformed != "" || p.ReasonCode != tc.code || p.Properties != nil {
			t.Errorf("Decode(% x): %v err %v", tc.b, p, err)
		}
	}
}

func TestRaw(t *testing.T) {
	got := Raw(0x82, []byte{0, 1}, AppendString(nil, "a"), []byte{3})
	want := []byte{0x82, 6, 0, 1, 0, 1, 'a', 3}
	if !bytes.Equal(got, want) {
		t.Errorf("Raw = % x, want % x", got, want)
	}
	if got := AppendVarInt(nil, MaxRemaining+1); len(got) != 5 {
		t.Errorf("AppendVarInt(MaxRemaining+1) = % x, want 5 bytes", got)
	}
	if got := AppendVarInt(nil, 128); !bytes.Equal(got, []byte{0x80, 1}) {
		t.Errorf("AppendVarInt(128) = % x", got)
	}
}
