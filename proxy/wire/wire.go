// Package wire is an MQTT 3.1.1 and 5.0 packet codec with no I/O in its core.
//
// Decode turns the bytes of one packet into a Packet and Encode does the
// reverse. Stream frames and decodes one direction of a live connection fed
// in arbitrary chunks, holding a bounded number of bytes per packet.
// ReadPacket is the only function that touches an io.Reader.
//
// Nothing in this package panics on garbage, truncated or oversized input.
// Bytes that break the packet grammar still decode to a Packet whose
// Malformed field says what is wrong, so that traces can show them.
package wire

import (
	"errors"
	"strconv"
	"strings"
)

// Protocol levels carried by CONNECT.
const (
	V31  byte = 3 // MQTT 3.1, protocol name "MQIsdp"; decoded like 3.1.1
	V311 byte = 4 // MQTT 3.1.1
	V5   byte = 5 // MQTT 5.0
)

// MaxRemaining is the largest Remaining Length a fixed header can carry.
const MaxRemaining = 268435455

// Errors returned by the codec.
var (
	// ErrIncomplete means the bytes end before the packet does.
	ErrIncomplete = errors.New("wire: incomplete packet")
	// ErrLength means the Remaining Length runs past four bytes, so the
	// packet cannot be framed.
	ErrLength = errors.New("wire: malformed remaining length")
	// ErrTooLarge means a packet announces more bytes than allowed.
	ErrTooLarge = errors.New("wire: packet too large")
)

// Type is an MQTT control packet type, the high nibble of the first byte.
type Type byte

// Control packet types. AUTH exists only in MQTT 5.0.
const (
	Reserved Type = iota
	CONNECT
	CONNACK
	PUBLISH
	PUBACK
	PUBREC
	PUBREL
	PUBCOMP
	SUBSCRIBE
	SUBACK
	UNSUBSCRIBE
	UNSUBACK
	PINGREQ
	PINGRESP
	DISCONNECT
	AUTH
)

var typeNames = [...]string{
	"", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP",
	"DISCONNECT", "AUTH",
}

// String returns the type's name as the specifications spell it, or
// "Reserved(n)" for type 0 and values that are not packet types.
func (t Type) String() string {
	if t == Reserved || int(t) >= len(typeNames) {
		return "Reserved(" + strconv.Itoa(int(t)) + ")"
	}
	return typeNames[t]
}

// ParseType is the case-insensitive inverse of Type.String. It also
// accepts "Reserved" for type 0.
func ParseType(s string) (Type, bool) {
	if strings.EqualFold(s, "Reserved") {
		return Reserved, true
	}
	for t := Reserved; t <= AUTH; t++ {
		if strings.EqualFold(s, t.String()) {
			return t, true
		}
	}
	return 0, false
}

// decodeVersion maps the version a caller asks for to the one used to
// decode: V5 and V31 are kept, everything else means V311.
func decodeVersion(v byte) byte {
	if v == V5 || v == V31 {
		return v
	}
	return V311
}
