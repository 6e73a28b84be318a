package wire

// Builders for the packets a client writes, one per type, so that no
// caller spells out a Packet by hand. Each returns a Packet ready for
// Encode, for MQTT 3.1.1 unless an Option says otherwise; Options set what
// is not the common case (MQTT 5.0, properties, reason codes, flags). A
// Packet can still be changed field by field afterwards, which is the way
// to build one that breaks a rule on purpose.

// Option changes a packet a builder makes.
type Option func(*Packet)

// With returns p changed by opts.
func (p Packet) With(opts ...Option) Packet {
	for _, o := range opts {
		o(&p)
	}
	return p
}

// Version encodes the packet for protocol level v (V311 or V5; V31 for a
// CONNECT of MQTT 3.1, whose protocol name is "MQIsdp").
func Version(v byte) Option {
	return func(p *Packet) {
		p.Version = v
		if p.Type == CONNECT {
			p.ProtocolLevel, p.ProtocolName = v, "MQTT"
			if v == V31 {
				p.ProtocolName = "MQIsdp"
			}
		}
	}
}

// Props adds MQTT 5.0 properties.
func Props(ps ...Property) Option {
	return func(p *Packet) { p.Properties = append(p.Properties, ps...) }
}

// Code sets the MQTT 5.0 reason code (acknowledgements, DISCONNECT, AUTH).
func Code(c byte) Option { return func(p *Packet) { p.ReasonCode = c } }

// Retained sets RETAIN on a PUBLISH.
func Retained() Option { return func(p *Packet) { p.Retain = true } }

// Duplicate sets DUP on a PUBLISH.
func Duplicate() Option { return func(p *Packet) { p.DUP = true } }

// Padded makes a PUBLISH payload size bytes long, zero bytes after the
// given payload: a large payload without holding it.
func Padded(size int) Option { return func(p *Packet) { p.PayloadSize = size } }

// Connect is a CONNECT for clientID: MQTT 3.1.1, a clean session, keep
// alive 30 seconds, no will and no credentials unless opts say otherwise.
func Connect(clientID string, opts ...Option) Packet {
	p := Packet{Header: Header{Type: CONNECT}, ProtocolName: "MQTT", ProtocolLevel: V311,
		CleanStart: true, KeepAlive: 30, ClientID: clientID}
	return p.With(opts...)
}

// Login sets a CONNECT's user name and password. A password goes only
// with a user name, as MQTT 3.1.1 requires [MQTT-3.1.2-22] (and as every
// client of the harness does in 5.0 too); an empty user name sends
// neither. To send a password alone on purpose, set the fields.
func Login(username, password string) Option {
	return func(p *Packet) {
		p.Username, p.HasUsername = username, username != ""
		p.Password, p.HasPassword = nil, false
		if username != "" && password != "" {
			p.Password, p.HasPassword = []byte(password), true
		}
	}
}

// CleanStart sets a CONNECT's Clean Session (3.1.1) or Clean Start (5.0).
func CleanStart(on bool) Option { return func(p *Packet) { p.CleanStart = on } }

// KeepAlive sets a CONNECT's keep alive, in seconds (0 turns it off).
func KeepAlive(seconds uint16) Option { return func(p *Packet) { p.KeepAlive = seconds } }

// LastWill sets a CONNECT's will message.
func LastWill(w Will) Option { return func(p *Packet) { p.Will = &w } }

// Publish is a PUBLISH of payload to topic at qos with packet id id (no
// id at QoS 0).
func Publish(topic string, qos byte, id uint16, payload string, opts ...Option) Packet {
	p := Packet{Header: Header{Type: PUBLISH}, Topic: topic, QoS: qos}
	if payload != "" {
		p.Payload = []byte(payload)
	}
	if qos > 0 {
		p.PacketID = id
	}
	return p.With(opts...)
}

// Ack is the acknowledgement of type t (PUBACK, PUBREC, PUBREL or
// PUBCOMP) for packet id.
func Ack(t Type, id uint16, opts ...Option) Packet {
	return Packet{Header: Header{Type: t}, PacketID: id}.With(opts...)
}

// PubAck answers a QoS 1 PUBLISH.
func PubAck(id uint16, opts ...Option) Packet { return Ack(PUBACK, id, opts...) }

// PubRec answers a QoS 2 PUBLISH.
func PubRec(id uint16, opts ...Option) Packet { return Ack(PUBREC, id, opts...) }

// PubRel answers a PUBREC.
func PubRel(id uint16, opts ...Option) Packet { return Ack(PUBREL, id, opts...) }

// PubComp answers a PUBREL.
func PubComp(id uint16, opts ...Option) Packet { return Ack(PUBCOMP, id, opts...) }

// Sub is one topic filter of a SUBSCRIBE at qos; options are the other
// MQTT 5.0 subscription options (NoLocal, RetainAsPublished, Retain
// Handling shifted by RetainHandlingShift).
func Sub(filter string, qos byte, options ...byte) Subscription {
	s := Subscription{Filter: filter, QoS: qos, Options: qos}
	for _, o := range options {
		s.Options |= o
	}
	return s
}

// Subscribe is a SUBSCRIBE with packet id id asking for subs, in order.
// MQTT 5.0 fields: Subscribe(...).With(Version(V5), Props(...)).
func Subscribe(id uint16, subs ...Subscription) Packet {
	return Packet{Header: Header{Type: SUBSCRIBE}, PacketID: id, Subscriptions: subs}
}

// Unsubscribe is an UNSUBSCRIBE with packet id id of filters, in order.
func Unsubscribe(id uint16, filters ...string) Packet {
	subs := make([]Subscription, len(filters))
	for i, f := range filters {
		subs[i].Filter = f
	}
	return Packet{Header: Header{Type: UNSUBSCRIBE}, PacketID: id, Subscriptions: subs}
}

// PingReq is a PINGREQ.
func PingReq() Packet { return Packet{Header: Header{Type: PINGREQ}} }

// Disconnect is a DISCONNECT (MQTT 5.0: with Version(V5), Code, Props).
func Disconnect(opts ...Option) Packet {
	return Packet{Header: Header{Type: DISCONNECT}}.With(opts...)
}

// Auth is an MQTT 5.0 AUTH with reason code code.
func Auth(code byte, opts ...Option) Packet {
	return Packet{Header: Header{Type: AUTH}, Version: V5, ReasonCode: code}.With(opts...)
}
