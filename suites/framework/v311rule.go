package framework

import (
	"context"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/suites/history"
)

// judgeV311 runs when a spec ends, after its clients and raw connections
// are closed: whatever the spec checked, a client that connected with
// MQTT 3.1.1 must never have been sent a packet 3.1.1 does not let a
// server send (history.RuleWireForbiddenToV311). It judges the spec's
// history and the traces of its raw connections, for that rule alone:
// a spec's other guarantees are judged where it asks (Verdict).
//
// Only what happened before the spec's clean-up is judged: the clean-up
// itself (ending persistent sessions with a new connection of the same
// client id) is the harness's doing, not the spec's.
func (f *Framework) judgeV311(context.Context) {
	h := f.History()
	cut := f.done.Sub(f.start)
	var events []history.Event
	for _, e := range append(h.Events, f.rawWireEvents()...) {
		if e.At <= cut {
			events = append(events, e)
		}
	}
	h.Events = events
	v := history.Check(h, history.Rules(history.RuleWireForbiddenToV311))
	if !v.OK() {
		failOrExcuse("A client that connected with MQTT 3.1.1 was sent a packet MQTT 3.1.1 does not let a server send:\n" + describe(v))
	}
}

// rawWireEvents turns what crossed the links of the spec's raw
// connections into wire events of the history, as clients record theirs.
// They are judged at the end of the spec only, by the rule above.
func (f *Framework) rawWireEvents() []history.Event {
	var out []history.Event
	for _, r := range f.raws {
		if r.Link == nil {
			continue
		}
		name := "raw " + r.Link.Name()
		latest := 0
		for _, e := range r.Link.Trace().Entries() {
			latest = max(latest, e.Conn)
			if conn, ok := clientSideEnded(e, latest); ok {
				out = append(out, history.Event{Kind: history.KindWire, Client: name, At: max(e.At.Sub(f.start), 0), Conn: conn, Packet: history.WireEnd})
				continue
			}
			p := e.Packet
			switch {
			case e.Kind != proxy.Passed && e.Kind != proxy.Partial && e.Kind != proxy.Dropped, e.Conn < 1:
				continue
			case e.Kind == proxy.Dropped && (e.Dir != proxy.FromBroker || p.Type == 0):
				continue // never sent whole, or not a packet
			}
			ev := history.Event{Kind: history.KindWire, Client: name, At: max(e.At.Sub(f.start), 0), Conn: e.Conn,
				FromBroker: e.Dir == proxy.FromBroker, Packet: p.Type.String(), PacketID: p.PacketID, Cut: e.Kind != proxy.Passed}
			switch {
			case p.Type == wire.CONNECT && !ev.FromBroker:
				ev.ProtocolLevel = connectLevel(p)
			case p.Type == wire.CONNACK && ev.FromBroker:
				ev.ReturnCode, ev.SessionPresent = p.ReasonCode, p.SessionPresent
			case p.Type == wire.SUBACK && ev.FromBroker:
				ev.Codes = history.FormatCodes(p.ReasonCodes)
			case p.Type == wire.PUBLISH:
				ev.QoS = min(p.QoS, 2)
			}
			out = append(out, ev)
		}
	}
	return out
}

// connectLevel is the protocol level a CONNECT asks for when its protocol
// name agrees with it ("MQTT" for 3.1.1 and 5.0, "MQIsdp" for 3.1), and 0
// otherwise: a broker cannot tell which version a CONNECT with a wrong
// name speaks, so what it answers is not judged by version.
func connectLevel(p wire.Packet) byte {
	switch {
	case p.ProtocolName == "MQIsdp" && p.ProtocolLevel == wire.V31,
		p.ProtocolName == "MQTT" && p.ProtocolLevel >= wire.V311:
		return p.ProtocolLevel
	}
	return 0
}
