package wire

import "encoding/binary"

// Encode serialises p for p.Version (0 means V311; a CONNECT with Version 0
// uses its ProtocolLevel) and computes the Remaining Length.
//
// The fixed header flags of PUBLISH come from QoS, DUP and Retain, and those
// of PUBREL, SUBSCRIBE and UNSUBSCRIBE are 0x2; every other type uses
// p.Flags. Payloads shorter than PayloadSize (PUBLISH, will) are padded with
// zero bytes, so large packets can be built without holding their payload.
// The CONNECT connect flags come from the fields (Will, CleanStart,
// HasUsername or Username, HasPassword or Password) plus the reserved bit 0
// of ConnectFlags. Values that do not fit their field are truncated, which
// is one way to build malformed packets; Raw is the other.
func Encode(p Packet) []byte {
	v := p.Version
	if v == 0 && p.Type == CONNECT {
		v = p.ProtocolLevel
	}
	if v == 0 {
		v = V311
	}
	flags := p.Flags & 0x0f
	var body []byte
	switch p.Type {
	case CONNECT:
		body = encodeConnect(p, v)
	case CONNACK:
		body = []byte{boolByte(p.SessionPresent), p.ReasonCode}
		if v == V5 {
			body = appendProps(body, p.Properties)
		}
	case PUBLISH:
		flags = p.QoS&3<<1 | boolByte(p.DUP)<<3 | boolByte(p.Retain)
		body = encodePublish(p, v)
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		if p.Type == PUBREL {
			flags = 0x02
		}
		body = binary.BigEndian.AppendUint16(nil, p.PacketID)
		if v == V5 {
			body = appendReason(body, p.ReasonCode, p.Properties)
		}
	case SUBSCRIBE, UNSUBSCRIBE:
		flags = 0x02
		body = encodeSubscribe(p, v)
	case SUBACK, UNSUBACK:
		body = binary.BigEndian.AppendUint16(nil, p.PacketID)
		if v == V5 {
			body = appendProps(body, p.Properties)
		}
		if v == V5 || p.Type == SUBACK {
			body = append(body, p.ReasonCodes...)
		}
	case DISCONNECT, AUTH:
		if v == V5 || p.Type == AUTH {
			body = appendReason(nil, p.ReasonCode, p.Properties)
		}
	}
	return Raw(byte(p.Type)<<4|flags, body)
}

// appendReason appends the reason code and properties of acknowledgements,
// DISCONNECT and AUTH in their shortest MQTT 5.0 form.
func appendReason(b []byte, code byte, props []Property) []byte {
	switch {
	case len(props) > 0:
		return appendProps(append(b, code), props)
	case code != 0:
		return append(b, code)
	}
	return b
}

func encodeConnect(p Packet, v byte) []byte {
	name := p.ProtocolName
	if name == "" {
		name = "MQTT"
		if v == V31 {
			name = "MQIsdp"
		}
	}
	level := p.ProtocolLevel
	if level == 0 {
		level = v
	}
	hasUser := p.HasUsername || p.Username != ""
	hasPass := p.HasPassword || p.Password != nil
	f := p.ConnectFlags&0x01 | boolByte(p.CleanStart)<<1 | boolByte(hasUser)<<7 | boolByte(hasPass)<<6
	if w := p.Will; w != nil {
		f |= 0x04 | w.QoS&3<<3 | boolByte(w.Retain)<<5
	}
	b := AppendString(nil, name)
	b = append(b, level, f)
	b = binary.BigEndian.AppendUint16(b, p.KeepAlive)
	if v == V5 {
		b = appendProps(b, p.Properties)
	}
	b = AppendString(b, p.ClientID)
	if w := p.Will; w != nil {
		if v == V5 {
			b = appendProps(b, w.Properties)
		}
		b = AppendString(b, w.Topic)
		b = binary.BigEndian.AppendUint16(b, uint16(max(w.PayloadSize, len(w.Payload))))
		b = appendPadded(b, w.Payload, w.PayloadSize)
	}
	if hasUser {
		b = AppendString(b, p.Username)
	}
	if hasPass {
		b = AppendBinary(b, p.Password)
	}
	return b
}

func encodePublish(p Packet, v byte) []byte {
	b := make([]byte, 0, 2+len(p.Topic)+2+max(p.PayloadSize, len(p.Payload))+16)
	b = AppendString(b, p.Topic)
	if p.QoS&3 != 0 {
		b = binary.BigEndian.AppendUint16(b, p.PacketID)
	}
	if v == V5 {
		b = appendProps(b, p.Properties)
	}
	return appendPadded(b, p.Payload, p.PayloadSize)
}

func encodeSubscribe(p Packet, v byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, p.PacketID)
	if v == V5 {
		b = appendProps(b, p.Properties)
	}
	for _, s := range p.Subscriptions {
		b = AppendString(b, s.Filter)
		if p.Type == SUBSCRIBE {
			b = append(b, s.Options|s.QoS&3)
		}
	}
	return b
}

// appendPadded appends data and then zero bytes up to size.
func appendPadded(b, data []byte, size int) []byte {
	b = append(b, data...)
	if pad := size - len(data); pad > 0 {
		b = append(b, make([]byte, pad)...)
	}
	return b
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// Raw builds a packet from its first byte and a body, computing the
// Remaining Length from the body. Nothing is checked: it is the way to send
// deliberately malformed packets.
func Raw(first byte, body ...[]byte) []byte {
	n := 0
	for _, b := range body {
		n += len(b)
	}
	out := make([]byte, 0, 5+n)
	out = AppendVarInt(append(out, first), n)
	for _, b := range body {
		out = append(out, b...)
	}
	return out
}

// AppendVarInt appends v as a Variable Byte Integer. Negative values are
// written as 0; values above MaxRemaining take more than four bytes, which
// is malformed and meant for tests.
func AppendVarInt(b []byte, v int) []byte {
	if v < 0 {
		v = 0
	}
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// AppendString appends s with its two-byte length. Strings longer than
// 65535 bytes get a wrong length, which is malformed and meant for tests.
func AppendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// AppendBinary appends data with its two-byte length, like AppendString.
func AppendBinary(b []byte, data []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}
