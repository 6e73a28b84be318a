package wire

// Subscription is one topic filter of a SUBSCRIBE, or of an UNSUBSCRIBE,
// where only Filter is set.
type Subscription struct {
	Filter  string
	QoS     byte // requested QoS, Options&3
	Options byte // the whole options byte (MQTT 5.0 adds No Local, Retain As Published, Retain Handling)
}

// Subscription option bits of MQTT 5.0.
const (
	NoLocal             byte = 0x04
	RetainAsPublished   byte = 0x08
	RetainHandlingShift      = 4 // Retain Handling is (Options >> 4) & 3
)

// Will is the will message announced by a CONNECT.
type Will struct {
	Topic       string
	QoS         byte
	Retain      bool
	PayloadSize int        // bytes of the will payload
	Payload     []byte     // the will payload bytes available (a preview from Stream)
	Properties  []Property // MQTT 5.0 will properties
}

// Packet is one decoded control packet. Fields that the packet type does not
// carry stay zero.
type Packet struct {
	Header
	Version byte // protocol level used to decode (V311 if unknown and not CONNECT)

	// PUBLISH
	QoS         byte
	DUP, Retain bool
	PacketID    uint16 // 0 when the packet type carries none
	Topic       string
	PayloadSize int    // bytes of application payload, known from Remaining Length even when not all seen
	Payload     []byte // payload bytes available; Decode returns a sub-slice of its input

	// CONNECT
	ProtocolName  string
	ProtocolLevel byte
	ConnectFlags  byte
	CleanStart    bool // Clean Session (3.1.1) or Clean Start (5.0)
	KeepAlive     uint16
	ClientID      string
	Will          *Will
	Username      string
	HasUsername   bool
	HasPassword   bool
	Password      []byte // used only by Encode; Decode never keeps a password

	// CONNACK
	SessionPresent bool

	// ReasonCode is the CONNACK return code (3.1.1) or the MQTT 5.0 reason code
	// of CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, DISCONNECT and AUTH.
	ReasonCode byte

	// Subscriptions of a SUBSCRIBE, or the filters of an UNSUBSCRIBE.
	Subscriptions []Subscription

	// ReasonCodes are the SUBACK return codes, or the UNSUBACK reason codes (5.0).
	ReasonCodes []byte

	Properties []Property // MQTT 5.0 only

	// Malformed says why the bytes break the packet grammar. Fields decoded
	// before the problem was found stay set.
	Malformed string
}
