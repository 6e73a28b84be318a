package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// FormatVersion is the version written by [History.Save]. [Load] accepts
// histories up to this version.
//
// Version 2 added [KindWire] events and their fields. A version 1 history
// is a valid version 2 history; the bump lets an older reader, which would
// reject wire events as an unknown kind, say why.
const FormatVersion = 2

// Refused is the SUBACK return code for a refused subscription.
const Refused byte = 0x80

// Kind names what an [Event] records.
type Kind string

// Event kinds.
const (
	KindConnected    Kind = "connected"    // CONNACK accepted: Client, CleanSession, SessionPresent
	KindDisconnected Kind = "disconnected" // the client sent DISCONNECT
	KindLost         Kind = "lost"         // the network connection died; Err says why
	KindSubscribed   Kind = "subscribed"   // SUBACK received: Filter, RequestedQoS, GrantedQoS
	KindUnsubscribed Kind = "unsubscribed" // UNSUBACK received: Filter
	KindPublish      Kind = "publish"      // publish attempt: Topic, MsgID, QoS, Retain, Outcome, Done
	KindDelivered    Kind = "delivered"    // message received: Topic, MsgID, QoS, Dup, Retain
	KindDrained      Kind = "drained"      // the harness stopped waiting for deliveries to Client
	// KindWire is an MQTT packet seen on Client's link by the proxy: Conn,
	// FromBroker, Packet, PacketID, Cut; QoS and Dup for PUBLISH;
	// SessionPresent and ReturnCode for CONNACK; MsgID for a whole PUBLISH
	// to the broker whose payload is the message id (see
	// [Recorder.WirePublishAt]); ProtocolLevel for a CONNECT and Codes for
	// a SUBACK when recorded (see [Recorder.WireConnectAt] and
	// [Recorder.WireSubackAt]).
	KindWire Kind = "wire"
)

// Outcome is how a publish attempt ended.
type Outcome string

// Publish outcomes.
const (
	// OutcomePending marks a publish that was never completed. The checker
	// treats it like OutcomeUnknown.
	OutcomePending Outcome = ""
	// OutcomeAcked: the acknowledgement arrived (PUBACK for QoS 1, PUBCOMP
	// for QoS 2; for QoS 0, the client handed the packet to the network).
	OutcomeAcked Outcome = "acked"
	// OutcomeFailed: the message was definitely not sent.
	OutcomeFailed Outcome = "failed"
	// OutcomeUnknown: the link died before the acknowledgement, so the
	// message may or may not have reached the broker.
	OutcomeUnknown Outcome = "unknown"
)

// Event is one recorded fact. Which fields are meaningful depends on Kind;
// the others are zero. At is the time of the event as a duration since the
// recording's base time; for a publish it is the time it was sent.
type Event struct {
	Seq    int64         `json:"seq"` // recording order, breaks ties between equal times
	Kind   Kind          `json:"kind"`
	Client string        `json:"client"`
	At     time.Duration `json:"at"` // nanoseconds since Base

	// Connected, Wire (CONNACK).
	CleanSession   bool `json:"clean_session,omitempty"` // Connected only
	SessionPresent bool `json:"session_present,omitempty"`

	// Subscribed, Unsubscribed.
	Filter       string `json:"filter,omitempty"`
	RequestedQoS byte   `json:"requested_qos,omitempty"`
	GrantedQoS   byte   `json:"granted_qos,omitempty"` // Refused (0x80) if refused

	// Publish, Delivered; QoS and Dup also for Wire (PUBLISH).
	Topic  string `json:"topic,omitempty"`
	MsgID  string `json:"msg_id,omitempty"`
	QoS    byte   `json:"qos,omitempty"`
	Retain bool   `json:"retain,omitempty"`
	Dup    bool   `json:"dup,omitempty"` // Delivered, Wire

	// Publish only.
	Outcome Outcome       `json:"outcome,omitempty"`
	Done    time.Duration `json:"done,omitempty"` // when the outcome was recorded

	// Lost, failed publish: the error, if any.
	Err string `json:"err,omitempty"`

	// Wire.
	Conn       int    `json:"conn,omitempty"`        // the client's TCP connection on its link, numbered from 1
	FromBroker bool   `json:"from_broker,omitempty"` // broker→client; false: client→broker
	Packet     string `json:"packet,omitempty"`      // packet type name: "PUBLISH", "PUBACK", "CONNACK", ...
	PacketID   uint16 `json:"packet_id,omitempty"`   // 0 if the packet has none
	ReturnCode byte   `json:"return_code,omitempty"` // CONNACK
	// ProtocolLevel is the protocol level a CONNECT from the client asked
	// for (3: MQTT 3.1, 4: MQTT 3.1.1, 5: MQTT 5.0); 0 if not recorded, or
	// if the CONNECT's protocol name did not agree with it.
	ProtocolLevel byte `json:"protocol_level,omitempty"`
	// Codes are a SUBACK's return codes, two hex digits each, separated by
	// spaces ("00 01 80"); empty if not recorded.
	Codes string `json:"codes,omitempty"`
	// Cut: the link was cut inside the packet. The receiver never got it
	// whole, but the sender did send it.
	Cut bool `json:"cut,omitempty"`
}

// History is everything recorded during one run. Events are sorted by At.
type History struct {
	Version int       `json:"version"`
	Base    time.Time `json:"base,omitzero"` // wall-clock time of At == 0, for correlating logs
	Events  []Event   `json:"events"`
}

// Save writes h as JSON, one event per line.
func (h History) Save(w io.Writer) error {
	head, err := json.Marshal(struct {
		Version int       `json:"version"`
		Base    time.Time `json:"base,omitzero"`
	}{FormatVersion, h.Base})
	if err != nil {
		return fmt.Errorf("history: save: %w", err)
	}
	bw := bufio.NewWriter(w)
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"events":[`)
	for i := range h.Events {
		line, err := json.Marshal(&h.Events[i])
		if err != nil {
			return fmt.Errorf("history: save event %d: %w", i, err)
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		bw.Write(line)
	}
	bw.WriteString("\n]}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("history: save: %w", err)
	}
	return nil
}

// Load reads a history written by [History.Save] and validates it.
func Load(r io.Reader) (History, error) {
	var h History
	if err := json.NewDecoder(r).Decode(&h); err != nil {
		return History{}, fmt.Errorf("history: load: %w", err)
	}
	if h.Version > FormatVersion {
		return History{}, fmt.Errorf("history: load: format version %d is newer than %d", h.Version, FormatVersion)
	}
	if err := h.Validate(); err != nil {
		return History{}, err
	}
	return h, nil
}

// Validate reports malformed events: unknown kinds, missing clients or
// message ids, QoS values out of range, publish message ids used twice,
// wire events without a connection number or packet type.
// It does not judge the broker; that is [Check]'s job.
func (h History) Validate() error {
	const maxErrs = 10
	var errs []error
	bad := func(i int, e *Event, format string, args ...any) {
		if len(errs) < maxErrs {
			errs = append(errs, fmt.Errorf("history: event %d (%s %s): %s", i, e.Kind, e.Client, fmt.Sprintf(format, args...)))
		}
	}
	published := make(map[string]bool)
	for i := range h.Events {
		e := &h.Events[i]
		if e.Client == "" {
			bad(i, e, "no client")
		}
		if e.At < 0 {
			bad(i, e, "negative time %v", e.At)
		}
		switch e.Kind {
		case KindConnected, KindDisconnected, KindLost, KindDrained:
		case KindSubscribed:
			if e.Filter == "" {
				bad(i, e, "no filter")
			}
			if e.RequestedQoS > 2 {
				bad(i, e, "requested QoS %d", e.RequestedQoS)
			}
			if e.GrantedQoS > 2 && e.GrantedQoS != Refused {
				bad(i, e, "granted QoS %#x", e.GrantedQoS)
			}
		case KindUnsubscribed:
			if e.Filter == "" {
				bad(i, e, "no filter")
			}
		case KindPublish:
			switch e.Outcome {
			case OutcomePending, OutcomeAcked, OutcomeFailed, OutcomeUnknown:
			default:
				bad(i, e, "unknown outcome %q", e.Outcome)
			}
			if published[e.MsgID] {
				bad(i, e, "message id %q published twice", e.MsgID)
			}
			published[e.MsgID] = true
			fallthrough
		case KindDelivered:
			if e.MsgID == "" {
				bad(i, e, "no message id")
			}
			if e.Topic == "" {
				bad(i, e, "no topic")
			}
			if e.QoS > 2 {
				bad(i, e, "QoS %d", e.QoS)
			}
		case KindWire:
			if e.Conn < 1 {
				bad(i, e, "connection number %d (they start at 1)", e.Conn)
			}
			if e.Packet == "" {
				bad(i, e, "no packet type")
			}
			if e.QoS > 2 {
				bad(i, e, "QoS %d", e.QoS)
			}
		default:
			bad(i, e, "unknown kind")
		}
	}
	return errors.Join(errs...)
}
