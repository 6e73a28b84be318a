package wire

import (
	"encoding/binary"
	"strconv"
)

// Property is one MQTT 5.0 property. Value holds a byte, uint16, uint32
// (four-byte and variable byte integers), string, []byte (binary data) or
// [2]string (a user property's name and value).
type Property struct {
	ID    byte
	Value any
}

// MQTT 5.0 property identifiers.
const (
	PropPayloadFormatIndicator          byte = 0x01
	PropMessageExpiryInterval           byte = 0x02
	PropContentType                     byte = 0x03
	PropResponseTopic                   byte = 0x08
	PropCorrelationData                 byte = 0x09
	PropSubscriptionIdentifier          byte = 0x0B
	PropSessionExpiryInterval           byte = 0x11
	PropAssignedClientIdentifier        byte = 0x12
	PropServerKeepAlive                 byte = 0x13
	PropAuthenticationMethod            byte = 0x15
	PropAuthenticationData              byte = 0x16
	PropRequestProblemInformation       byte = 0x17
	PropWillDelayInterval               byte = 0x18
	PropRequestResponseInformation      byte = 0x19
	PropResponseInformation             byte = 0x1A
	PropServerReference                 byte = 0x1C
	PropReasonString                    byte = 0x1F
	PropReceiveMaximum                  byte = 0x21
	PropTopicAliasMaximum               byte = 0x22
	PropTopicAlias                      byte = 0x23
	PropMaximumQoS                      byte = 0x24
	PropRetainAvailable                 byte = 0x25
	PropUserProperty                    byte = 0x26
	PropMaximumPacketSize               byte = 0x27
	PropWildcardSubscriptionAvailable   byte = 0x28
	PropSubscriptionIdentifierAvailable byte = 0x29
	PropSharedSubscriptionAvailable     byte = 0x2A
)

// propKind is the data representation of a property value.
type propKind byte

const (
	kindNone propKind = iota
	kindByte
	kindUint16
	kindUint32
	kindVarInt
	kindString
	kindBinary
	kindPair
)

// inWill marks properties allowed in the will properties of a CONNECT;
// the other bits of propInfo.in are indexed by packet Type.
const inWill = 1 << Reserved

const (
	inPub   = 1<<PUBLISH | inWill
	inAcks  = 1<<PUBACK | 1<<PUBREC | 1<<PUBREL | 1<<PUBCOMP
	inAll   = 1<<CONNECT | 1<<CONNACK | 1<<PUBLISH | inAcks | 1<<SUBSCRIBE | 1<<SUBACK | 1<<UNSUBSCRIBE | 1<<UNSUBACK | 1<<DISCONNECT | 1<<AUTH | inWill
	inCAuth = 1<<CONNECT | 1<<CONNACK | 1<<AUTH
)

// propInfo describes one property identifier.
type propInfo struct {
	name    string
	kind    propKind
	in      uint32 // packets the property may appear in
	flag    bool   // value must be 0 or 1
	nonZero bool   // value must not be 0
}

var props = [...]propInfo{
	PropPayloadFormatIndicator:          {"PayloadFormatIndicator", kindByte, inPub, true, false},
	PropMessageExpiryInterval:           {"MessageExpiryInterval", kindUint32, inPub, false, false},
	PropContentType:                     {"ContentType", kindString, inPub, false, false},
	PropResponseTopic:                   {"ResponseTopic", kindString, inPub, false, false},
	PropCorrelationData:                 {"CorrelationData", kindBinary, inPub, false, false},
	PropSubscriptionIdentifier:          {"SubscriptionIdentifier", kindVarInt, 1<<PUBLISH | 1<<SUBSCRIBE, false, true},
	PropSessionExpiryInterval:           {"SessionExpiryInterval", kindUint32, 1<<CONNECT | 1<<CONNACK | 1<<DISCONNECT, false, false},
	PropAssignedClientIdentifier:        {"AssignedClientIdentifier", kindString, 1 << CONNACK, false, false},
	PropServerKeepAlive:                 {"ServerKeepAlive", kindUint16, 1 << CONNACK, false, false},
	PropAuthenticationMethod:            {"AuthenticationMethod", kindString, inCAuth, false, false},
	PropAuthenticationData:              {"AuthenticationData", kindBinary, inCAuth, false, false},
	PropRequestProblemInformation:       {"RequestProblemInformation", kindByte, 1 << CONNECT, true, false},
	PropWillDelayInterval:               {"WillDelayInterval", kindUint32, inWill, false, false},
	PropRequestResponseInformation:      {"RequestResponseInformation", kindByte, 1 << CONNECT, true, false},
	PropResponseInformation:             {"ResponseInformation", kindString, 1 << CONNACK, false, false},
	PropServerReference:                 {"ServerReference", kindString, 1<<CONNACK | 1<<DISCONNECT, false, false},
	PropReasonString:                    {"ReasonString", kindString, 1<<CONNACK | inAcks | 1<<SUBACK | 1<<UNSUBACK | 1<<DISCONNECT | 1<<AUTH, false, false},
	PropReceiveMaximum:                  {"ReceiveMaximum", kindUint16, 1<<CONNECT | 1<<CONNACK, false, true},
	PropTopicAliasMaximum:               {"TopicAliasMaximum", kindUint16, 1<<CONNECT | 1<<CONNACK, false, false},
	PropTopicAlias:                      {"TopicAlias", kindUint16, 1 << PUBLISH, false, true},
	PropMaximumQoS:                      {"MaximumQoS", kindByte, 1 << CONNACK, true, false},
	PropRetainAvailable:                 {"RetainAvailable", kindByte, 1 << CONNACK, true, false},
	PropUserProperty:                    {"UserProperty", kindPair, inAll, false, false},
	PropMaximumPacketSize:               {"MaximumPacketSize", kindUint32, 1<<CONNECT | 1<<CONNACK, false, true},
	PropWildcardSubscriptionAvailable:   {"WildcardSubscriptionAvailable", kindByte, 1 << CONNACK, true, false},
	PropSubscriptionIdentifierAvailable: {"SubscriptionIdentifierAvailable", kindByte, 1 << CONNACK, true, false},
	PropSharedSubscriptionAvailable:     {"SharedSubscriptionAvailable", kindByte, 1 << CONNACK, true, false},
}

// propByID returns what is known of a property identifier; kind is
// kindNone for identifiers MQTT 5.0 does not define.
func propByID(id byte) propInfo {
	if int(id) < len(props) {
		return props[id]
	}
	return propInfo{}
}

// Name returns the property's name in the specification without spaces,
// such as "SessionExpiryInterval", or "Property(0xNN)" when unknown.
func (p Property) Name() string {
	if info := propByID(p.ID); info.kind != kindNone {
		return info.name
	}
	return "Property(0x" + hex2(p.ID) + ")"
}

func hex2(b byte) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[b>>4], digits[b&0x0f]})
}

// findProp returns the value of the first property with the given id.
func findProp(ps []Property, id byte) (any, bool) {
	for _, p := range ps {
		if p.ID == id {
			return p.Value, true
		}
	}
	return nil, false
}

// props decodes a property length and the properties that follow, checking
// that each is allowed in the packet (or will, for inWill) given by in.
// A malformed property ends the list but not the decoding of the packet.
func (d *decoder) props(in uint32) []Property {
	n := d.varInt("property length")
	if _, ok := d.take(n, "properties"); !ok || n == 0 {
		return nil
	}
	end, outer := d.pos, d.rem
	d.pos, d.rem, d.inProps = end-n, end, true
	var list []Property
	var seen uint64
	for d.pos < end && !d.stop {
		id := d.b[d.pos]
		d.pos++
		info := propByID(id)
		if info.kind == kindNone {
			d.bad("unknown property identifier 0x%02X", id)
			break
		}
		v, num := d.propValue(info)
		if d.stop {
			break
		}
		d.checkProp(id, info, in, num, &seen)
		list = append(list, Property{ID: id, Value: v})
	}
	d.pos, d.rem, d.inProps, d.stop = end, outer, false, false
	return list
}

// propValue reads one property value; num is its value when numeric.
func (d *decoder) propValue(info propInfo) (v any, num uint32) {
	switch info.kind {
	case kindByte:
		b := d.byte1(info.name)
		return b, uint32(b)
	case kindUint16:
		u := d.uint16(info.name)
		return u, uint32(u)
	case kindUint32:
		u := d.uint32(info.name)
		return u, u
	case kindVarInt:
		u := uint32(d.varInt(info.name))
		return u, u
	case kindString:
		return d.str(info.name), 0
	case kindBinary:
		b, _ := d.binary(info.name)
		return append([]byte{}, b...), 0
	default: // kindPair
		k := d.str("UserProperty name")
		return [2]string{k, d.str("UserProperty value")}, 0
	}
}

// checkProp reports a property that is out of place, repeated or has a
// value the specification forbids.
func (d *decoder) checkProp(id byte, info propInfo, in uint32, num uint32, seen *uint64) {
	where := d.p.Type.String()
	if in == inWill {
		where = "will"
	}
	switch {
	case info.in&in == 0:
		d.bad("property %s not allowed in %s", info.name, where)
	case *seen&(1<<id) != 0 && id != PropUserProperty && !(id == PropSubscriptionIdentifier && in == 1<<PUBLISH):
		d.bad("property %s repeated", info.name)
	case info.flag && num > 1:
		d.bad("property %s value %d, want 0 or 1", info.name, num)
	case info.nonZero && num == 0:
		d.bad("property %s value 0", info.name)
	}
	*seen |= 1 << id
}

// appendProps appends a property length and the encoded properties.
func appendProps(b []byte, ps []Property) []byte {
	var body []byte
	for _, p := range ps {
		body = appendProp(body, p)
	}
	b = AppendVarInt(b, len(body))
	return append(b, body...)
}

// appendProp encodes one property in the representation its identifier
// calls for, or, for unknown identifiers, the one its value's type suggests.
// A value that does not fit the representation is left out.
func appendProp(b []byte, p Property) []byte {
	kind := propByID(p.ID).kind
	if kind == kindNone {
		kind = kindOf(p.Value)
	}
	n, isNum := number(p.Value)
	switch v := p.Value.(type) {
	case string:
		if kind == kindString {
			return AppendString(append(b, p.ID), v)
		}
	case []byte:
		if kind == kindBinary {
			return AppendBinary(append(b, p.ID), v)
		}
	case [2]string:
		if kind == kindPair {
			return AppendString(AppendString(append(b, p.ID), v[0]), v[1])
		}
	}
	if !isNum {
		return b
	}
	switch kind {
	case kindByte:
		return append(b, p.ID, byte(n))
	case kindUint16:
		return binary.BigEndian.AppendUint16(append(b, p.ID), uint16(n))
	case kindUint32:
		return binary.BigEndian.AppendUint32(append(b, p.ID), uint32(n))
	case kindVarInt:
		return AppendVarInt(append(b, p.ID), int(n))
	}
	return b
}

// kindOf guesses a representation from a Go value.
func kindOf(v any) propKind {
	switch v.(type) {
	case byte:
		return kindByte
	case uint16:
		return kindUint16
	case uint32, int:
		return kindUint32
	case string:
		return kindString
	case []byte:
		return kindBinary
	case [2]string:
		return kindPair
	}
	return kindNone
}

// number converts integer property values to uint64.
func number(v any) (uint64, bool) {
	switch n := v.(type) {
	case byte:
		return uint64(n), true
	case uint16:
		return uint64(n), true
	case uint32:
		return uint64(n), true
	case uint64:
		return n, true
	case uint:
		return uint64(n), true
	case int:
		return uint64(n), n >= 0
	case int32:
		return uint64(n), n >= 0
	case int64:
		return uint64(n), n >= 0
	}
	return 0, false
}

// formatPropValue renders a property value for Packet.String.
func formatPropValue(v any) string {
	switch v := v.(type) {
	case string:
		return quote(v, 24)
	case []byte:
		return strconv.Itoa(len(v)) + "B"
	case [2]string:
		return quote(v[0], 16) + ":" + quote(v[1], 16)
	}
	if n, ok := number(v); ok {
		return strconv.FormatUint(n, 10)
	}
	return "?"
}
