package wire_test

import (
	"fmt"

	"github.com/faultline-mqtt/faultline/proxy/wire"
)

func ExampleStream() {
	client := append(wire.Encode(wire.Packet{
		Header:        wire.Header{Type: wire.CONNECT},
		ProtocolLevel: wire.V5,
		ClientID:      "client1",
		CleanStart:    true,
		KeepAlive:     30,
	}), wire.Encode(wire.Packet{
		Header:      wire.Header{Type: wire.PUBLISH},
		Version:     wire.V5,
		QoS:         1,
		PacketID:    7,
		Topic:       "sensors/1/temp",
		Payload:     []byte("21.5C"),
		PayloadSize: 5,
	})...)

	var s wire.Stream
	show := func(f wire.Frame) { fmt.Printf("@%d %v\n", f.Offset, f) }
	s.Feed(client[:10], show) // a packet split across reads
	s.Feed(client[10:], show)
	fmt.Println("version", s.Version)
	// Output:
	// @0 CONNECT v5 "client1" clean ka=30s
	// @22 PUBLISH id=7 q1 "sensors/1/temp" 5B "21.5C"
	// version 5
}

func ExampleRaw() {
	// A SUBSCRIBE with reserved flags 0x0 instead of 0x2.
	b := wire.Raw(0x80, []byte{0, 1}, wire.AppendString(nil, "a/b"), []byte{1})
	p, _ := wire.Decode(b, wire.V311)
	fmt.Println(p)
	// Output:
	// SUBSCRIBE id=1 ["a/b" q1] MALFORMED: SUBSCRIBE flags 0x0, want 0x2
}
