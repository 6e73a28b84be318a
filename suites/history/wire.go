package history

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file judges the broker as the sender of the QoS 1 and 2 handshakes
// with each client, from the packets the proxy saw on the client's link
// ([KindWire] events). The client's own behaviour is not judged: its
// packets only advance the broker's handshakes.
//
// Sessions. A whole CONNACK from the broker with return code 0 starts a
// session on its connection. It continues the client's previous session
// only if it says session present and nothing since the previous accepted
// CONNACK can have changed the broker's session unseen: a cut CONNACK
// (whose flags are unknown), or a connection whose CONNECT reached the
// broker whole but whose CONNACK was never seen. Otherwise it starts a new
// session and every handshake of the old one is forgotten. A refused
// CONNACK (return code other than 0) neither starts nor breaks a session.
// Packets on a connection without an accepted CONNACK are not judged.
// Forgetting is always safe: no rule fires for lack of state.
//
// Handshakes. Within a session, a PUBLISH from the broker with QoS 1 or 2
// (whole or cut: the broker sent it) opens a flow for its packet id. The
// client's whole PUBACK closes a QoS 1 flow; its whole PUBREC moves a QoS 2
// flow on to waiting for PUBCOMP, and its whole PUBCOMP closes it. Cut
// acknowledgements never reached the broker and change nothing. When the
// client reconnects into the session, every open flow is owed again on the
// new connection [MQTT-4.4.0-1]: its PUBLISH (awaiting PUBACK or PUBREC)
// or its PUBREL (past PUBREC). What is still owed when the harness drains
// the client, on a connection still up, is a violation.

// flowStage is where a broker→client flow stands.
type flowStage uint8

const (
	awaitAck  flowStage = iota // PUBLISH sent; no PUBACK (QoS 1) or PUBREC (QoS 2) from the client yet
	awaitComp                  // QoS 2: the client sent PUBREC; PUBREL owed until PUBCOMP
)

// packetRef locates one recorded packet.
type packetRef struct {
	conn int
	at   time.Duration
	cut  bool
}

func (p packetRef) String() string {
	s := fmt.Sprintf("on connection %d at %s", p.conn, ts(p.at))
	if p.cut {
		s += " (cut)"
	}
	return s
}

// obligation is what the broker owes on a connection that reconnected into
// the session [MQTT-4.4.0-1]: the unacknowledged PUBLISH again (a flow
// awaiting its PUBACK or PUBREC), or PUBREL (a flow past PUBREC).
type obligation struct {
	conn     int
	at       time.Duration // the CONNACK
	reported bool
}

// flow is one broker→client QoS 1 or 2 handshake.
type flow struct {
	id    uint16
	qos   byte // of the latest PUBLISH
	stage flowStage
	first packetRef // the PUBLISH that opened it
	rec   packetRef // the client's PUBREC (awaitComp)
	rel   bool      // the broker sent PUBREL since the PUBREC, so it had received it
	owed  *obligation
}

// wireSession is the broker's outgoing handshake state of one session.
type wireSession struct {
	flows map[uint16]*flow
}

// wireClient replays one client's link.
type wireClient struct {
	ck   *checker
	name string

	sess       map[int]*wireSession // connection → its session, for accepted connections
	cur        *wireSession         // the session of the last accepted connection
	curConn    int                  // the last accepted connection
	curAt      time.Duration        // its CONNACK
	down       bool                 // curConn is known to have ended
	broken     bool                 // the session may have changed unseen since curConn was accepted
	connecting map[int]bool         // connections whose CONNECT passed whole, no CONNACK yet
	ignored    map[int]bool         // connections without an accepted CONNACK whose packets were ignored
	graceful   map[int]bool         // connections the client ended with a whole DISCONNECT: the broker read all it sent before
}

// wireRules are the rules checkWire reports.
var wireRules = []string{RuleWireRedeliveryWithoutDup, RuleWirePublishAfterPubrec, RuleWirePubrelNotResent, RuleWirePublishNotResent, RuleWireQoS0Dup, RuleWirePacketIDReuse}

// knownPackets are the MQTT control packet type names.
var knownPackets = []string{"CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

// checkWire runs the wire rules over every client's link.
func (ck *checker) checkWire() {
	if !slices.ContainsFunc(wireRules, ck.cfg.enabled) {
		return
	}
	var names []string
	for name, c := range ck.ix.clients {
		if c.hasWire {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	unknown := make(map[string]bool)
	for _, name := range names {
		w := &wireClient{ck: ck, name: name, sess: make(map[int]*wireSession),
			connecting: make(map[int]bool), ignored: make(map[int]bool), graceful: make(map[int]bool)}
		for _, e := range ck.ix.clients[name].wire {
			switch e.Kind {
			case KindDrained:
				w.drain(e.At)
			case KindLost, KindDisconnected:
				w.down = true // the events are in time order: it is the current connection that ended
			case KindWire:
				if !slices.Contains(knownPackets, e.Packet) && !unknown[e.Packet] {
					unknown[e.Packet] = true
					ck.ix.warnf("wire: unknown packet type %q ignored", e.Packet)
				}
				w.packet(e)
			}
		}
	}
}

func (w *wireClient) packet(e *Event) {
	if w.curConn > 0 && e.Conn > w.curConn {
		w.down = true // a newer connection exists: the current one is over
	}
	if e.FromBroker {
		switch e.Packet {
		case "CONNACK":
			w.connack(e)
		case "PUBLISH":
			if s := w.session(e); s != nil {
				w.publish(s, e)
			}
		case "PUBREL":
			if s := w.session(e); s != nil {
				w.pubrel(s, e)
			}
		}
	} else {
		switch e.Packet {
		case "CONNECT":
			if !e.Cut {
				w.connecting[e.Conn] = true
			}
		case "PUBACK", "PUBREC", "PUBCOMP":
			if e.Cut {
				break // it never reached the broker
			}
			if s := w.session(e); s != nil {
				w.ack(s, e)
			}
		case "DISCONNECT":
			if !e.Cut {
				w.graceful[e.Conn] = true
			}
			if e.Conn == w.curConn {
				w.down = true
			}
		}
	}
	if e.Cut && e.Conn == w.curConn {
		w.down = true
	}
}

// session returns the session of e's connection, or nil (with a warning
// once per connection) if the connection has no accepted CONNACK.
func (w *wireClient) session(e *Event) *wireSession {
	if s := w.sess[e.Conn]; s != nil {
		return s
	}
	if !w.ignored[e.Conn] {
		w.ignored[e.Conn] = true
		w.ck.ix.warnf("wire: %s: %s %d on connection %d at %s, which had no accepted CONNACK; its handshakes are not judged",
			w.name, e.Packet, e.PacketID, e.Conn, ts(e.At))
	}
	return nil
}

func (w *wireClient) connack(e *Event) {
	if e.Cut {
		// Its flags are unknown: the broker may have started a new session.
		delete(w.connecting, e.Conn)
		w.broken = true
		return
	}
	if e.ReturnCode != 0 {
		delete(w.connecting, e.Conn) // refused: no session on this connection
		return
	}
	if w.sess[e.Conn] != nil {
		w.ck.ix.warnf("wire: %s: second CONNACK on connection %d at %s ignored", w.name, e.Conn, ts(e.At))
		return
	}
	for n := range w.connecting {
		if n != e.Conn {
			w.broken = true // a CONNECT the broker got, whose answer was never seen
		}
	}
	clear(w.connecting)
	s := w.cur
	if !e.SessionPresent || w.broken || s == nil {
		s = &wireSession{flows: make(map[uint16]*flow)}
	} else {
		for _, f := range s.flows {
			f.owed = &obligation{conn: e.Conn, at: e.At}
		}
	}
	w.sess[e.Conn] = s
	w.cur, w.curConn, w.curAt = s, e.Conn, e.At
	w.down, w.broken = false, false
}

func (w *wireClient) report(rule string, e *Event, format string, args ...any) {
	w.ck.report(rule, e.At, Violation{Subscriber: w.name, Conn: e.Conn, Detail: fmt.Sprintf(format, args...)})
}

func (w *wireClient) publish(s *wireSession, e *Event) {
	ref := packetRef{e.Conn, e.At, e.Cut}
	if e.QoS == 0 {
		if e.Dup {
			w.report(RuleWireQoS0Dup, e, "broker sent a QoS 0 PUBLISH with DUP=1 to %s %s", w.name, ref)
		}
		return
	}
	if e.QoS > 2 {
		return
	}
	id := e.PacketID
	if id == 0 && e.Cut {
		return // cut before its packet identifier: which flow it was is unknown
	}
	f := s.flows[id]
	if f == nil {
		s.flows[id] = &flow{id: id, qos: e.QoS, first: ref}
		return
	}
	switch f.stage {
	case awaitAck:
		if e.QoS == f.qos || e.Dup {
			// A retransmission of the unacknowledged PUBLISH.
			if f.owed != nil && e.Conn >= f.owed.conn {
				f.owed = nil
			}
			if !e.Dup {
				ack := "PUBACK"
				if f.qos == 2 {
					ack = "PUBREC"
				}
				w.report(RuleWireRedeliveryWithoutDup, e,
					"broker re-sent QoS %d PUBLISH packet id %d to %s %s with DUP=0; PUBLISH %d was first sent %s and %s had not sent %s %d since",
					e.QoS, id, w.name, ref, id, f.first, w.name, ack, id)
			}
			f.qos = e.QoS
			return
		}
		w.report(RuleWirePacketIDReuse, e,
			"broker sent a new QoS %d PUBLISH (DUP=0) with packet id %d to %s %s while its QoS %d PUBLISH %d, sent %s, was still unacknowledged",
			e.QoS, id, w.name, ref, f.qos, id, f.first)
	case awaitComp:
		if e.Dup {
			switch {
			case f.rel || (e.Conn > f.rec.conn && w.graceful[f.rec.conn]):
				how := "after sending PUBREL"
				if !f.rel {
					how = "on a later connection, the PUBREC's connection having ended with the client's DISCONNECT"
				}
				w.report(RuleWirePublishAfterPubrec, e,
					"broker sent PUBLISH packet id %d (QoS %d, DUP=1) to %s %s, %s, although %s had sent PUBREC %d %s and the flow had not completed (no PUBCOMP); PUBREL %d was owed",
					id, e.QoS, w.name, ref, how, w.name, id, f.rec, id)
			case e.Conn > f.rec.conn:
				// The PUBREC's connection ended abruptly before the broker
				// showed it had read the PUBREC (no PUBREL): TCP does not
				// promise that bytes sent before a reset or an abortive
				// close reach the broker, so it may rightly take the
				// PUBLISH for unacknowledged and re-send it.
				f.stage, f.rec = awaitAck, packetRef{}
				if f.owed != nil && e.Conn >= f.owed.conn {
					f.owed = nil
				}
			}
			// Otherwise (same connection) the PUBLISH may have crossed the
			// PUBREC on the wire, and the flow still waits for PUBCOMP.
			return
		}
		w.report(RuleWirePacketIDReuse, e,
			"broker sent a new QoS %d PUBLISH (DUP=0) with packet id %d to %s %s while QoS 2 flow %d was not complete: %s had sent PUBREC %d %s but no PUBCOMP",
			e.QoS, id, w.name, ref, id, w.name, id, f.rec)
	}
	// A new message under an id in use: it replaces the old flow.
	s.flows[id] = &flow{id: id, qos: e.QoS, first: ref}
}

func (w *wireClient) pubrel(s *wireSession, e *Event) {
	f := s.flows[e.PacketID]
	if f == nil || f.stage != awaitComp {
		return
	}
	f.rel = true
	if f.owed != nil && e.Conn >= f.owed.conn {
		f.owed = nil
	}
}

// ack applies a whole acknowledgement from the client.
func (w *wireClient) ack(s *wireSession, e *Event) {
	f := s.flows[e.PacketID]
	if f == nil {
		return
	}
	switch {
	case e.Packet == "PUBACK" && f.stage == awaitAck && f.qos == 1,
		e.Packet == "PUBCOMP" && f.stage == awaitComp:
		delete(s.flows, e.PacketID)
	case e.Packet == "PUBREC" && f.stage == awaitAck && f.qos == 2:
		f.stage, f.rec, f.owed = awaitComp, packetRef{e.Conn, e.At, false}, nil
	}
}

// drain judges the PUBLISHes and PUBRELs owed on the client's current
// connection, if it is still up: the harness waited for it, so the broker
// had its chance.
func (w *wireClient) drain(at time.Duration) {
	if w.cur == nil || w.down {
		return
	}
	var late []*flow
	for _, f := range w.cur.flows {
		if o := f.owed; o != nil && !o.reported && o.conn == w.curConn {
			late = append(late, f)
		}
	}
	slices.SortFunc(late, func(a, b *flow) int { return int(a.id) - int(b.id) })
	for _, f := range late {
		f.owed.reported = true
		if f.stage == awaitAck {
			ack := "PUBACK"
			if f.qos == 2 {
				ack = "PUBREC"
			}
			w.ck.report(RuleWirePublishNotResent, at, Violation{Subscriber: w.name, Conn: f.owed.conn,
				Detail: fmt.Sprintf("%s reconnected into its session on connection %d at %s while QoS %d PUBLISH packet id %d, sent %s, was unacknowledged (no %s %d had reached the broker); by the drain at %s the broker had not re-sent it",
					w.name, f.owed.conn, ts(f.owed.at), f.qos, f.id, f.first, ack, f.id, ts(at))})
			continue
		}
		w.ck.report(RuleWirePubrelNotResent, at, Violation{Subscriber: w.name, Conn: f.owed.conn,
			Detail: fmt.Sprintf("%s reconnected into its session on connection %d at %s while QoS 2 packet id %d was between PUBREC (%s had sent it %s) and PUBCOMP; by the drain at %s the broker had not re-sent PUBREL %d",
				w.name, f.owed.conn, ts(f.owed.at), f.id, w.name, f.rec, ts(at), f.id)})
	}
}

// serverSends are the packets MQTT 3.1.1 lets a server send (section
// 2.2.1): the others go from client to server only (CONNECT, SUBSCRIBE,
// UNSUBSCRIBE, PINGREQ, DISCONNECT), or are reserved (types 0 and 15,
// AUTH in MQTT 5.0).
var serverSends = []string{"CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBACK", "UNSUBACK", "PINGRESP"}

// checkV311 judges every packet the broker sent on a connection whose
// CONNECT asked for MQTT 3.1.1 or 3.1 (protocol level 4 or 3) against what
// those versions let a server send. A connection whose CONNECT was not
// recorded whole, or recorded without its protocol level, is not judged:
// it may be an MQTT 5.0 connection, where DISCONNECT and AUTH are fine.
func (ck *checker) checkV311() {
	if !ck.cfg.enabled(RuleWireForbiddenToV311) {
		return
	}
	type connKey struct {
		client string
		conn   int
	}
	var events []*Event
	for _, c := range ck.ix.clients {
		for _, e := range c.wire {
			if e.Kind == KindWire {
				events = append(events, e)
			}
		}
	}
	level := map[connKey]byte{}
	for _, e := range events {
		if !e.FromBroker && e.Packet == "CONNECT" && !e.Cut && e.ProtocolLevel != 0 {
			level[connKey{e.Client, e.Conn}] = e.ProtocolLevel
		}
	}
	// A client that sent DISCONNECT has closed its connection
	// [MQTT-3.14.4-1], and one whose connection was closed or cut is gone
	// too (WireEnd): what the broker writes to it afterwards (mochi, on a
	// takeover it has not yet told apart from the client leaving, writes a
	// DISCONNECT) reaches no client. Judging it would make the verdict hang
	// on how quickly the broker noticed the client had gone.
	left := map[connKey]time.Duration{}
	for _, e := range events {
		k := connKey{e.Client, e.Conn}
		if at, ok := left[k]; !e.FromBroker && (e.Packet == "DISCONNECT" || e.Packet == WireEnd) && (!ok || e.At < at) {
			left[k] = e.At
		}
	}
	for _, e := range events {
		if !e.FromBroker {
			continue
		}
		if at, ok := left[connKey{e.Client, e.Conn}]; ok && e.At >= at {
			continue
		}
		lv := level[connKey{e.Client, e.Conn}]
		if lv != 3 && lv != 4 {
			continue
		}
		why := forbiddenToV311(e)
		if why == "" {
			continue
		}
		packet := e.Packet
		if e.Cut {
			packet += " (cut: the broker sent it, the client did not get it whole)"
		}
		ck.report(RuleWireForbiddenToV311, e.At, Violation{Subscriber: e.Client, Conn: e.Conn,
			Detail: fmt.Sprintf("broker sent %s to %s on connection %d at %s, which connected with MQTT %s (protocol level %d): %s",
				packet, e.Client, e.Conn, ts(e.At), map[byte]string{3: "3.1", 4: "3.1.1"}[lv], lv, why)})
	}
}

// forbiddenToV311 says why an MQTT 3.1.1 server may not send the packet of
// e, or "" when it may.
func forbiddenToV311(e *Event) string {
	switch {
	case !slices.Contains(serverSends, e.Packet):
		return "MQTT 3.1.1 has no such packet from a server (only CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK and PINGRESP)"
	case e.Packet == "CONNACK" && e.ReturnCode > 5 && !e.Cut:
		return fmt.Sprintf("return code 0x%02x is not one of the CONNACK return codes 0x00-0x05; a server that finds none fits closes the connection without CONNACK [MQTT-3.2.2-6]", e.ReturnCode)
	case e.Packet == "SUBACK":
		for _, c := range strings.Fields(e.Codes) {
			switch c {
			case "00", "01", "02", "80":
				continue
			}
			return fmt.Sprintf("return codes [%s] include 0x%s; SUBACK return codes are 0x00, 0x01, 0x02 and 0x80, all others are reserved [MQTT-3.9.3-2]", e.Codes, c)
		}
	}
	return ""
}
