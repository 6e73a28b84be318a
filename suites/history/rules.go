package history

import (
	"fmt"
	"slices"
)

// Rule names. They are stable: dashboards and expectations may refer to them.
const (
	RuleQoS0Duplicated       = "qos0-duplicated"
	RuleQoS1Lost             = "qos1-lost"
	RuleQoS2Lost             = "qos2-lost"
	RuleQoS2Duplicated       = "qos2-duplicated"
	RuleUnexpectedDelivery   = "unexpected-delivery"
	RuleQoSNotDowngraded     = "qos-not-downgraded"
	RuleQoSDowngradedTooFar  = "qos-downgraded-too-far"
	RuleRedeliveryWithoutDup = "redelivery-without-dup"
	RuleDupOnQoS0            = "dup-on-qos0"
	RuleOutOfOrder           = "out-of-order"

	// Wire rules judge the broker as the sender of QoS 1 and 2 handshakes,
	// from the packets recorded on each client's link ([KindWire]).
	RuleWireRedeliveryWithoutDup = "wire-redelivery-without-dup"
	RuleWirePublishAfterPubrec   = "wire-publish-after-pubrec"
	RuleWirePubrelNotResent      = "wire-pubrel-not-resent"
	RuleWirePublishNotResent     = "wire-publish-not-resent"
	RuleWireQoS0Dup              = "wire-qos0-dup"
	RuleWirePacketIDReuse        = "wire-packet-id-reuse"
	// RuleWireForbiddenToV311 judges every packet from the broker on a
	// connection whose CONNECT asked for MQTT 3.1.1 (or 3.1).
	RuleWireForbiddenToV311 = "wire-forbidden-to-v311"
)

// WireEnd is the Packet of a client's wire event that is no packet: the
// client's side of the connection ended there (it closed it, or a fault
// cut it), and nothing the broker wrote to it afterwards reached a client.
const WireEnd = "END"

// Rule describes one guarantee the checker judges.
type Rule struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Statements  []string `json:"statements"` // MQTT 3.1.1 normative statement ids
}

var ruleTable = []Rule{
	{RuleQoS0Duplicated,
		"a message delivered at QoS 0 reached a subscriber more often than its matching subscriptions allow (at most once each)",
		[]string{"MQTT-4.3.1-1", "MQTT-3.3.5-1"}},
	{RuleQoS1Lost,
		"an acknowledged publish owed at QoS 1 never reached a subscriber entitled to it",
		[]string{"MQTT-4.3.2-1", "MQTT-4.3.2-2", "MQTT-3.1.2-4", "MQTT-3.1.2-5", "MQTT-4.4.0-1"}},
	{RuleQoS2Lost,
		"an acknowledged publish owed at QoS 2 never reached a subscriber entitled to it",
		[]string{"MQTT-4.3.3-1", "MQTT-4.3.3-2", "MQTT-3.1.2-4", "MQTT-3.1.2-5", "MQTT-4.4.0-1"}},
	{RuleQoS2Duplicated,
		"a publish (acknowledged or indeterminate) was delivered at QoS 2 to a subscriber more than once per matching subscription, across reconnects too",
		[]string{"MQTT-4.3.3-2", "MQTT-4.4.0-1"}},
	{RuleUnexpectedDelivery,
		"a subscriber received a message that was never published, whose publish failed, on another topic, before it was sent, without a matching subscription, or marked RETAIN when it was not a retained message sent for a new subscription",
		[]string{"MQTT-3.1.2-6", "MQTT-3.10.4-2", "MQTT-4.7.2-1", "MQTT-3.3.1-9"}},
	{RuleQoSNotDowngraded,
		"a message was delivered at a QoS above min(publish QoS, granted QoS)",
		[]string{"MQTT-3.8.4-6"}},
	{RuleQoSDowngradedTooFar,
		"a message was delivered below min(publish QoS, granted QoS), or no copy reached the maximum QoS of the overlapping matching subscriptions",
		[]string{"MQTT-3.8.4-6", "MQTT-3.3.5-1"}},
	{RuleRedeliveryWithoutDup,
		"a QoS 1 or 2 message was delivered again in the same session with DUP=0 and overlapping subscriptions cannot explain the extra copy",
		[]string{"MQTT-3.3.1-1", "MQTT-3.3.1-3", "MQTT-4.4.0-1"}},
	{RuleDupOnQoS0,
		"a QoS 0 delivery carried DUP=1",
		[]string{"MQTT-3.3.1-2"}},
	{RuleOutOfOrder,
		"messages from one publisher on one topic at one QoS first reached a subscriber in a different order than the broker received them (judged by when each PUBLISH crossed to the broker, up to the one it acknowledged; by send time when the link was not recorded)",
		[]string{"MQTT-4.6.0-5", "MQTT-4.6.0-6"}},
	{RuleWireRedeliveryWithoutDup,
		"the broker sent a QoS 1 or 2 PUBLISH with DUP=0 while an earlier PUBLISH with the same packet id and QoS, sent to that client in the same session (whole or cut), was still unacknowledged (no PUBACK, or no PUBREC, from the client since)",
		[]string{"MQTT-3.3.1-1", "MQTT-4.4.0-1"}},
	{RuleWirePublishAfterPubrec,
		"the broker sent PUBLISH with DUP=1 for a packet id the client had acknowledged with PUBREC, before PUBCOMP, in the same session, after it had certainly received the PUBREC (it had sent PUBREL, or the PUBREC's connection ended with the client's DISCONNECT and the PUBLISH came on a later one); PUBREL was owed instead",
		[]string{"MQTT-4.3.3-1"}},
	{RuleWirePubrelNotResent,
		"a client reconnected into its session while a QoS 2 flow was between its PUBREC and PUBCOMP, and by the client's drain the broker had not re-sent PUBREL on that connection, which was still up",
		[]string{"MQTT-4.4.0-1"}},
	{RuleWirePublishNotResent,
		"a client reconnected into its session while a QoS 1 or 2 PUBLISH the broker had sent it was unacknowledged (no PUBACK, or no PUBREC, had reached the broker), and by the client's drain the broker had not re-sent that PUBLISH on that connection, which was still up",
		[]string{"MQTT-4.4.0-1"}},
	{RuleWireQoS0Dup,
		"the broker sent a QoS 0 PUBLISH with DUP=1",
		[]string{"MQTT-3.3.1-2"}},
	{RuleWirePacketIDReuse,
		"the broker sent a new QoS 1 or 2 PUBLISH (DUP=0) with a packet id still in use in the session: a flow at another QoS not yet acknowledged, or a QoS 2 flow past PUBREC not yet completed by PUBCOMP",
		[]string{"MQTT-2.3.1-4"}},
	{RuleWireForbiddenToV311,
		"the broker sent a client that connected with MQTT 3.1.1 (or 3.1) a packet those versions do not let a server send: DISCONNECT, AUTH or another packet only a client sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ), a reserved packet type, a CONNACK with a return code other than 0x00-0x05, or a SUBACK with a return code other than 0x00, 0x01, 0x02 and 0x80 (whole or cut: the broker sent it)",
		[]string{"MQTT-3.9.3-2", "MQTT-3.2.2-6", "MQTT-2.2.2-1"}},
}

// RuleTable returns every rule, in a fixed order.
func RuleTable() []Rule {
	out := make([]Rule, len(ruleTable))
	for i, r := range ruleTable {
		r.Statements = slices.Clone(r.Statements)
		out[i] = r
	}
	return out
}

// RuleInfo returns the rule with the given name.
func RuleInfo(name string) (Rule, bool) {
	i := ruleIndex(name)
	if i < 0 {
		return Rule{}, false
	}
	r := ruleTable[i]
	r.Statements = slices.Clone(r.Statements)
	return r, true
}

// RuleNames returns the names of every rule, in table order.
func RuleNames() []string {
	names := make([]string, len(ruleTable))
	for i, r := range ruleTable {
		names[i] = r.Name
	}
	return names
}

func ruleIndex(name string) int {
	return slices.IndexFunc(ruleTable, func(r Rule) bool { return r.Name == name })
}

// Option configures [Check].
type Option func(*config)

type config struct {
	only map[string]bool // nil: every rule
}

func (c *config) enabled(rule string) bool { return c.only == nil || c.only[rule] }

// Rules restricts [Check] to the named rules; several Rules options add up.
// Without any names it selects every rule. It panics on an unknown name so
// that a typo cannot silently disable a check.
func Rules(names ...string) Option {
	for _, n := range names {
		if ruleIndex(n) < 0 {
			panic(fmt.Sprintf("history: unknown rule %q (known: %v)", n, RuleNames()))
		}
	}
	return func(c *config) {
		if len(names) == 0 {
			return
		}
		if c.only == nil {
			c.only = make(map[string]bool)
		}
		for _, n := range names {
			c.only[n] = true
		}
	}
}
