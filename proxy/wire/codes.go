package wire

import "strings"

// connackText holds the MQTT 3.1.1 CONNACK return codes 0 to 5.
var connackText = [...]string{
	"Accepted",
	"Unacceptable protocol version",
	"Identifier rejected",
	"Server unavailable",
	"Bad user name or password",
	"Not authorized",
}

// reasonText holds the MQTT 5.0 reason codes; 0x00 depends on the packet.
var reasonText = map[byte]string{
	0x01: "Granted QoS 1",
	0x02: "Granted QoS 2",
	0x04: "Disconnect with Will Message",
	0x10: "No matching subscribers",
	0x11: "No subscription existed",
	0x18: "Continue authentication",
	0x19: "Re-authenticate",
	0x80: "Unspecified error",
	0x81: "Malformed Packet",
	0x82: "Protocol Error",
	0x83: "Implementation specific error",
	0x84: "Unsupported Protocol Version",
	0x85: "Client Identifier not valid",
	0x86: "Bad User Name or Password",
	0x87: "Not authorized",
	0x88: "Server unavailable",
	0x89: "Server busy",
	0x8A: "Banned",
	0x8B: "Server shutting down",
	0x8C: "Bad authentication method",
	0x8D: "Keep Alive timeout",
	0x8E: "Session taken over",
	0x8F: "Topic Filter invalid",
	0x90: "Topic Name invalid",
	0x91: "Packet Identifier in use",
	0x92: "Packet Identifier not found",
	0x93: "Receive Maximum exceeded",
	0x94: "Topic Alias invalid",
	0x95: "Packet too large",
	0x96: "Message rate too high",
	0x97: "Quota exceeded",
	0x98: "Administrative action",
	0x99: "Payload format invalid",
	0x9A: "Retain not supported",
	0x9B: "QoS not supported",
	0x9C: "Use another server",
	0x9D: "Server moved",
	0x9E: "Shared Subscriptions not supported",
	0x9F: "Connection rate exceeded",
	0xA0: "Maximum connect time",
	0xA1: "Subscription Identifiers not supported",
	0xA2: "Wildcard Subscriptions not supported",
}

// reasonCodes returns the codes a packet type may carry in MQTT 5.0.
func reasonCodes(t Type) string {
	switch t {
	case CONNACK:
		return "\x00\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8A\x8C\x90\x95\x97\x99\x9A\x9B\x9C\x9D\x9F"
	case PUBACK, PUBREC:
		return "\x00\x10\x80\x83\x87\x90\x91\x97\x99"
	case PUBREL, PUBCOMP:
		return "\x00\x92"
	case SUBACK:
		return "\x00\x01\x02\x80\x83\x87\x8F\x91\x97\x9E\xA1\xA2"
	case UNSUBACK:
		return "\x00\x11\x80\x83\x87\x8F\x91"
	case DISCONNECT:
		return "\x00\x04\x80\x81\x82\x83\x87\x89\x8B\x8D\x8E\x8F\x90\x93\x94\x95\x96\x97\x98\x99\x9A\x9B\x9C\x9D\x9E\x9F\xA0\xA1\xA2"
	case AUTH:
		return "\x00\x18\x19"
	}
	return ""
}

// validCode tells whether a packet of type t may carry code c.
func validCode(t Type, version byte, c byte) bool {
	if version == V5 {
		return strings.IndexByte(reasonCodes(t), c) >= 0
	}
	switch t {
	case CONNACK:
		return int(c) < len(connackText)
	case SUBACK:
		return c <= 2 || c == 0x80
	}
	return false
}

// ReturnCodeText returns the human text of a CONNACK return code (3.1.1),
// a SUBACK return code (3.1.1), or an MQTT 5.0 reason code of packet type t.
// It returns "" for codes the packet type does not define.
func ReturnCodeText(t Type, version byte, code byte) string {
	if !validCode(t, version, code) {
		return ""
	}
	switch {
	case version != V5 && t == CONNACK:
		return connackText[code]
	case version != V5 && code == 0x80:
		return "Failure"
	case code == 0 && t == SUBACK:
		return "Granted QoS 0"
	case code == 0 && t == DISCONNECT:
		return "Normal disconnection"
	case code == 0:
		return "Success"
	}
	return reasonText[code]
}
