package history

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// Verdict is the result of [Check].
type Verdict struct {
	Rules      []string    `json:"rules"` // the rules that were checked
	Violations []Violation `json:"violations"`
	// Stats are indexed by the QoS the message was published with.
	Stats [3]Stats `json:"stats"`
	// Warnings describe oddities in the history itself (duplicate message
	// ids, a connect while already connected, ...). They are not violations.
	Warnings []string `json:"warnings,omitempty"`
}

// Violation is one broken guarantee.
type Violation struct {
	Rule       string        `json:"rule"`
	Statements []string      `json:"statements"`
	Subscriber string        `json:"subscriber,omitempty"`
	Publisher  string        `json:"publisher,omitempty"`
	Topic      string        `json:"topic,omitempty"`
	MsgIDs     []string      `json:"msg_ids,omitempty"`
	Conn       int           `json:"conn,omitempty"` // wire rules: the subscriber's connection number on its link
	At         time.Duration `json:"at"`             // when the evidence was recorded (delivery or drain)
	Detail     string        `json:"detail"`
}

// Stats counts what happened to the messages published at one QoS.
type Stats struct {
	Sent    int `json:"sent"`    // publish attempts
	Acked   int `json:"acked"`   // acknowledged
	Failed  int `json:"failed"`  // definitely not sent
	Unknown int `json:"unknown"` // indeterminate, including never completed

	Delivered  int `json:"delivered"`  // distinct (message, subscriber) pairs with a live delivery
	Duplicates int `json:"duplicates"` // live copies beyond the first, allowed or not
	Lost       int `json:"lost"`       // acked, subscriber entitled, never delivered (QoS 0 included)
	Unseen     int `json:"unseen"`     // acked, subscribed, never delivered, subscriber not drained after the ack
	Excused    int `json:"excused"`    // acked, subscribed, never delivered, but the session or subscription ended first
	Retained   int `json:"retained"`   // deliveries with RETAIN=1
}

// OK reports whether no violation was found.
func (v Verdict) OK() bool { return len(v.Violations) == 0 }

// ByRule returns the violations of one rule.
func (v Verdict) ByRule(rule string) []Violation {
	var out []Violation
	for _, x := range v.Violations {
		if x.Rule == rule {
			out = append(out, x)
		}
	}
	return out
}

// String renders the violation on one line, for example
//
//	qos1-lost [MQTT-4.3.2-1 ...]: acked QoS 1 message p1-7 on "t/a" from pub never reached entitled subscriber sub (persistent session, drained at 3.2s)
func (v Violation) String() string {
	if len(v.Statements) == 0 {
		return v.Rule + ": " + v.Detail
	}
	return v.Rule + " [" + strings.Join(v.Statements, " ") + "]: " + v.Detail
}

// Summary renders a short table of the stats followed by the violation
// count per rule.
func (v Verdict) Summary() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "QoS\tsent\tacked\tfailed\tunknown\tdelivered\tduplicated\tlost\tunseen\texcused\tretained")
	for q, s := range v.Stats {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n",
			q, s.Sent, s.Acked, s.Failed, s.Unknown, s.Delivered, s.Duplicates, s.Lost, s.Unseen, s.Excused, s.Retained)
	}
	tw.Flush()
	if v.OK() {
		fmt.Fprintf(&b, "OK: no violations (%d rules checked)\n", len(v.Rules))
		return b.String()
	}
	counts := make(map[string]int)
	for _, x := range v.Violations {
		counts[x.Rule]++
	}
	var parts []string
	for _, r := range ruleTable {
		if n := counts[r.Name]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r.Name, n))
		}
	}
	fmt.Fprintf(&b, "FAIL: %d violations (%s)\n", len(v.Violations), strings.Join(parts, ", "))
	return b.String()
}

// ts formats a time since the base for messages.
func ts(d time.Duration) string {
	if d == never {
		return "the end"
	}
	if d >= time.Millisecond {
		d = d.Round(time.Millisecond)
	}
	return d.String()
}
