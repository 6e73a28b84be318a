package proxy

import "github.com/faultline-mqtt/faultline/proxy/wire"

// Matches for each packet type, to read well in specs:
// link.CutAfter(proxy.FromBroker, proxy.PUBREL.ID(7)).
var (
	CONNECT     = Packet(wire.CONNECT)
	CONNACK     = Packet(wire.CONNACK)
	PUBLISH     = Packet(wire.PUBLISH)
	PUBACK      = Packet(wire.PUBACK)
	PUBREC      = Packet(wire.PUBREC)
	PUBREL      = Packet(wire.PUBREL)
	PUBCOMP     = Packet(wire.PUBCOMP)
	SUBSCRIBE   = Packet(wire.SUBSCRIBE)
	SUBACK      = Packet(wire.SUBACK)
	UNSUBSCRIBE = Packet(wire.UNSUBSCRIBE)
	UNSUBACK    = Packet(wire.UNSUBACK)
	PINGREQ     = Packet(wire.PINGREQ)
	PINGRESP    = Packet(wire.PINGRESP)
	DISCONNECT  = Packet(wire.DISCONNECT)
	// AnyPacket matches every packet.
	AnyPacket = Match{}
)
