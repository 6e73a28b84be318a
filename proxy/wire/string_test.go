package wire

import (
	"strings"
	"testing"
)

func TestPacketString(t *testing.T) {
	for _, tc := range []struct {
		p    Packet
		want string
	}{
		{Packet{Header: Header{Type: PUBLISH}, QoS: 1, DUP: true, Retain: true, PacketID: 7, Topic: "sensors/1/temp", Payload: []byte("21.5C|m=ab"), PayloadSize: 10},
			`PUBLISH id=7 q1 dup retain "sensors/1/temp" 10B "21.5C|m=ab"`},
		{Packet{Header: Header{Type: PUBLISH}, Topic: "t", Payload: []byte("0123456789012345678901234567"), PayloadSize: 1000},
			`PUBLISH q0 "t" 1000B "012345678901234567890123"…`},
		{Packet{Header: Header{Type: PUBLISH}, Topic: "t", Payload: []byte{0, 1, 2, 0xff}, PayloadSize: 4},
			`PUBLISH q0 "t" 4B 0x000102ff`},
		{Packet{Header: Header{Type: PUBLISH}, Topic: "t", Payload: []byte("a\nb\x01"), PayloadSize: 4},
			`PUBLISH q0 "t" 4B "a\nb\x01"`},
		{Packet{Header: Header{Type: PUBLISH}, Topic: "t"}, `PUBLISH q0 "t" 0B`},
		{Packet{Header: Header{Type: CONNECT}, ProtocolLevel: 4, ClientID: "client1", CleanStart: true, KeepAlive: 2,
			Will: &Will{QoS: 1, Retain: true, Topic: "dead/topic", PayloadSize: 3}, HasUsername: true},
			`CONNECT v4 "client1" clean ka=2s will(q1 retain "dead/topic") user`},
		{Packet{Header: Header{Type: CONNACK}, Version: V311, SessionPresent: true}, `CONNACK sp=1 rc=0x00 (Accepted)`},
		{Packet{Header: Header{Type: CONNACK}, Version: V311, ReasonCode: 5}, `CONNACK sp=0 rc=0x05 (Not authorized)`},
		{Packet{Header: Header{Type: CONNACK}, Version: V5, ReasonCode: 0x86}, `CONNACK sp=0 rc=0x86 (Bad User Name or Password)`},
		{Packet{Header: Header{Type: SUBACK}, PacketID: 3, ReasonCodes: []byte{1, 0x80}}, `SUBACK id=3 [0x01 0x80]`},
		{Packet{Header: Header{Type: PUBREL}, PacketID: 9}, `PUBREL id=9`},
		{Packet{Header: Header{Type: PUBACK}, Version: V5, PacketID: 9, ReasonCode: 0x10}, `PUBACK id=9 rc=0x10 (No matching subscribers)`},
		{Packet{Header: Header{Type: DISCONNECT}, Version: V5, ReasonCode: 0x8E}, `DISCONNECT rc=0x8E (Session taken over)`},
		{Packet{Header: Header{Type: DISCONNECT}}, `DISCONNECT`},
		{Packet{Header: Header{Type: SUBSCRIBE}, Version: V5, PacketID: 2, Subscriptions: []Subscription{{Filter: "a/#", QoS: 1, Options: 0x1D}, {Filter: "b"}}},
			`SUBSCRIBE id=2 ["a/#" q1 nl rap rh1, "b" q0]`},
		{Packet{Header: Header{Type: UNSUBSCRIBE}, PacketID: 2, Subscriptions: []Subscription{{Filter: "a"}, {Filter: "b"}}},
			`UNSUBSCRIBE id=2 ["a", "b"]`},
		{Packet{Header: Header{Type: PUBACK}, Version: V5, PacketID: 1, Properties: []Property{
			{PropReasonString, "r"}, {PropUserProperty, [2]string{"k", "v"}}, {PropCorrelationData, []byte{1}}, {PropSubscriptionIdentifier, uint32(4)}, {PropContentType, "x"}}},
			`PUBACK id=1 {ReasonString="r" UserProperty="k":"v" CorrelationData=1B SubscriptionIdentifier=4 +1}`},
		{Packet{Header: Header{Type: PINGREQ}, Malformed: "why"}, `PINGREQ MALFORMED: why`},
		{Packet{}, `Reserved(0)`},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestStringIsShort(t *testing.T) {
	long := strings.Repeat("é", 1000)
	p := Packet{Header: Header{Type: SUBSCRIBE}, PacketID: 1}
	for i := 0; i < 100; i++ {
		p.Subscriptions = append(p.Subscriptions, Subscription{Filter: long})
	}
	if s := p.String(); len(s) > 400 || strings.Contains(s, "\n") || !strings.Contains(s, "+96") {
		t.Errorf("String() = %d bytes: %s", len(s), s)
	}
	if f := (Frame{Lost: true, Packet: Packet{Header: Header{Remaining: 12}}}); f.String() != "LOST 12B" {
		t.Errorf("lost frame: %s", f)
	}
}

func TestReturnCodeText(t *testing.T) {
	for _, tc := range []struct {
		t    Type
		v    byte
		code byte
		want string
	}{
		{CONNACK, V311, 0, "Accepted"},
		{CONNACK, V311, 1, "Unacceptable protocol version"},
		{CONNACK, V311, 6, ""},
		{CONNACK, V5, 0, "Success"},
		{CONNACK, V5, 0x84, "Unsupported Protocol Version"},
		{CONNACK, V5, 0x8E, ""},
		{SUBACK, V311, 0x80, "Failure"},
		{SUBACK, V5, 0, "Granted QoS 0"},
		{SUBACK, V5, 2, "Granted QoS 2"},
		{DISCONNECT, V5, 0, "Normal disconnection"},
		{DISCONNECT, V5, 0x8E, "Session taken over"},
		{AUTH, V5, 0x18, "Continue authentication"},
		{PUBREL, V5, 0x92, "Packet Identifier not found"},
		{PUBLISH, V5, 0, ""},
	} {
		if got := ReturnCodeText(tc.t, tc.v, tc.code); got != tc.want {
			t.Errorf("ReturnCodeText(%v, %d, 0x%02X) = %q, want %q", tc.t, tc.v, tc.code, got, tc.want)
		}
	}
}

func TestPropertyName(t *testing.T) {
	for id, want := range map[byte]string{0x11: "SessionExpiryInterval", 0x1F: "ReasonString", 0x26: "UserProperty", 0x7f: "Property(0x7F)", 0x04: "Property(0x04)"} {
		if got := (Property{ID: id}).Name(); got != want {
			t.Errorf("Name(0x%02X) = %q, want %q", id, got, want)
		}
	}
}
