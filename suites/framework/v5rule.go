package framework

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/proxy/wire/topics"
)

// The MQTT 5.0 encoding rule: every packet a broker sends to a client that
// connected with MQTT 5.0 is judged, byte for byte, against the encoding
// rules of the 5.0 standard a receiver cannot repair: Variable Byte
// Integers in the fewest bytes, the reserved flag bits of the fixed
// header, a Property Length where the packet must carry one, well-formed
// UTF-8 in the topic name and the string properties a PUBLISH forwards, no
// wildcard in a forwarded Response Topic, and an AUTH's reason code.
// Client5 judges every packet it reads, a Raw5 connection every packet the
// spec reads; a spec that breaks the rule fails when it ends (judgeV5),
// and a spec may ask for the rule's findings so far (V5WireProblems).

// V5WireProblems lists what the broker has sent the spec's MQTT 5.0
// clients so far that breaks the 5.0 encoding rules, one line per
// packet, naming the statement broken.
func (f *Framework) V5WireProblems() []string {
	var out []string
	for _, n := range f.v5wire.notes() {
		out = append(out, n.text)
	}
	return out
}

// judgeV5 fails the spec when the broker sent one of its MQTT 5.0 clients
// a packet that breaks the 5.0 encoding rules before the spec's clean-up.
func (f *Framework) judgeV5(context.Context) {
	cut := f.done.Sub(f.start)
	var lines []string
	for _, n := range f.v5wire.notes() {
		if n.at <= cut {
			lines = append(lines, n.text)
		}
	}
	if len(lines) > 0 {
		failOrExcuse("The broker sent an MQTT 5.0 client packets that break the MQTT 5.0 encoding rules:\n" + strings.Join(lines, "\n"))
	}
}

// v5WireLog gathers the rule's findings of one spec; clients note them
// from their reading goroutines.
type v5WireLog struct {
	mu   sync.Mutex
	list []v5WireNote
}

type v5WireNote struct {
	at   time.Duration // since the spec began
	text string
}

func (l *v5WireLog) notes() []v5WireNote {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]v5WireNote(nil), l.list...)
}

// noteV5Wire judges packet b, sent by the broker to the 5.0 client who on
// its connection conn.
func (f *Framework) noteV5Wire(who string, conn int, b []byte) {
	problems := v5WireProblems(b)
	if len(problems) == 0 {
		return
	}
	at := time.Since(f.start)
	p, _ := wire.Decode(b, wire.V5)
	p.Malformed = "" // the problems say what is wrong
	text := fmt.Sprintf("%s, connection %d: %s: %s", who, conn, p, strings.Join(problems, "; "))
	f.v5wire.mu.Lock()
	defer f.v5wire.mu.Unlock()
	f.v5wire.list = append(f.v5wire.list, v5WireNote{at: at, text: text})
}

// v5WireProblems judges one whole packet b that a server sent to an MQTT
// 5.0 client, and says which encoding rules it breaks, each with its
// statement. Bytes that cannot be framed are for the client's reader to
// report, not this rule.
func v5WireProblems(b []byte) []string {
	h, ok, err := wire.ParseHeader(b)
	if err != nil || !ok || len(b) < h.Size() {
		return nil
	}
	var out []string
	if fewest := 1 + varIntLen(h.Remaining); h.Len != fewest {
		out = append(out, fmt.Sprintf("remaining length %d encoded in %d bytes, not the fewest (%d) [MQTT-1.5.5-1]", h.Remaining, h.Len-1, fewest-1))
	}
	if want, fixed := reservedFlags(h.Type); fixed && h.Flags != want {
		statement := "MQTT-2.1.3-1"
		if h.Type == wire.AUTH {
			statement += ", MQTT-3.15.1-1"
		}
		out = append(out, fmt.Sprintf("fixed-header flags 0x%X, the %s flags are 0x%X [%s]", h.Flags, h.Type, want, statement))
	}
	p, _ := wire.Decode(b, wire.V5)
	if p.Malformed != "" && propertyLengthWrong(p.Malformed) {
		out = append(out, fmt.Sprintf("its properties do not parse (%s): a Property Length missing or wrong [MQTT-2.2.2-1]", p.Malformed))
	} else if at := propertiesAt(p, b[h.Len:h.Size()]); at >= 0 {
		out = append(out, varIntsOfProperties(b[h.Len:h.Size()], at)...)
	}
	if p.Type == wire.PUBLISH {
		if why := topics.UTF8Problem([]byte(p.Topic)); why != "" {
			out = append(out, fmt.Sprintf("the topic name %s [MQTT-3.3.2-1]", why))
		}
	}
	for _, prop := range p.Properties {
		switch v := prop.Value.(type) {
		case [2]string:
			for i, s := range v {
				if why := topics.UTF8Problem([]byte(s)); why != "" {
					out = append(out, fmt.Sprintf("a User Property %s %s [MQTT-1.5.7-1]", [2]string{"name", "value"}[i], why))
				}
			}
		case string:
			switch prop.ID {
			case wire.PropResponseTopic:
				if why := topics.UTF8Problem([]byte(v)); why != "" {
					out = append(out, fmt.Sprintf("the Response Topic %s [MQTT-3.3.2-13]", why))
				}
				if strings.ContainsAny(v, "+#") {
					out = append(out, fmt.Sprintf("the Response Topic %q holds a wildcard [MQTT-3.3.2-14]", v))
				}
			case wire.PropContentType:
				if why := topics.UTF8Problem([]byte(v)); why != "" {
					out = append(out, fmt.Sprintf("the Content Type %s [MQTT-3.3.2-19]", why))
				}
			}
		}
	}
	if p.Type == wire.AUTH && wire.ReturnCodeText(wire.AUTH, wire.V5, p.ReasonCode) == "" {
		out = append(out, fmt.Sprintf("AUTH reason code 0x%02X, which AUTH does not define [MQTT-3.15.2-1]", p.ReasonCode))
	}
	return out
}

// varIntLen is the fewest bytes a Variable Byte Integer holding v takes.
func varIntLen(v int) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// reservedFlags is the value the flag table of MQTT 5.0 (2.1.3) gives the
// fixed-header flags of type t; fixed is false for PUBLISH, whose flags
// carry DUP, QoS and RETAIN.
func reservedFlags(t wire.Type) (want byte, fixed bool) {
	switch t {
	case wire.PUBLISH:
		return 0, false
	case wire.PUBREL, wire.SUBSCRIBE, wire.UNSUBSCRIBE:
		return 0x02, true
	}
	return 0, true
}

// propertyLengthWrong says whether the decoder's complaint about a packet
// comes from a property list that does not fit where it should be: what a
// missing (or wrong) Property Length leads to.
func propertyLengthWrong(malformed string) bool {
	return strings.Contains(malformed, "propert") || strings.Contains(malformed, "with no reason codes")
}

// propertiesAt is the offset in body, the packet's bytes after the fixed
// header, of its Property Length, or -1 when it carries none (a short
// acknowledgement, DISCONNECT or AUTH may leave it out).
func propertiesAt(p wire.Packet, body []byte) int {
	at := -1
	switch p.Type {
	case wire.CONNACK, wire.SUBACK, wire.UNSUBACK:
		at = 2
	case wire.PUBLISH:
		at = 2 + len(p.Topic)
		if p.QoS > 0 {
			at += 2
		}
	case wire.PUBACK, wire.PUBREC, wire.PUBREL, wire.PUBCOMP:
		if len(body) >= 4 {
			at = 3
		}
	case wire.DISCONNECT, wire.AUTH:
		if len(body) >= 2 {
			at = 1
		}
	}
	if at >= len(body) {
		return -1
	}
	return at
}

// varIntsOfProperties checks the Variable Byte Integers of the property
// list whose Property Length starts at body[at]: the length itself and
// each Subscription Identifier must take the fewest bytes.
func varIntsOfProperties(body []byte, at int) []string {
	var out []string
	n, size := readVarInt(body[at:])
	if size == 0 {
		return nil
	}
	if size != varIntLen(n) {
		out = append(out, fmt.Sprintf("property length %d encoded in %d bytes, not the fewest (%d) [MQTT-1.5.5-1]", n, size, varIntLen(n)))
	}
	list := body[at+size:]
	if n > len(list) {
		return out
	}
	list = list[:n]
	for i := 0; i < len(list); {
		id := list[i]
		i++
		switch id {
		case wire.PropSubscriptionIdentifier:
			v, size := readVarInt(list[i:])
			if size == 0 {
				return out
			}
			if size != varIntLen(v) {
				out = append(out, fmt.Sprintf("Subscription Identifier %d encoded in %d bytes, not the fewest (%d) [MQTT-1.5.5-1]", v, size, varIntLen(v)))
			}
			i += size
		default:
			skip := propertySize(id, list[i:])
			if skip < 0 {
				return out
			}
			i += skip
		}
	}
	return out
}

// readVarInt reads a Variable Byte Integer at the start of b: its value and
// size, or size 0 when it does not end within b or four bytes.
func readVarInt(b []byte) (v, size int) {
	for i := 0; i < 4 && i < len(b); i++ {
		v |= int(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// propertySize is the size of the value of property id at the start of b,
// or -1 when the identifier is unknown or the value runs past b.
func propertySize(id byte, b []byte) int {
	str := func(b []byte) int {
		if len(b) < 2 {
			return -1
		}
		return 2 + (int(b[0])<<8 | int(b[1]))
	}
	size := -1
	switch id {
	case wire.PropPayloadFormatIndicator, wire.PropRequestProblemInformation, wire.PropWildcardSubscriptionAvailable,
		wire.PropSubscriptionIdentifierAvailable, wire.PropSharedSubscriptionAvailable, wire.PropMaximumQoS,
		wire.PropRetainAvailable, wire.PropRequestResponseInformation:
		size = 1
	case wire.PropServerKeepAlive, wire.PropReceiveMaximum, wire.PropTopicAliasMaximum, wire.PropTopicAlias:
		size = 2
	case wire.PropMessageExpiryInterval, wire.PropSessionExpiryInterval, wire.PropWillDelayInterval, wire.PropMaximumPacketSize:
		size = 4
	case wire.PropContentType, wire.PropResponseTopic, wire.PropCorrelationData, wire.PropAssignedClientIdentifier,
		wire.PropAuthenticationMethod, wire.PropAuthenticationData, wire.PropResponseInformation, wire.PropServerReference,
		wire.PropReasonString:
		size = str(b)
	case wire.PropUserProperty:
		if k := str(b); k >= 0 && k <= len(b) {
			if v := str(b[k:]); v >= 0 {
				size = k + v
			}
		}
	}
	if size > len(b) {
		return -1
	}
	return size
}
