package wire

import (
	"bytes"
	"reflect"
	"testing"
)

// builtPackets is one packet of every builder, in MQTT 3.1.1 and 5.0.
func builtPackets() []Packet {
	user := Property{PropUserProperty, [2]string{"k", "v"}}
	v5 := Version(V5)
	return []Packet{
		Connect("c1"),
		Connect("c2", CleanStart(false), KeepAlive(0), Login("user", "secret")),
		Connect("c3", Login("user", "")),
		Connect("c4", Version(V31)),
		Connect("c5", LastWill(Will{Topic: "w/t", QoS: 1, Retain: true, Payload: []byte("gone"), PayloadSize: 4})),
		Connect("c6", v5, Props(Property{PropSessionExpiryInterval, uint32(60)}), Login("u", "p"),
			LastWill(Will{Topic: "w", Payload: []byte("x"), PayloadSize: 1, Properties: []Property{{PropWillDelayInterval, uint32(2)}}})),
		Publish("a/b", 0, 0, "zero"),
		Publish("a/b", 1, 7, "one", Retained()),
		Publish("a/b", 2, 8, "two", Duplicate()),
		Publish("a/b", 1, 9, "", Retained()),
		Publish("a/b", 1, 10, "five", v5, Props(Property{PropTopicAlias, uint16(3)}, user)),
		PubAck(1), PubRec(2), PubRel(3), PubComp(4),
		PubAck(5, v5, Code(0x10)), PubRec(6, v5, Code(0x80), Props(Property{PropReasonString, "no"})),
		PubRel(7, v5), PubComp(8, v5, Code(0x92)),
		Ack(PUBACK, 9),
		Subscribe(1, Sub("a/#", 1), Sub("b/+", 2), Sub("c", 0)),
		Subscribe(2, Sub("a/#", 1, NoLocal, RetainAsPublished, 2<<RetainHandlingShift)).With(v5, Props(Property{PropSubscriptionIdentifier, uint32(5)})),
		Unsubscribe(3, "a/#", "b/+"),
		Unsubscribe(4, "a").With(v5, Props(user)),
		PingReq(),
		Disconnect(),
		Disconnect(v5, Code(0x04), Props(Property{PropSessionExpiryInterval, uint32(0)})),
		Auth(0x18, Props(Property{PropAuthenticationMethod, "m"})),
	}
}

// TestBuildersRoundTrip encodes what each builder makes and decodes it
// again: the packet comes back well-formed, field for field.
func TestBuildersRoundTrip(t *testing.T) {
	for _, want := range builtPackets() {
		b := Encode(want)
		v := want.Version
		if want.Type == CONNECT {
			v = want.ProtocolLevel
		}
		got, err := Decode(b, v)
		if err != nil || got.Malformed != "" {
			t.Errorf("%v: Decode(% x): %v %s", want, b, err, got.Malformed)
			continue
		}
		password := want.Password
		want.Header, want.Version, want.ConnectFlags, want.Password = got.Header, got.Version, got.ConnectFlags, nil
		if want.Type == PUBLISH {
			want.PayloadSize = len(want.Payload)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of % x:\n got %#v\nwant %#v", b, got, want)
			continue
		}
		got.Password = password
		if again := Encode(got); !bytes.Equal(again, b) {
			t.Errorf("%v: re-encoded\n% x\nwant\n% x", got, again, b)
		}
	}
}

// TestLoginNeverSendsAPasswordAlone: no password without a user name
// [MQTT-3.1.2-22].
func TestLoginNeverSendsAPasswordAlone(t *testing.T) {
	for _, c := range []struct {
		user, pass       string
		hasUser, hasPass bool
	}{{"u", "p", true, true}, {"u", "", true, false}, {"", "p", false, false}, {"", "", false, false}} {
		p, err := Decode(Encode(Connect("id", Login(c.user, c.pass))), V311)
		if err != nil || p.Malformed != "" {
			t.Fatalf("Login(%q, %q): %v %s", c.user, c.pass, err, p.Malformed)
		}
		if p.HasUsername != c.hasUser || p.HasPassword != c.hasPass || p.Username != c.user {
			t.Errorf("Login(%q, %q): user name %v %q, password %v", c.user, c.pass, p.HasUsername, p.Username, p.HasPassword)
		}
	}
}

func TestPublishAtQoS0HasNoPacketID(t *testing.T) {
	if p := Publish("t", 0, 5, "x"); p.PacketID != 0 {
		t.Errorf("QoS 0 PUBLISH with packet id %d", p.PacketID)
	}
	if p := Publish("t", 1, 0, "", Padded(1000)); len(Encode(p)) < 1000 {
		t.Errorf("Padded(1000) encoded %d bytes", len(Encode(p)))
	}
}
