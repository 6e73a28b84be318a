package history

import (
	"strings"
	"testing"
)

// ruleCase is a hand-written history that must either violate rule, naming
// ids (and no rule outside also), or pass when rule is "".
type ruleCase struct {
	name  string
	h     *hb
	rule  string
	ids   []string
	also  []string // other rules the history may legitimately trip as well
	check func(t *testing.T, v Verdict)
}

func runCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Check(c.h.h)
			if c.rule == "" {
				wantOK(t, v)
			} else {
				wantViolation(t, v, c.rule, c.ids...)
				wantOnly(t, v, append(c.also, c.rule)...)
			}
			if c.check != nil {
				c.check(t, v)
			}
		})
	}
}

func TestQoS0Duplicated(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "delivered twice", rule: RuleQoS0Duplicated, ids: []string{"p0-1"},
			h: setup(true, "t/#", 0).acked("pub", "t/a", "p0-1", 0, 100).
				recv("sub", "t/a", "p0-1", 0, 110).recv("sub", "t/a", "p0-1", 0, 120).drain("sub", 1000)},
		{name: "overlapping subscriptions allow two copies",
			h: setup(true, "t/#", 0).sub("sub", "t/a", 0, 11).acked("pub", "t/a", "p0-1", 0, 100).
				recv("sub", "t/a", "p0-1", 0, 110).recv("sub", "t/a", "p0-1", 0, 111).drain("sub", 1000),
			check: func(t *testing.T, v Verdict) {
				if s := v.Stats[0]; s.Delivered != 1 || s.Duplicates != 1 {
					t.Errorf("stats %+v, want 1 delivered, 1 duplicate", s)
				}
			}},
		{name: "overlapping subscriptions allow no third copy", rule: RuleQoS0Duplicated, ids: []string{"p0-1"},
			h: setup(true, "t/#", 0).sub("sub", "t/a", 0, 11).acked("pub", "t/a", "p0-1", 0, 100).
				recv("sub", "t/a", "p0-1", 0, 110).recv("sub", "t/a", "p0-1", 0, 111).recv("sub", "t/a", "p0-1", 0, 112)},
		{name: "QoS 1 publish downgraded to 0, publisher may have retransmitted",
			h: setup(true, "t/#", 0).pub("pub", "t/a", "p1-1", 1, 100, OutcomeUnknown, 105).
				recv("sub", "t/a", "p1-1", 0, 110).recv("sub", "t/a", "p1-1", 0, 300)},
		{name: "QoS 1 publish downgraded to 0, acked on a stable link", rule: RuleQoS0Duplicated, ids: []string{"p1-1"},
			h: setup(true, "t/#", 0).acked("pub", "t/a", "p1-1", 1, 100).
				recv("sub", "t/a", "p1-1", 0, 110).recv("sub", "t/a", "p1-1", 0, 300)},
	})
}

func TestQoS1Lost(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "connected subscriber misses acked message", rule: RuleQoS1Lost, ids: []string{"p1-7"},
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p1-7", 1, 100).drain("sub", 3200),
			check: func(t *testing.T, v Verdict) {
				got := v.Violations[0].String()
				want := `qos1-lost [MQTT-4.3.2-1 MQTT-4.3.2-2 MQTT-3.1.2-4 MQTT-3.1.2-5 MQTT-4.4.0-1]: acked QoS 1 message p1-7 on "t/a" from pub never reached entitled subscriber sub (connected since 0s, drained at 3.2s)`
				if got != want {
					t.Errorf("String() =\n%s\nwant\n%s", got, want)
				}
				if v.Stats[1].Lost != 1 {
					t.Errorf("lost = %d, want 1", v.Stats[1].Lost)
				}
			}},
		{name: "persistent session misses message queued while offline", rule: RuleQoS1Lost, ids: []string{"p1-1"},
			h: setup(false, "t/#", 1).lost("sub", 50).acked("pub", "t/a", "p1-1", 1, 100).
				conn("sub", 200, false, true).drain("sub", 3200),
			check: func(t *testing.T, v Verdict) {
				if d := v.Violations[0].Detail; !strings.Contains(d, "persistent session, drained at 3.2s") {
					t.Errorf("detail %q does not explain the persistent session", d)
				}
			}},
		{name: "QoS 2 publish downgraded to QoS 1 is owed at QoS 1", rule: RuleQoS1Lost, ids: []string{"p2-1"},
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p2-1", 2, 100).drain("sub", 1000)},
		{name: "duplicates are fine",
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100).
				recv("sub", "t/a", "p1-1", 1, 110).recv("sub", "t/a", "p1-1", 1, 120, "dup").drain("sub", 1000),
			check: func(t *testing.T, v Verdict) {
				if s := v.Stats[1]; s.Delivered != 1 || s.Duplicates != 1 || s.Lost != 0 {
					t.Errorf("stats %+v", s)
				}
			}},
		{name: "clean-session subscriber whose connection dropped",
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100).lost("sub", 103).
				conn("sub", 200, true, false).sub("sub", "t/#", 1, 210).drain("sub", 1000),
			check: func(t *testing.T, v Verdict) {
				if v.Stats[1].Excused != 1 {
					t.Errorf("excused = %d, want 1", v.Stats[1].Excused)
				}
			}},
		{name: "persistent session not present on reconnect",
			h: setup(false, "t/#", 1).lost("sub", 50).acked("pub", "t/a", "p1-1", 1, 100).
				conn("sub", 200, false, false).sub("sub", "t/#", 1, 210).drain("sub", 1000)},
		{name: "persistent session reconnected with clean session",
			h: setup(false, "t/#", 1).lost("sub", 50).acked("pub", "t/a", "p1-1", 1, 100).
				conn("sub", 200, true, false).sub("sub", "t/#", 1, 210).drain("sub", 1000)},
		{name: "persistent subscriber offline at the drain",
			h: setup(false, "t/#", 1).lost("sub", 50).acked("pub", "t/a", "p1-1", 1, 100).drain("sub", 1000)},
		{name: "unknown publish missing",
			h: setup(true, "t/#", 1).pub("pub", "t/a", "p1-1", 1, 100, OutcomeUnknown, 150).drain("sub", 1000)},
		{name: "never completed publish missing",
			h: setup(true, "t/#", 1).pub("pub", "t/a", "p1-1", 1, 100, OutcomePending, 0).drain("sub", 1000),
			check: func(t *testing.T, v Verdict) {
				if v.Stats[1].Unknown != 1 {
					t.Errorf("unknown = %d, want 1", v.Stats[1].Unknown)
				}
			}},
		{name: "subscriber never drained is unseen, not lost",
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100),
			check: func(t *testing.T, v Verdict) {
				if s := v.Stats[1]; s.Unseen != 1 || s.Lost != 0 {
					t.Errorf("stats %+v, want 1 unseen", s)
				}
			}},
		{name: "drained before the ack is unseen",
			h: setup(true, "t/#", 1).pub("pub", "t/a", "p1-1", 1, 100, OutcomeAcked, 500).drain("sub", 300),
			check: func(t *testing.T, v Verdict) {
				if v.Stats[1].Unseen != 1 {
					t.Errorf("unseen = %d, want 1", v.Stats[1].Unseen)
				}
			}},
		{name: "unsubscribed before the drain",
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100).unsub("sub", "t/#", 200).drain("sub", 1000)},
		{name: "subscribed after the send",
			h: setup(true, "x", 1).acked("pub", "t/a", "p1-1", 1, 100).sub("sub", "t/#", 1, 101).drain("sub", 1000)},
		{name: "granted QoS 0",
			h: setup(true, "t/#", 0).acked("pub", "t/a", "p1-1", 1, 100).drain("sub", 1000)},
		{name: "refused subscription",
			h: setup(true, "t/#", Refused).acked("pub", "t/a", "p1-1", 1, 100).drain("sub", 1000)},
		{name: "QoS 0 missing on a live connection is counted, not reported",
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p0-1", 0, 100).drain("sub", 1000),
			check: func(t *testing.T, v Verdict) {
				if v.Stats[0].Lost != 1 {
					t.Errorf("QoS 0 lost = %d, want 1", v.Stats[0].Lost)
				}
			}},
		{name: "QoS 0 to offline persistent session missing",
			h: setup(false, "t/#", 1).lost("sub", 50).acked("pub", "t/a", "p0-1", 0, 100).
				conn("sub", 200, false, true).drain("sub", 1000),
			check: func(t *testing.T, v Verdict) {
				if s := v.Stats[0]; s.Excused != 1 || s.Lost != 0 {
					t.Errorf("stats %+v, want 1 excused", s)
				}
			}},
		{name: "persistent session delivers the queued message",
			h: setup(false, "t/#", 1).lost("sub", 50).acked("pub", "t/a", "p1-1", 1, 100).
				conn("sub", 200, false, true).recv("sub", "t/a", "p1-1", 1, 210).drain("sub", 1000)},
		{name: "late drain after a reconnect of a clean session",
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100).drain("sub", 150).lost("sub", 160).
				conn("sub", 200, true, false).sub("sub", "t/#", 1, 210).drain("sub", 1000),
			rule: RuleQoS1Lost, ids: []string{"p1-1"}},
	})
}

func TestQoS2Lost(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "connected subscriber misses acked message", rule: RuleQoS2Lost, ids: []string{"p2-1"},
			h: setup(true, "t/#", 2).acked("pub", "t/a", "p2-1", 2, 100).drain("sub", 1000)},
		{name: "persistent session misses message queued while offline", rule: RuleQoS2Lost, ids: []string{"p2-1"},
			h: setup(false, "t/#", 2).disc("sub", 50).acked("pub", "t/a", "p2-1", 2, 100).
				conn("sub", 200, false, true).drain("sub", 1000)},
		{name: "delivered once",
			h: setup(true, "t/#", 2).acked("pub", "t/a", "p2-1", 2, 100).recv("sub", "t/a", "p2-1", 2, 110).drain("sub", 1000)},
		{name: "indeterminate QoS 2 publish missing",
			h: setup(true, "t/#", 2).pub("pub", "t/a", "p2-1", 2, 100, OutcomeUnknown, 120).drain("sub", 1000)},
		{name: "clean session lost",
			h: setup(true, "t/#", 2).acked("pub", "t/a", "p2-1", 2, 100).lost("sub", 101).
				conn("sub", 200, true, false).sub("sub", "t/#", 2, 210).drain("sub", 1000)},
	})
}

func TestQoS2Duplicated(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "acked delivered twice", rule: RuleQoS2Duplicated, ids: []string{"p2-1"},
			h: setup(true, "t/#", 2).acked("pub", "t/a", "p2-1", 2, 100).
				recv("sub", "t/a", "p2-1", 2, 110).recv("sub", "t/a", "p2-1", 2, 120, "dup")},
		{name: "indeterminate delivered twice", rule: RuleQoS2Duplicated, ids: []string{"p2-1"},
			h: build().conn("pub", 0, false, false).conn("sub", 0, true, false).sub("sub", "t/#", 2, 10).
				pub("pub", "t/a", "p2-1", 2, 100, OutcomeUnknown, 105).lost("pub", 105).conn("pub", 200, false, true).
				recv("sub", "t/a", "p2-1", 2, 110).recv("sub", "t/a", "p2-1", 2, 210),
			also: []string{RuleRedeliveryWithoutDup},
			check: func(t *testing.T, v Verdict) {
				x := wantViolation(t, v, RuleQoS2Duplicated, "p2-1")
				if !strings.Contains(x.Detail, "indeterminate QoS 2 message p2-1") {
					t.Errorf("detail %q", x.Detail)
				}
			}},
		{name: "across a reconnect of a persistent session", rule: RuleQoS2Duplicated, ids: []string{"p2-1"},
			h: setup(false, "t/#", 2).acked("pub", "t/a", "p2-1", 2, 100).recv("sub", "t/a", "p2-1", 2, 110).
				lost("sub", 120).conn("sub", 200, false, true).recv("sub", "t/a", "p2-1", 2, 210, "dup")},
		{name: "across clean sessions", rule: RuleQoS2Duplicated, ids: []string{"p2-1"},
			h: setup(true, "t/#", 2).acked("pub", "t/a", "p2-1", 2, 100).recv("sub", "t/a", "p2-1", 2, 110).
				lost("sub", 120).conn("sub", 200, true, false).sub("sub", "t/#", 2, 205).recv("sub", "t/a", "p2-1", 2, 210)},
		{name: "overlapping subscriptions allow two copies",
			h: setup(true, "t/#", 2).sub("sub", "t/+", 2, 11).acked("pub", "t/a", "p2-1", 2, 100).
				recv("sub", "t/a", "p2-1", 2, 110).recv("sub", "t/a", "p2-1", 2, 111)},
		{name: "downgraded to QoS 1 may be duplicated",
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p2-1", 2, 100).
				recv("sub", "t/a", "p2-1", 1, 110).recv("sub", "t/a", "p2-1", 1, 120, "dup")},
		{name: "retained copy does not count",
			h: setup(true, "x", 2).retained("pub", "t/a", "p2-1", 2, 100).sub("sub", "t/#", 2, 150).
				recv("sub", "t/a", "p2-1", 2, 151, "retain").
				sub("sub", "t/#", 2, 160).recv("sub", "t/a", "p2-1", 2, 161, "retain"),
			check: func(t *testing.T, v Verdict) {
				if s := v.Stats[2]; s.Retained != 2 || s.Delivered != 0 || s.Duplicates != 0 {
					t.Errorf("stats %+v, want 2 retained only", s)
				}
			}},
	})
}

func TestUnexpectedDelivery(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "never published", rule: RuleUnexpectedDelivery, ids: []string{"ghost-1"},
			h: setup(true, "t/#", 1).recv("sub", "t/a", "ghost-1", 1, 110)},
		{name: "publish failed", rule: RuleUnexpectedDelivery, ids: []string{"p1-1"},
			h: setup(true, "t/#", 1).pub("pub", "t/a", "p1-1", 1, 100, OutcomeFailed, 100).recv("sub", "t/a", "p1-1", 1, 110)},
		{name: "no matching subscription", rule: RuleUnexpectedDelivery, ids: []string{"p1-1"},
			h: setup(true, "t/a", 1).acked("pub", "t/b", "p1-1", 1, 100).recv("sub", "t/b", "p1-1", 1, 110)},
		{name: "published after the unsubscribe", rule: RuleUnexpectedDelivery, ids: []string{"p1-1"},
			h: setup(true, "t/#", 1).unsub("sub", "t/#", 50).acked("pub", "t/a", "p1-1", 1, 100).recv("sub", "t/a", "p1-1", 1, 110)},
		{name: "published into a session that was later discarded", rule: RuleUnexpectedDelivery, ids: []string{"p1-1"},
			h: setup(false, "t/#", 1).lost("sub", 50).acked("pub", "t/a", "p1-1", 1, 100).
				conn("sub", 200, true, false).recv("sub", "t/a", "p1-1", 1, 210)},
		{name: "wrong topic", rule: RuleUnexpectedDelivery, ids: []string{"p1-1"},
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100).recv("sub", "t/b", "p1-1", 1, 110)},
		{name: "before it was sent", rule: RuleUnexpectedDelivery, ids: []string{"p1-1"},
			h: setup(true, "t/#", 1).recv("sub", "t/a", "p1-1", 1, 90).acked("pub", "t/a", "p1-1", 1, 100)},
		{name: "$SYS topic through a leading wildcard", rule: RuleUnexpectedDelivery, ids: []string{"s-1"},
			h: setup(true, "#", 1).acked("pub", "$SYS/x", "s-1", 1, 100).recv("sub", "$SYS/x", "s-1", 1, 110)},
		{name: "RETAIN=1 on a message published without RETAIN", rule: RuleUnexpectedDelivery, ids: []string{"p1-1"},
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100).recv("sub", "t/a", "p1-1", 1, 110, "retain")},
		{name: "RETAIN=1 on a live delivery to an established subscription", rule: RuleUnexpectedDelivery, ids: []string{"r-1"},
			h: setup(true, "t/#", 1).retained("pub", "t/a", "r-1", 1, 100).recv("sub", "t/a", "r-1", 1, 110, "retain")},
		{name: "in flight when unsubscribed",
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 40).unsub("sub", "t/#", 50).recv("sub", "t/a", "p1-1", 1, 60)},
		{name: "delivered just before the SUBACK",
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 5).recv("sub", "t/a", "p1-1", 1, 8)}, // SUBACK at 10
		{name: "queued for a persistent session",
			h: setup(false, "t/#", 1).lost("sub", 50).acked("pub", "t/a", "p1-1", 1, 100).
				conn("sub", 200, false, true).recv("sub", "t/a", "p1-1", 1, 210)},
		{name: "retained message for a new subscription",
			h: build().conn("pub", 0, true, false).conn("sub", 0, true, false).
				retained("pub", "t/a", "r-1", 1, 5).sub("sub", "t/#", 1, 10).recv("sub", "t/a", "r-1", 1, 11, "retain")},
		{name: "$SYS topic through an explicit filter",
			h: setup(true, "$SYS/#", 1).acked("pub", "$SYS/x", "s-1", 1, 100).recv("sub", "$SYS/x", "s-1", 1, 110)},
	})
}

func TestQoSNotDowngraded(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "granted 0, delivered at 1", rule: RuleQoSNotDowngraded, ids: []string{"p1-1"},
			h: setup(true, "t/#", 0).acked("pub", "t/a", "p1-1", 1, 100).recv("sub", "t/a", "p1-1", 1, 110)},
		{name: "published at 1, delivered at 2", rule: RuleQoSNotDowngraded, ids: []string{"p1-1"},
			h: setup(true, "t/#", 2).acked("pub", "t/a", "p1-1", 1, 100).recv("sub", "t/a", "p1-1", 2, 110)},
		{name: "retained copy above the grant", rule: RuleQoSNotDowngraded, ids: []string{"r-1"},
			h: build().conn("pub", 0, true, false).conn("sub", 0, true, false).
				retained("pub", "t/a", "r-1", 2, 5).sub("sub", "t/#", 1, 10).recv("sub", "t/a", "r-1", 2, 11, "retain")},
		{name: "granted 0, delivered at 0",
			h: setup(true, "t/#", 0).acked("pub", "t/a", "p1-1", 1, 100).recv("sub", "t/a", "p1-1", 0, 110)},
		{name: "re-subscribed at a higher QoS",
			h: setup(true, "t/#", 0).acked("pub", "t/a", "p1-1", 1, 100).sub("sub", "t/#", 1, 101).recv("sub", "t/a", "p1-1", 1, 110)},
	})
}

func TestQoSDowngradedTooFar(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "granted 2, delivered at 1", rule: RuleQoSDowngradedTooFar, ids: []string{"p2-1"},
			h: setup(true, "t/#", 2).acked("pub", "t/a", "p2-1", 2, 100).recv("sub", "t/a", "p2-1", 1, 110)},
		{name: "overlapping QoS 0 and 1, only the QoS 0 copy arrived", rule: RuleQoSDowngradedTooFar, ids: []string{"p1-1"},
			h: setup(true, "t/#", 0).sub("sub", "t/a", 1, 11).acked("pub", "t/a", "p1-1", 1, 100).
				recv("sub", "t/a", "p1-1", 0, 110).drain("sub", 1000)},
		{name: "overlapping QoS 0 and 1, a copy at each",
			h: setup(true, "t/#", 0).sub("sub", "t/a", 1, 11).acked("pub", "t/a", "p1-1", 1, 100).
				recv("sub", "t/a", "p1-1", 0, 110).recv("sub", "t/a", "p1-1", 1, 111).drain("sub", 1000)},
		{name: "overlapping QoS 0 and 1, one copy at the maximum",
			h: setup(true, "t/#", 0).sub("sub", "t/a", 1, 11).acked("pub", "t/a", "p1-1", 1, 100).
				recv("sub", "t/a", "p1-1", 1, 111).drain("sub", 1000)},
		{name: "overlapping QoS 0 and 1, only QoS 0 but the session ended",
			h: setup(true, "t/#", 0).sub("sub", "t/a", 1, 11).acked("pub", "t/a", "p1-1", 1, 100).
				recv("sub", "t/a", "p1-1", 0, 110).lost("sub", 112).conn("sub", 200, true, false).drain("sub", 1000)},
		{name: "re-subscribed at a lower QoS",
			h: setup(true, "t/#", 2).acked("pub", "t/a", "p2-1", 2, 100).sub("sub", "t/#", 1, 102).recv("sub", "t/a", "p2-1", 1, 110).drain("sub", 1000)},
	})
}

func TestRedeliveryWithoutDup(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "second copy without DUP", rule: RuleRedeliveryWithoutDup, ids: []string{"p1-1"},
			h: setup(false, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100).recv("sub", "t/a", "p1-1", 1, 110).
				lost("sub", 120).conn("sub", 200, false, true).recv("sub", "t/a", "p1-1", 1, 210)},
		{name: "DUP copy first, then a DUP=0 copy", rule: RuleRedeliveryWithoutDup, ids: []string{"p1-1"},
			h: setup(false, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100).lost("sub", 105).conn("sub", 200, false, true).
				recv("sub", "t/a", "p1-1", 1, 210, "dup").recv("sub", "t/a", "p1-1", 1, 220)},
		{name: "QoS 2 copy without DUP", rule: RuleRedeliveryWithoutDup, ids: []string{"p2-1"},
			h:    setup(true, "t/#", 2).acked("pub", "t/a", "p2-1", 2, 100).recv("sub", "t/a", "p2-1", 2, 110).recv("sub", "t/a", "p2-1", 2, 120),
			also: []string{RuleQoS2Duplicated}},
		{name: "second copy with DUP",
			h: setup(false, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100).recv("sub", "t/a", "p1-1", 1, 110).
				lost("sub", 120).conn("sub", 200, false, true).recv("sub", "t/a", "p1-1", 1, 210, "dup")},
		{name: "overlapping subscriptions send two first copies",
			h: setup(true, "t/#", 1).sub("sub", "t/a", 1, 11).acked("pub", "t/a", "p1-1", 1, 100).
				recv("sub", "t/a", "p1-1", 1, 110).recv("sub", "t/a", "p1-1", 1, 111)},
		{name: "publisher retransmitted after a reconnect",
			h: build().conn("pub", 0, false, false).conn("sub", 0, true, false).sub("sub", "t/#", 1, 10).
				pub("pub", "t/a", "p1-1", 1, 100, OutcomeAcked, 250).lost("pub", 105).conn("pub", 200, false, true).
				recv("sub", "t/a", "p1-1", 1, 110).recv("sub", "t/a", "p1-1", 1, 210)},
		{name: "publisher's link shows a retransmission its connection events missed",
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100).arrive("pub", "p1-1", 1, 100).arrive("pub", "p1-1", 2, 200).
				recv("sub", "t/a", "p1-1", 1, 110).recv("sub", "t/a", "p1-1", 1, 210)},
		{name: "a new session may deliver again without DUP",
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100).recv("sub", "t/a", "p1-1", 1, 110).
				lost("sub", 120).conn("sub", 150, true, false).sub("sub", "t/#", 1, 160).recv("sub", "t/a", "p1-1", 1, 210)},
	})
}

func TestDupOnQoS0(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "QoS 0 with DUP", rule: RuleDupOnQoS0, ids: []string{"p0-1"},
			h: setup(true, "t/#", 0).acked("pub", "t/a", "p0-1", 0, 100).recv("sub", "t/a", "p0-1", 0, 110, "dup")},
		{name: "QoS 1 downgraded to 0 with DUP", rule: RuleDupOnQoS0, ids: []string{"p1-1"},
			h: setup(true, "t/#", 0).acked("pub", "t/a", "p1-1", 1, 100).recv("sub", "t/a", "p1-1", 0, 110, "dup")},
		{name: "QoS 1 first copy with DUP",
			h: setup(true, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100).recv("sub", "t/a", "p1-1", 1, 110, "dup")},
	})
}

func TestOutOfOrder(t *testing.T) {
	two := func(clean bool) *hb {
		return setup(clean, "t/#", 1).acked("pub", "t/a", "p-1", 1, 100).acked("pub", "t/a", "p-2", 1, 101)
	}
	runCases(t, []ruleCase{
		{name: "first deliveries swapped", rule: RuleOutOfOrder, ids: []string{"p-1", "p-2"},
			h: two(true).recv("sub", "t/a", "p-2", 1, 120).recv("sub", "t/a", "p-1", 1, 130),
			check: func(t *testing.T, v Verdict) {
				if got := v.Violations[0].MsgIDs; got[0] != "p-1" || got[1] != "p-2" {
					t.Errorf("MsgIDs = %v, want the late message first", got)
				}
			}},
		{name: "swapped across a reconnect", rule: RuleOutOfOrder, ids: []string{"p-1", "p-2"},
			h: two(false).lost("sub", 105).conn("sub", 200, false, true).
				recv("sub", "t/a", "p-2", 1, 210).recv("sub", "t/a", "p-1", 1, 220)},
		{name: "redelivery of an earlier message",
			h: two(true).recv("sub", "t/a", "p-1", 1, 120).recv("sub", "t/a", "p-2", 1, 130).recv("sub", "t/a", "p-1", 1, 140, "dup")},
		{name: "different publishers interleave",
			h: setup(true, "t/#", 1).conn("pub2", 0, true, false).acked("pub", "t/a", "a-1", 1, 100).acked("pub2", "t/a", "b-1", 1, 101).
				recv("sub", "t/a", "b-1", 1, 120).recv("sub", "t/a", "a-1", 1, 130)},
		{name: "different topics interleave",
			h: setup(true, "t/#", 1).acked("pub", "t/a", "a-1", 1, 100).acked("pub", "t/b", "b-1", 1, 101).
				recv("sub", "t/b", "b-1", 1, 120).recv("sub", "t/a", "a-1", 1, 130)},
		{name: "different QoS interleave",
			h: setup(true, "t/#", 1).acked("pub", "t/a", "a-1", 0, 100).acked("pub", "t/a", "b-1", 1, 101).
				recv("sub", "t/a", "b-1", 1, 120).recv("sub", "t/a", "a-1", 0, 130)},
		{name: "sent at the same time",
			h: setup(true, "t/#", 1).acked("pub", "t/a", "a-1", 1, 100).acked("pub", "t/a", "b-1", 1, 100).
				recv("sub", "t/a", "b-1", 1, 120).recv("sub", "t/a", "a-1", 1, 130)},
		{name: "received by the broker in one order, delivered in the other", rule: RuleOutOfOrder, ids: []string{"p-1", "p-2"},
			h: two(true).arrive("pub", "p-1", 1, 102).arrive("pub", "p-2", 1, 103).
				recv("sub", "t/a", "p-2", 1, 120).recv("sub", "t/a", "p-1", 1, 130),
			check: func(t *testing.T, v Verdict) {
				if d := v.Violations[0].Detail; !strings.Contains(d, "the broker had it by 102ms") {
					t.Errorf("detail %q", d)
				}
			}},
		{name: "crossed in one segment: the order of the events decides", rule: RuleOutOfOrder, ids: []string{"p-1", "p-2"},
			h: two(true).arrive("pub", "p-1", 1, 102).arrive("pub", "p-2", 1, 102).
				recv("sub", "t/a", "p-2", 1, 120).recv("sub", "t/a", "p-1", 1, 130)},
		{name: "a new message sent before the re-send of an older one is rightly forwarded first",
			h: setup(false, "t/#", 1).pub("pub", "t/a", "p-1", 1, 100, OutcomeAcked, 311).acked("pub", "t/a", "p-2", 1, 200).
				arrive("pub", "p-2", 2, 300).arrive("pub", "p-1", 2, 310).
				recv("sub", "t/a", "p-2", 1, 320).recv("sub", "t/a", "p-1", 1, 330)},
		{name: "an older message the broker may have dropped and got again later",
			h: setup(false, "t/#", 1).pub("pub", "t/a", "p-1", 1, 100, OutcomeAcked, 311).acked("pub", "t/a", "p-2", 1, 200).
				arrive("pub", "p-1", 1, 101).arrive("pub", "p-2", 2, 300).arrive("pub", "p-1", 2, 310).
				recv("sub", "t/a", "p-2", 1, 320).recv("sub", "t/a", "p-1", 1, 330)},
		{name: "an older message acknowledged before the newer one crossed", rule: RuleOutOfOrder, ids: []string{"p-1", "p-2"},
			h: setup(false, "t/#", 1).pub("pub", "t/a", "p-1", 1, 100, OutcomeAcked, 150).acked("pub", "t/a", "p-2", 1, 200).
				arrive("pub", "p-1", 1, 101).arrive("pub", "p-2", 1, 201).arrive("pub", "p-1", 2, 310).
				recv("sub", "t/a", "p-2", 1, 320).recv("sub", "t/a", "p-1", 1, 330)},
		{name: "a gap is not a reorder",
			h: setup(true, "t/#", 1).pub("pub", "t/a", "p-1", 1, 100, OutcomeUnknown, 101).acked("pub", "t/a", "p-2", 1, 102).
				recv("sub", "t/a", "p-2", 1, 120)},
	})
}

// TestOverlapNote checks the overlap allowance end to end: two subscriptions
// at different QoS, each copy at its own subscription's QoS.
func TestOverlapNote(t *testing.T) {
	h := setup(true, "t/#", 2).sub("sub", "t/+", 1, 11).acked("pub", "t/a", "p2-1", 2, 100).
		recv("sub", "t/a", "p2-1", 2, 110).recv("sub", "t/a", "p2-1", 1, 111).recv("sub", "t/a", "p2-1", 1, 300, "dup").
		drain("sub", 1000)
	wantOK(t, Check(h.h))
}

func TestRulesSelection(t *testing.T) {
	h := setup(true, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100).recv("sub", "t/a", "ghost", 1, 110).drain("sub", 1000)
	all := Check(h.h)
	wantViolation(t, all, RuleQoS1Lost, "p1-1")
	wantViolation(t, all, RuleUnexpectedDelivery, "ghost")
	if len(all.Rules) != len(RuleNames()) {
		t.Errorf("default checks %d rules, want %d", len(all.Rules), len(RuleNames()))
	}

	only := Check(h.h, Rules(RuleQoS1Lost))
	wantOnly(t, only, RuleQoS1Lost)
	wantViolation(t, only, RuleQoS1Lost, "p1-1")
	if len(only.Rules) != 1 || only.Stats != all.Stats {
		t.Errorf("selection changed rules %v or stats", only.Rules)
	}
	if v := Check(h.h, Rules()); len(v.Violations) != len(all.Violations) {
		t.Errorf("Rules() with no names should select every rule")
	}

	defer func() {
		if recover() == nil {
			t.Error("Rules with an unknown name did not panic")
		}
	}()
	Rules("qos1-lots")
}

func TestRuleTable(t *testing.T) {
	names := []string{RuleQoS0Duplicated, RuleQoS1Lost, RuleQoS2Lost, RuleQoS2Duplicated, RuleUnexpectedDelivery,
		RuleQoSNotDowngraded, RuleQoSDowngradedTooFar, RuleRedeliveryWithoutDup, RuleDupOnQoS0, RuleOutOfOrder,
		RuleWireRedeliveryWithoutDup, RuleWirePublishAfterPubrec, RuleWirePubrelNotResent, RuleWirePublishNotResent, RuleWireQoS0Dup, RuleWirePacketIDReuse, RuleWireForbiddenToV311}
	table := RuleTable()
	if len(table) != len(names) {
		t.Fatalf("table has %d rules, want %d", len(table), len(names))
	}
	for _, n := range names {
		r, ok := RuleInfo(n)
		if !ok || r.Description == "" || len(r.Statements) == 0 {
			t.Errorf("RuleInfo(%q) = %+v, %v", n, r, ok)
		}
		for _, s := range r.Statements {
			if !strings.HasPrefix(s, "MQTT-") {
				t.Errorf("%s: statement %q", n, s)
			}
		}
	}
	if _, ok := RuleInfo("nope"); ok {
		t.Error("RuleInfo found an unknown rule")
	}
	table[0].Statements[0] = "mutated"
	if r, _ := RuleInfo(table[0].Name); r.Statements[0] == "mutated" {
		t.Error("RuleTable exposes internal state")
	}
}

func TestSummary(t *testing.T) {
	h := setup(true, "t/#", 1).acked("pub", "t/a", "p1-1", 1, 100).acked("pub", "t/a", "p1-2", 1, 110).
		recv("sub", "t/a", "p1-1", 1, 120).recv("sub", "t/a", "p1-1", 1, 130, "dup").drain("sub", 1000)
	v := Check(h.h)
	s := v.Summary()
	for _, want := range []string{"QoS", "sent", "acked", "delivered", "duplicated", "lost", "FAIL: 1 violations (qos1-lost 1)"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if st := v.Stats[1]; st != (Stats{Sent: 2, Acked: 2, Delivered: 1, Duplicates: 1, Lost: 1}) {
		t.Errorf("stats %+v", st)
	}
	if s := Check(build().h).Summary(); !strings.Contains(s, "OK: no violations") {
		t.Errorf("empty history summary:\n%s", s)
	}
}

func TestCheckDoesNotModifyHistory(t *testing.T) {
	h := setup(true, "t/#", 1).recv("sub", "t/a", "p1-1", 1, 110).acked("pub", "t/a", "p1-1", 1, 100).h
	before := append([]Event(nil), h.Events...)
	Check(h)
	for i := range before {
		if before[i] != h.Events[i] {
			t.Fatalf("event %d changed", i)
		}
	}
}

func TestWarnings(t *testing.T) {
	h := setup(true, "t/#", 1).acked("pub", "t/a", "p-1", 1, 100).acked("pub", "t/a", "p-1", 1, 110).
		conn("sub", 200, true, true)
	v := Check(h.h)
	if len(v.Warnings) != 3 {
		t.Errorf("want 3 warnings (duplicate id, connect while up, clean with session present), got %q", v.Warnings)
	}
}
