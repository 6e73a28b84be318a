package framework

import (
	"errors"
	"net"
	"strings"
	"time"

	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// Helpers for specs of topic routing and retained messages.

// DollarTopic returns a topic unique to this spec whose first level starts
// with '$' ("$faultline/<run>/<spec>/name"): a topic no filter starting
// with a wildcard may match [MQTT-4.7.2-1], and not a $SYS topic.
func (f *Framework) DollarTopic(name string) string { return "$" + f.Topic(name) }

// BelowFirstLevel returns topic without its first level ("a/b/c" → "b/c"),
// to build filters such as "+/" + BelowFirstLevel(topic).
func BelowFirstLevel(topic string) string {
	_, rest, _ := strings.Cut(topic, "/")
	return rest
}

// SubscribeFilters sends one SUBSCRIBE with packet id id asking for every
// filter at its QoS, in order.
func (r *Raw) SubscribeFilters(id uint16, subs ...wire.Subscription) error {
	return r.Send(wire.Subscribe(id, subs...))
}

// UnsubscribeFilters sends one UNSUBSCRIBE with packet id id.
func (r *Raw) UnsubscribeFilters(id uint16, filters ...string) error {
	return r.Send(wire.Unsubscribe(id, filters...))
}

// ReadAcking reads what the broker sends for up to d, or until enough
// (given every packet read so far) says to stop, and answers as a
// well-behaved subscriber: PUBACK for a QoS 1 PUBLISH, PUBREC for a QoS 2
// PUBLISH and PUBCOMP for its PUBREL. It returns the packets read, and an
// error only when the connection ended or failed (not when d passed).
//
// When the connection still waits for an answer the broker has withheld
// in several specs already (stall.go), d is at most stallGrace.
func (r *Raw) ReadAcking(d time.Duration, enough func([]wire.Packet) bool) ([]wire.Packet, error) {
	for _, t := range r.answers.pending() {
		if _, stalled := stalledAnswer(t); stalled {
			d = min(d, stallGrace())
		}
	}
	deadline := time.Now().Add(d)
	var got []wire.Packet
	for enough == nil || !enough(got) {
		left := time.Until(deadline)
		if left <= 0 {
			return got, nil
		}
		p, err := r.Read(left)
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return got, nil
		case err != nil:
			return got, err
		}
		got = append(got, p)
		var answer wire.Type
		switch {
		case p.Type == wire.PUBLISH && p.QoS == 1:
			answer = wire.PUBACK
		case p.Type == wire.PUBLISH && p.QoS == 2:
			answer = wire.PUBREC
		case p.Type == wire.PUBREL:
			answer = wire.PUBCOMP
		default:
			continue
		}
		if err := r.Send(wire.Ack(answer, p.PacketID)); err != nil {
			return got, err
		}
	}
	return got, nil
}

// OfType returns the packets of type t among ps, in order.
func OfType(ps []wire.Packet, t wire.Type) []wire.Packet {
	var out []wire.Packet
	for _, p := range ps {
		if p.Type == t {
			out = append(out, p)
		}
	}
	return out
}
