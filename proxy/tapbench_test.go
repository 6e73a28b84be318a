package proxy

import (
	"testing"

	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// BenchmarkTapFeed is the tap's cost per QoS 1 PUBLISH with no cut armed:
// framing, decoding and tracing.
func BenchmarkTapFeed(b *testing.B) {
	pkt := wire.Encode(wire.Packet{Header: wire.Header{Type: wire.PUBLISH}, QoS: 1, PacketID: 7, Topic: "bench/rtt", Payload: []byte("0123456789abcdef")})
	h := newTap("b", newTrace(), nil).half(ToBroker)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		h.feed(pkt)
	}
}
