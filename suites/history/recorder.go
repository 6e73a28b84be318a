package history

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Recorder collects the events of one run. It is safe for concurrent use by
// many client goroutines. Every event is timestamped when it is recorded.
type Recorder struct {
	mu     sync.Mutex
	base   time.Time
	mono   time.Time // base with its monotonic reading, to place given moments
	now    func() time.Duration
	events []Event
}

// NewRecorder returns a recorder whose times are measured on the monotonic
// clock from now.
func NewRecorder() *Recorder {
	base := time.Now()
	return &Recorder{
		base: base.Round(0), // strip the monotonic reading from the stored wall time
		mono: base,
		now:  func() time.Duration { return time.Since(base) },
	}
}

// NewRecorderWithClock returns a recorder that asks now for the time of each
// event. now must never go backwards. It is meant for tests and replays.
func NewRecorderWithClock(now func() time.Duration) *Recorder {
	return &Recorder{now: now}
}

// Now returns the recorder's current time.
func (r *Recorder) Now() time.Duration { return r.now() }

// record stamps e with the time and recording order and appends it. The
// clock is read under the lock so that recording order and time agree.
func (r *Recorder) record(e Event) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.At = r.now()
	e.Seq = int64(len(r.events))
	r.events = append(r.events, e)
	return len(r.events) - 1
}

// recordAt is record for an event that happened at a given moment (zero,
// or a recorder with its own clock: now).
func (r *Recorder) recordAt(at time.Time, e Event) int {
	if at.IsZero() || r.mono.IsZero() {
		return r.record(e)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e.At = at.Sub(r.mono)
	e.Seq = int64(len(r.events))
	r.events = append(r.events, e)
	return len(r.events) - 1
}

// Connected records an accepted CONNACK for client: the clean-session flag it
// connected with and the session-present flag the broker returned.
func (r *Recorder) Connected(client string, cleanSession, sessionPresent bool) {
	r.record(Event{Kind: KindConnected, Client: client, CleanSession: cleanSession, SessionPresent: sessionPresent})
}

// ConnectedAt is Connected for a CONNACK that crossed the wire at a given
// moment (zero: now).
func (r *Recorder) ConnectedAt(at time.Time, client string, cleanSession, sessionPresent bool) {
	r.recordAt(at, Event{Kind: KindConnected, Client: client, CleanSession: cleanSession, SessionPresent: sessionPresent})
}

// WireEndAt records that the client's side of connection conn ended at a
// given moment: the client closed it, or a fault cut it. What the broker
// writes to that connection afterwards reaches no client.
func (r *Recorder) WireEndAt(at time.Time, client string, conn int) {
	r.recordAt(at, Event{Kind: KindWire, Client: client, Conn: conn, Packet: WireEnd})
}

// Disconnected records that client ended its connection with DISCONNECT.
func (r *Recorder) Disconnected(client string) {
	r.record(Event{Kind: KindDisconnected, Client: client})
}

// Lost records that client's network connection died. err may be nil.
func (r *Recorder) Lost(client string, err error) {
	r.record(Event{Kind: KindLost, Client: client, Err: errString(err)})
}

// Subscribed records a SUBACK received by client for filter. granted is the
// return code: the granted QoS, or [Refused].
func (r *Recorder) Subscribed(client, filter string, requested, granted byte) {
	r.record(Event{Kind: KindSubscribed, Client: client, Filter: filter, RequestedQoS: requested, GrantedQoS: granted})
}

// SubscribedAt is Subscribed for a SUBACK that crossed the wire at a given
// moment (zero: now).
func (r *Recorder) SubscribedAt(at time.Time, client, filter string, requested, granted byte) {
	r.recordAt(at, Event{Kind: KindSubscribed, Client: client, Filter: filter, RequestedQoS: requested, GrantedQoS: granted})
}

// UnsubscribedAt is Unsubscribed for an UNSUBACK that crossed the wire at
// a given moment (zero: now).
func (r *Recorder) UnsubscribedAt(at time.Time, client, filter string) {
	r.recordAt(at, Event{Kind: KindUnsubscribed, Client: client, Filter: filter})
}

// Unsubscribed records an UNSUBACK received by client for filter.
func (r *Recorder) Unsubscribed(client, filter string) {
	r.record(Event{Kind: KindUnsubscribed, Client: client, Filter: filter})
}

// Publish records that client is sending message msgID (unique per run) to
// topic, and returns the attempt to complete once its fate is known. An
// attempt that is never completed counts as indeterminate.
func (r *Recorder) Publish(client, topic, msgID string, qos byte, retain bool) *Attempt {
	i := r.record(Event{Kind: KindPublish, Client: client, Topic: topic, MsgID: msgID, QoS: qos, Retain: retain})
	return &Attempt{r: r, i: i}
}

// Delivered records that client received message msgID on topic with the
// given QoS, DUP and RETAIN flags.
func (r *Recorder) Delivered(client, topic, msgID string, qos byte, dup, retain bool) {
	r.record(Event{Kind: KindDelivered, Client: client, Topic: topic, MsgID: msgID, QoS: qos, Dup: dup, Retain: retain})
}

// DeliveredAt is Delivered for a message that crossed the wire at a
// given moment: the delivery belongs to the connection (and so the
// session) it arrived on, even when the client hands it to the
// application only after a reconnect.
func (r *Recorder) DeliveredAt(at time.Time, client, topic, msgID string, qos byte, dup, retain bool) {
	r.recordAt(at, Event{Kind: KindDelivered, Client: client, Topic: topic, MsgID: msgID, QoS: qos, Dup: dup, Retain: retain})
}

// Drained records that the harness has finished waiting for deliveries to
// client. Missing deliveries are judged lost only for drained subscribers.
func (r *Recorder) Drained(client string) {
	r.record(Event{Kind: KindDrained, Client: client})
}

// Wire records a packet that crossed client's link whole, as decoded by the
// proxy. conn numbers the client's TCP connections on its link from 1.
// fromBroker gives the direction (broker→client if true). typ is the packet
// type name ("PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "CONNACK",
// ...), id the packet identifier (0 if none), qos and dup the flags of a
// PUBLISH, sessionPresent and returnCode those of a CONNACK; pass zero
// values for fields the packet does not have.
//
// The wire rules judge the order in which packets are recorded, so a
// packet must be recorded before its receiver can have acted on it: a
// client's acknowledgement before any packet the broker sent in response.
func (r *Recorder) Wire(client string, conn int, fromBroker bool, typ string, id uint16, qos byte, dup bool, sessionPresent bool, returnCode byte) {
	r.record(Event{Kind: KindWire, Client: client, Conn: conn, FromBroker: fromBroker, Packet: typ, PacketID: id,
		QoS: qos, Dup: dup, SessionPresent: sessionPresent, ReturnCode: returnCode})
}

// WireCut records a packet that started crossing client's link but was cut
// inside: the receiver never got it whole, but the sender did send it, so
// it counts as a transmission attempt. The arguments are those of
// [Recorder.Wire]; a cut CONNACK carries no flags the checker relies on.
func (r *Recorder) WireCut(client string, conn int, fromBroker bool, typ string, id uint16, qos byte, dup bool) {
	r.record(Event{Kind: KindWire, Client: client, Conn: conn, FromBroker: fromBroker, Packet: typ, PacketID: id,
		QoS: qos, Dup: dup, Cut: true})
}

// WireAt is Wire for a packet that crossed the link at a known moment (the
// harness decodes some packets just after they pass; the moment keeps
// both directions of a link in true order).
func (r *Recorder) WireAt(at time.Time, client string, conn int, fromBroker bool, typ string, id uint16, qos byte, dup bool, sessionPresent bool, returnCode byte) {
	r.recordAt(at, Event{Kind: KindWire, Client: client, Conn: conn, FromBroker: fromBroker, Packet: typ, PacketID: id,
		QoS: qos, Dup: dup, SessionPresent: sessionPresent, ReturnCode: returnCode})
}

// WirePublishAt records a whole PUBLISH that crossed client's link to the
// broker at a known moment, carrying message msgID: the broker received
// the message then, or at another whole crossing. The order check uses
// these crossings to tell the order in which the broker received messages
// from the order in which the client first tried to send them.
func (r *Recorder) WirePublishAt(at time.Time, client string, conn int, id uint16, qos byte, dup bool, msgID string) {
	r.recordAt(at, Event{Kind: KindWire, Client: client, Conn: conn, Packet: "PUBLISH", PacketID: id,
		QoS: qos, Dup: dup, MsgID: msgID})
}

// WireConnectAt records a whole CONNECT that crossed client's link to the
// broker at a known moment, asking for protocol level level (4 for MQTT
// 3.1.1, 5 for MQTT 5.0): what the broker may send on that connection
// depends on it.
func (r *Recorder) WireConnectAt(at time.Time, client string, conn int, level byte) {
	r.recordAt(at, Event{Kind: KindWire, Client: client, Conn: conn, Packet: "CONNECT", ProtocolLevel: level})
}

// WireSubackAt records a whole SUBACK that crossed client's link from the
// broker at a known moment, with its return codes.
func (r *Recorder) WireSubackAt(at time.Time, client string, conn int, id uint16, codes []byte) {
	r.recordAt(at, Event{Kind: KindWire, Client: client, Conn: conn, FromBroker: true, Packet: "SUBACK", PacketID: id, Codes: FormatCodes(codes)})
}

// FormatCodes writes return codes as [Event.Codes] holds them: "00 01 80".
func FormatCodes(codes []byte) string {
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, " ")
}

// WireCutAt is WireCut at a known moment.
func (r *Recorder) WireCutAt(at time.Time, client string, conn int, fromBroker bool, typ string, id uint16, qos byte, dup bool) {
	r.recordAt(at, Event{Kind: KindWire, Client: client, Conn: conn, FromBroker: fromBroker, Packet: typ, PacketID: id,
		QoS: qos, Dup: dup, Cut: true})
}

// History returns a copy of everything recorded so far, sorted by time.
func (r *Recorder) History() History {
	r.mu.Lock()
	events := slices.Clone(r.events)
	r.mu.Unlock()
	slices.SortStableFunc(events, func(a, b Event) int {
		if a.At != b.At {
			return compare(a.At, b.At)
		}
		return compare(a.Seq, b.Seq)
	})
	if events == nil {
		events = []Event{}
	}
	return History{Version: FormatVersion, Base: r.base, Events: events}
}

// Attempt is a publish in flight. Complete it with exactly one of Acked,
// Failed or Unknown; later calls are ignored. A nil *Attempt ignores all
// calls.
type Attempt struct {
	r *Recorder
	i int
}

// Acked records that the publish was acknowledged (PUBACK for QoS 1,
// PUBCOMP for QoS 2, written to the network for QoS 0).
func (a *Attempt) Acked() { a.complete(OutcomeAcked, nil) }

// Failed records that the publish was definitely not sent, for example
// because the client refused it.
func (a *Attempt) Failed(err error) { a.complete(OutcomeFailed, err) }

// Unknown records that the link died before the acknowledgement: the
// message may or may not have been delivered.
func (a *Attempt) Unknown() { a.complete(OutcomeUnknown, nil) }

func (a *Attempt) complete(o Outcome, err error) {
	if a == nil {
		return
	}
	r := a.r
	r.mu.Lock()
	defer r.mu.Unlock()
	e := &r.events[a.i]
	if e.Outcome != OutcomePending {
		return
	}
	e.Outcome = o
	e.Done = r.now()
	e.Err = errString(err)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func compare[T int64 | time.Duration](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
