package wire

import (
	"encoding/hex"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Limits that keep Packet.String to one short line.
const (
	maxShownPayload = 24 // payload bytes
	maxShownString  = 64 // bytes of a topic, filter or client identifier
	maxShownList    = 4  // subscriptions, filters and properties
	maxShownCodes   = 16 // SUBACK and UNSUBACK codes
)

// String returns a compact one-line description for traces, such as
//
//	PUBLISH id=7 q1 dup retain "sensors/1/temp" 12B "21.5C"
//	CONNECT v4 "client1" clean ka=2s will(q1 retain "dead/topic") user
//	CONNACK sp=1 rc=0x00 (Accepted)
//	SUBACK id=3 [0x01 0x80]
//
// followed by MQTT 5.0 properties in braces and " MALFORMED: why" when the
// packet is malformed.
func (p Packet) String() string {
	b := make([]byte, 0, 96)
	b = append(b, p.Type.String()...)
	switch p.Type {
	case CONNECT:
		b = p.appendConnect(b)
	case CONNACK:
		b = append(b, " sp="...)
		b = strconv.AppendInt(b, int64(boolByte(p.SessionPresent)), 10)
		b = p.appendCode(b, true)
	case PUBLISH:
		b = p.appendPublish(b)
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		b = p.appendID(b)
		b = p.appendCode(b, false)
	case SUBSCRIBE, UNSUBSCRIBE:
		b = p.appendID(b)
		b = p.appendSubscriptions(b)
	case SUBACK, UNSUBACK:
		b = p.appendID(b)
		b = appendCodes(b, p.ReasonCodes)
	case DISCONNECT, AUTH:
		b = p.appendCode(b, false)
	}
	if p.Version == V5 && len(p.Properties) > 0 {
		b = appendProperties(append(b, ' '), p.Properties)
	}
	if p.Malformed != "" {
		b = append(b, " MALFORMED: "...)
		b = append(b, p.Malformed...)
	}
	return string(b)
}

func (p Packet) appendConnect(b []byte) []byte {
	b = append(b, " v"...)
	b = strconv.AppendInt(b, int64(p.ProtocolLevel), 10)
	b = append(b, ' ')
	b = append(b, quote(p.ClientID, maxShownString)...)
	if p.CleanStart {
		b = append(b, " clean"...)
	}
	b = append(b, " ka="...)
	b = strconv.AppendInt(b, int64(p.KeepAlive), 10)
	b = append(b, 's')
	if w := p.Will; w != nil {
		b = append(b, " will(q"...)
		b = strconv.AppendInt(b, int64(w.QoS), 10)
		if w.Retain {
			b = append(b, " retain"...)
		}
		b = append(b, ' ')
		b = append(b, quote(w.Topic, maxShownString)...)
		b = append(b, ')')
	}
	if p.HasUsername {
		b = append(b, " user"...)
	}
	if p.HasPassword {
		b = append(b, " pass"...)
	}
	return b
}

func (p Packet) appendPublish(b []byte) []byte {
	if p.QoS > 0 {
		b = p.appendID(b)
	}
	b = append(b, " q"...)
	b = strconv.AppendInt(b, int64(p.QoS), 10)
	if p.DUP {
		b = append(b, " dup"...)
	}
	if p.Retain {
		b = append(b, " retain"...)
	}
	b = append(b, ' ')
	b = append(b, quote(p.Topic, maxShownString)...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(p.PayloadSize), 10)
	b = append(b, 'B')
	if p.PayloadSize > 0 {
		b = appendPayload(append(b, ' '), p.Payload, p.PayloadSize)
	}
	return b
}

func (p Packet) appendID(b []byte) []byte {
	b = append(b, " id="...)
	return strconv.AppendUint(b, uint64(p.PacketID), 10)
}

// appendCode appends " rc=0xNN (text)"; a zero code only when always.
func (p Packet) appendCode(b []byte, always bool) []byte {
	if p.ReasonCode == 0 && !always {
		return b
	}
	b = append(b, " rc=0x"...)
	b = append(b, hex2(p.ReasonCode)...)
	if text := ReturnCodeText(p.Type, p.Version, p.ReasonCode); text != "" {
		b = append(b, " ("...)
		b = append(b, text...)
		b = append(b, ')')
	}
	return b
}

func (p Packet) appendSubscriptions(b []byte) []byte {
	b = append(b, " ["...)
	for i, s := range p.Subscriptions {
		if i == maxShownList {
			b = append(b, " +"...)
			b = strconv.AppendInt(b, int64(len(p.Subscriptions)-i), 10)
			break
		}
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, quote(s.Filter, maxShownString)...)
		if p.Type == SUBSCRIBE {
			b = appendOptions(b, s.Options, p.Version == V5)
		}
	}
	return append(b, ']')
}

// appendOptions appends the requested QoS and, for MQTT 5.0, the other
// subscription options that are set.
func appendOptions(b []byte, o byte, v5 bool) []byte {
	b = append(b, " q"...)
	b = strconv.AppendInt(b, int64(o&3), 10)
	if !v5 {
		return b
	}
	if o&NoLocal != 0 {
		b = append(b, " nl"...)
	}
	if o&RetainAsPublished != 0 {
		b = append(b, " rap"...)
	}
	if rh := o >> RetainHandlingShift & 3; rh != 0 {
		b = append(b, " rh"...)
		b = strconv.AppendInt(b, int64(rh), 10)
	}
	return b
}

func appendCodes(b []byte, codes []byte) []byte {
	if len(codes) == 0 {
		return b
	}
	b = append(b, " ["...)
	for i, c := range codes {
		if i == maxShownCodes {
			b = append(b, " +"...)
			b = strconv.AppendInt(b, int64(len(codes)-i), 10)
			break
		}
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, "0x"...)
		b = append(b, hex2(c)...)
	}
	return append(b, ']')
}

// appendProperties appends the first few properties as {Name=value ...}.
func appendProperties(b []byte, props []Property) []byte {
	b = append(b, '{')
	for i, pr := range props {
		if i == maxShownList {
			b = append(b, " +"...)
			b = strconv.AppendInt(b, int64(len(props)-i), 10)
			break
		}
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, pr.Name()...)
		b = append(b, '=')
		b = append(b, formatPropValue(pr.Value)...)
	}
	return append(b, '}')
}

// appendPayload appends a summary of a payload of size bytes whose first
// bytes are data: quoted text when it reads as text, hex otherwise, and
// "…" when there is more than what is shown.
func appendPayload(b, data []byte, size int) []byte {
	shown := data[:min(len(data), maxShownPayload)]
	if isText(shown) {
		b = strconv.AppendQuote(b, string(shown))
	} else {
		b = append(b, "0x"...)
		b = hex.AppendEncode(b, shown)
	}
	if size > len(shown) {
		b = append(b, "…"...)
	}
	return b
}

// isText tells whether at least three quarters of the runes in b are
// printable or common whitespace. A rune cut at the end of b counts as
// printable.
func isText(b []byte) bool {
	runes, bad := 0, 0
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 && !utf8.FullRune(b) {
			break
		}
		if r == utf8.RuneError && n == 1 || !unicode.IsPrint(r) && r != '\t' && r != '\n' && r != '\r' {
			bad++
		}
		runes++
		b = b[n:]
	}
	return bad*4 <= runes
}

// quote quotes s, cut to at most max bytes on a rune boundary with "…".
func quote(s string, max int) string {
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for i := 0; i < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(s[cut]); i++ {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
