package wire

import (
	"encoding/binary"
	"fmt"

	"github.com/faultline-mqtt/faultline/proxy/wire/topics"
)

// Decode decodes the packet at the start of b. Trailing bytes after the
// packet are ignored.
//
// b may hold only a prefix of the packet. Then the fields beyond b stay zero
// and the error is ErrIncomplete, except when all that is missing is PUBLISH
// payload: then the error is nil, Payload holds the part present and
// PayloadSize the whole size. Payload and Will.Payload are sub-slices of b.
//
// version selects the grammar (V5 properties and reason codes, or 3.1.1);
// a CONNECT brings its own. Grammar violations do not make an error: they
// are reported in Packet.Malformed. The only other error is ErrLength, for a
// fixed header that cannot be framed.
func Decode(b []byte, version byte) (Packet, error) {
	h, ok, err := ParseHeader(b)
	if err != nil {
		return Packet{Header: h, Malformed: "remaining length longer than 4 bytes"}, err
	}
	if !ok {
		return Packet{Header: h}, ErrIncomplete
	}
	d := decoder{b: b[h.Len:min(len(b), h.Size())], rem: h.Remaining}
	d.p.Header = h
	d.p.Version = decodeVersion(version)
	d.packet()
	if d.incomplete || (len(d.b) < h.Remaining && h.Type != PUBLISH) {
		return d.p, ErrIncomplete
	}
	return d.p, nil
}

// decoder reads the fields of one packet body into p. A read past the end
// of what is available stops the decoding: past rem it makes the packet
// malformed, past b only incomplete.
type decoder struct {
	p          Packet
	b          []byte // the body bytes available
	rem        int    // the length the body should have
	pos        int
	inProps    bool // rem is the end of a property list for now
	stop       bool // a read failed; nothing more is decoded
	incomplete bool // a read failed because b is cut short
}

// bad records why the packet is malformed; the first reason wins.
func (d *decoder) bad(format string, a ...any) {
	if d.p.Malformed == "" {
		d.p.Malformed = fmt.Sprintf(format, a...)
	}
}

// take returns the next n bytes.
func (d *decoder) take(n int, what string) ([]byte, bool) {
	if d.stop {
		return nil, false
	}
	end := d.pos + n
	switch {
	case n < 0 || end > d.rem:
		d.stop = true
		limit := "remaining length"
		if d.inProps {
			limit = "property length"
		}
		d.bad("%s runs past %s", what, limit)
		return nil, false
	case end > len(d.b):
		d.stop, d.incomplete = true, true
		return nil, false
	}
	s := d.b[d.pos:end:end]
	d.pos = end
	return s, true
}

func (d *decoder) byte1(what string) byte {
	if s, ok := d.take(1, what); ok {
		return s[0]
	}
	return 0
}

func (d *decoder) uint16(what string) uint16 {
	if s, ok := d.take(2, what); ok {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

func (d *decoder) uint32(what string) uint32 {
	if s, ok := d.take(4, what); ok {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

// varInt reads a Variable Byte Integer.
func (d *decoder) varInt(what string) int {
	v := 0
	for i := 0; i < 4; i++ {
		s, ok := d.take(1, what)
		if !ok {
			return 0
		}
		v |= int(s[0]&0x7f) << (7 * i)
		if s[0] < 0x80 {
			return v
		}
	}
	d.bad("%s longer than 4 bytes", what)
	d.stop = true
	return 0
}

// binary reads two-byte length prefixed data, returning the length even
// when the data is not all there.
func (d *decoder) binary(what string) (data []byte, n int) {
	n = int(d.uint16(what))
	data, _ = d.take(n, what)
	return data, n
}

// str reads a UTF-8 encoded string.
func (d *decoder) str(what string) string {
	b, _ := d.binary(what)
	if why := topics.UTF8Problem(b); why != "" {
		d.bad("%s %s", what, why)
	}
	return string(b)
}

// flags reports fixed header flags other than want.
func (d *decoder) flags(want byte) {
	if d.p.Flags != want {
		d.bad("%s flags 0x%X, want 0x%X", d.p.Type, d.p.Flags, want)
	}
}

// end reports bytes left over after the last field.
func (d *decoder) end() {
	if !d.stop && d.pos < d.rem {
		d.bad("remaining length %d leaves %d bytes after the last field", d.rem, d.rem-d.pos)
	}
}

// code reports a return or reason code the packet type does not allow.
func (d *decoder) code(c byte) {
	if d.stop || validCode(d.p.Type, d.p.Version, c) {
		return
	}
	if d.v5() {
		d.bad("%s reason code 0x%02X not allowed", d.p.Type, c)
	} else {
		d.bad("%s return code 0x%02X not allowed", d.p.Type, c)
	}
}

// packetID reads a packet identifier, which must not be 0.
func (d *decoder) packetID() {
	d.p.PacketID = d.uint16("packet identifier")
	if !d.stop && d.p.PacketID == 0 {
		d.bad("packet identifier 0")
	}
}

func (d *decoder) v5() bool { return d.p.Version == V5 }

// packet decodes the body for the packet type.
func (d *decoder) packet() {
	switch d.p.Type {
	case CONNECT:
		d.connect()
	case CONNACK:
		d.connack()
	case PUBLISH:
		d.publish()
		return
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		d.ack()
	case SUBSCRIBE:
		d.subscribe()
	case SUBACK, UNSUBACK:
		d.subAck()
	case UNSUBSCRIBE:
		d.unsubscribe()
	case PINGREQ, PINGRESP:
		d.flags(0)
	case DISCONNECT, AUTH:
		d.disconnect()
	default:
		d.bad("reserved packet type 0")
		return
	}
	d.end()
}

func (d *decoder) connect() {
	p := &d.p
	d.flags(0)
	p.ProtocolName = d.str("protocol name")
	p.ProtocolLevel = d.byte1("protocol level")
	p.ConnectFlags = d.byte1("connect flags")
	p.KeepAlive = d.uint16("keep alive")
	if d.stop {
		return
	}
	p.Version = p.ProtocolLevel
	switch {
	case p.Version < V31 || p.Version > V5:
		d.bad("unsupported protocol level %d", p.Version)
		d.pos = d.rem // the rest follows an unknown grammar
		return
	case (p.Version == V31) != (p.ProtocolName == "MQIsdp") || p.Version != V31 && p.ProtocolName != "MQTT":
		d.bad("protocol name %q with level %d", p.ProtocolName, p.Version)
	}
	f := p.ConnectFlags
	p.CleanStart = f&0x02 != 0
	p.HasUsername, p.HasPassword = f&0x80 != 0, f&0x40 != 0
	d.checkConnectFlags(f)
	if d.v5() {
		p.Properties = d.props(1 << CONNECT)
	}
	p.ClientID = d.str("client identifier")
	if f&0x04 != 0 {
		d.will(f)
	}
	if p.HasUsername {
		p.Username = d.str("user name")
	}
	if p.HasPassword {
		d.binary("password")
	}
}

func (d *decoder) checkConnectFlags(f byte) {
	qos, retain := f>>3&3, f&0x20 != 0
	switch {
	case f&0x01 != 0:
		d.bad("reserved connect flag set")
	case f&0x04 == 0 && (qos != 0 || retain):
		d.bad("will QoS or retain set without will flag")
	case qos == 3:
		d.bad("will QoS 3")
	case !d.v5() && f&0xC0 == 0x40:
		d.bad("password flag without user name flag")
	}
}

func (d *decoder) will(f byte) {
	w := &Will{QoS: f >> 3 & 3, Retain: f&0x20 != 0}
	d.p.Will = w
	if d.v5() {
		w.Properties = d.props(inWill)
	}
	w.Topic = d.str("will topic")
	if !d.stop {
		d.topicName(w.Topic, false)
	}
	w.Payload, w.PayloadSize = d.binary("will payload")
	if len(w.Payload) == 0 {
		w.Payload = nil
	}
}

func (d *decoder) connack() {
	p := &d.p
	d.flags(0)
	ack := d.byte1("acknowledge flags")
	p.SessionPresent = ack&0x01 != 0
	p.ReasonCode = d.byte1("return code")
	if d.stop {
		return
	}
	switch {
	case ack&0xFE != 0:
		d.bad("reserved acknowledge flags 0x%02X", ack)
	case p.SessionPresent && p.ReasonCode != 0:
		d.bad("session present with return code 0x%02X", p.ReasonCode)
	}
	d.code(p.ReasonCode)
	if d.v5() {
		p.Properties = d.props(1 << CONNACK)
	}
}

func (d *decoder) publish() {
	p := &d.p
	p.DUP, p.QoS, p.Retain = p.Flags&0x08 != 0, p.Flags>>1&3, p.Flags&0x01 != 0
	switch {
	case p.QoS == 3:
		d.bad("PUBLISH QoS 3")
	case p.DUP && p.QoS == 0:
		d.bad("PUBLISH DUP set with QoS 0")
	}
	p.Topic = d.str("topic name")
	if p.QoS > 0 {
		d.packetID()
	}
	if d.v5() {
		p.Properties = d.props(1 << PUBLISH)
	}
	if d.stop {
		return
	}
	_, alias := findProp(p.Properties, PropTopicAlias)
	d.topicName(p.Topic, alias)
	p.PayloadSize = d.rem - d.pos
	if d.pos < len(d.b) {
		p.Payload = d.b[d.pos:len(d.b):len(d.b)]
	}
	d.pos = d.rem
}

// topicName reports a topic name that is empty (unless a topic alias
// stands for it) or holds wildcards.
func (d *decoder) topicName(s string, alias bool) {
	if why := topics.NameProblem(s, alias); why != "" {
		d.bad("%s", why)
	}
}

func (d *decoder) ack() {
	p := &d.p
	if p.Type == PUBREL {
		d.flags(0x02)
	} else {
		d.flags(0)
	}
	p.PacketID = d.uint16("packet identifier")
	if !d.v5() {
		return
	}
	if d.rem > 2 {
		p.ReasonCode = d.byte1("reason code")
		d.code(p.ReasonCode)
	}
	if d.rem > 3 {
		p.Properties = d.props(1 << p.Type)
	}
}

func (d *decoder) subscribe() {
	p := &d.p
	d.flags(0x02)
	d.packetID()
	if d.v5() {
		p.Properties = d.props(1 << SUBSCRIBE)
	}
	for !d.stop && d.pos < d.rem {
		f := d.str("topic filter")
		o := d.byte1("subscription options")
		if d.stop {
			break
		}
		d.topicFilter(f)
		d.options(f, o)
		p.Subscriptions = append(p.Subscriptions, Subscription{Filter: f, QoS: o & 3, Options: o})
	}
	if !d.stop && len(p.Subscriptions) == 0 {
		d.bad("SUBSCRIBE with no topic filters")
	}
}

// options reports subscription options the protocol version forbids.
func (d *decoder) options(filter string, o byte) {
	switch {
	case o&3 == 3:
		d.bad("requested QoS 3 for %s", quote(filter, 32))
	case !d.v5() && o&0xFC != 0:
		d.bad("reserved subscription option bits 0x%02X", o)
	case d.v5() && o&0xC0 != 0:
		d.bad("reserved subscription option bits 0x%02X", o)
	case d.v5() && o>>RetainHandlingShift&3 == 3:
		d.bad("retain handling 3 for %s", quote(filter, 32))
	case d.v5() && o&NoLocal != 0 && topics.IsShared(filter):
		d.bad("no local set on shared subscription %s", quote(filter, 32))
	}
}

func (d *decoder) topicFilter(f string) {
	if why := topics.FilterProblem(f, d.v5()); why != "" {
		d.bad("%s", why)
	}
}

func (d *decoder) unsubscribe() {
	p := &d.p
	d.flags(0x02)
	d.packetID()
	if d.v5() {
		p.Properties = d.props(1 << UNSUBSCRIBE)
	}
	for !d.stop && d.pos < d.rem {
		f := d.str("topic filter")
		if d.stop {
			break
		}
		d.topicFilter(f)
		p.Subscriptions = append(p.Subscriptions, Subscription{Filter: f})
	}
	if !d.stop && len(p.Subscriptions) == 0 {
		d.bad("UNSUBSCRIBE with no topic filters")
	}
}

// subAck decodes SUBACK, and UNSUBACK whose 3.1.1 form has no codes.
func (d *decoder) subAck() {
	p := &d.p
	d.flags(0)
	p.PacketID = d.uint16("packet identifier")
	if p.Type == UNSUBACK && !d.v5() {
		return
	}
	if d.v5() {
		p.Properties = d.props(1 << p.Type)
	}
	if d.stop {
		return
	}
	codes, ok := d.take(d.rem-d.pos, "reason codes")
	if !ok {
		return
	}
	if len(codes) == 0 {
		d.bad("%s with no reason codes", p.Type)
		return
	}
	p.ReasonCodes = append([]byte(nil), codes...)
	for _, c := range codes {
		d.code(c)
	}
}

// disconnect decodes DISCONNECT and AUTH, whose MQTT 5.0 forms may omit
// the reason code and the properties.
func (d *decoder) disconnect() {
	p := &d.p
	d.flags(0)
	if !d.v5() {
		if p.Type == AUTH {
			d.bad("AUTH is reserved in MQTT 3.1.1")
			d.pos = d.rem
		}
		return
	}
	if d.rem > 0 {
		p.ReasonCode = d.byte1("reason code")
		d.code(p.ReasonCode)
	}
	if d.rem > 1 {
		p.Properties = d.props(1 << p.Type)
	}
}
