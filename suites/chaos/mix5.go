package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/suites/framework"
)

// Mix is the chaos run's 5.0 clients, beside its 3.1.1 ones on the same
// broker: p1v5 publishes at QoS 1 and p2v5 at QoS 2; s1v5 (QoS 1) and s2v5
// (QoS 2) subscribe to everything. All four keep a persistent session
// (Session Expiry Interval sessionSeconds) and resume it by themselves
// after every cut (framework.Resume5): they reconnect with Clean Start 0
// and send again, with DUP 1 and the same packet ids, the PUBLISHes and
// PUBRELs the broker had not acknowledged. The mix is fixed, so the seed
// alone decides the faults.
type Mix struct {
	f       *framework.Framework
	pubs    []*framework.Client5
	subs    []*framework.Client5
	refused string // why there are no 5.0 clients
}

// sessionSeconds is the Session Expiry Interval of the run's 5.0 clients:
// long enough to outlive every outage of the schedule. The janitor ends
// the sessions after the spec.
const sessionSeconds = 300

// Mix5 connects the 5.0 clients and subscribes the subscribers to root/#.
// A broker that does not speak 5.0 gets none, and the run says so.
func Mix5(ctx context.Context, f *framework.Framework, root string) *Mix {
	ginkgo.GinkgoHelper()
	m := &Mix{f: f}
	for _, s := range []struct {
		name string
		qos  byte
		sub  bool
	}{{"s2v5", 2, true}, {"s1v5", 1, true}, {"p1v5", 1, false}, {"p2v5", 2, false}} {
		c := f.NewClient5(s.name, framework.SessionExpiry(sessionSeconds), framework.Resume5())
		_, err := c.Connect(ctx)
		var r *framework.Refused5
		if errors.As(err, &r) && (r.Connack.ReasonCode == 0x84 || r.Connack.ReasonCode == 0x01) {
			m.refused = fmt.Sprintf("no 5.0 clients: the broker answered a 5.0 CONNECT with CONNACK code 0x%02x", r.Connack.ReasonCode)
			m.pubs, m.subs = nil, nil
			return m
		}
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		if !s.sub {
			m.pubs = append(m.pubs, c)
			continue
		}
		filter := root + "/#"
		code, err := c.Subscribe(ctx, filter, s.qos, 0)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		if code != s.qos {
			framework.Unsupported(fmt.Sprintf("the broker granted a 5.0 subscription to %s reason code 0x%02x for QoS %d", filter, code, s.qos))
		}
		m.subs = append(m.subs, c)
	}
	return m
}

// Clients are the 5.0 clients, publishers first.
func (m *Mix) Clients() []*framework.Client5 {
	return append(append([]*framework.Client5{}, m.pubs...), m.subs...)
}

// Publish sends each publisher's messages (v5q1-1..., v5q2-1...) to
// root/v5q<qos> with the run's size and returns, per publisher, the
// payloads acknowledged.
func (m *Mix) Publish(ctx context.Context, cfg Config, root string) [][]string {
	acked := make([][]string, len(m.pubs))
	done := make(chan struct{}, len(m.pubs))
	for i, p := range m.pubs {
		qos := byte(i + 1)
		go func() {
			defer func() { done <- struct{}{} }()
			defer ginkgo.GinkgoRecover()
			acked[i] = Publish5(ctx, p, fmt.Sprintf("%s/v5q%d", root, qos), qos, fmt.Sprintf("v5q%d", qos), cfg.Messages, cfg.Window, cfg.Length)
		}()
	}
	for range m.pubs {
		<-done
	}
	return acked
}

// Drain waits for the 5.0 subscribers' deliveries: every owed payload, or
// the drain's bound.
func (m *Mix) Drain(ctx context.Context, owed []string) {
	ginkgo.GinkgoHelper()
	for _, s := range m.subs {
		m.f.Drain5(ctx, s, owed...)
	}
}

// Acks says what the 5.0 publishers got acknowledged, and how often each
// 5.0 client reconnected and sent something again.
func (m *Mix) Acks(acked [][]string) string {
	if m.refused != "" {
		return m.refused
	}
	var parts []string
	for i, a := range acked {
		parts = append(parts, fmt.Sprintf("QoS %d: %d acknowledged", i+1, len(a)))
	}
	var again []string
	for _, c := range m.Clients() {
		again = append(again, fmt.Sprintf("%s %d/%d", c.Name, c.Connections()-1, c.Resends()))
	}
	return fmt.Sprintf("5.0 %s; 5.0 reconnections/resends: %s", strings.Join(parts, ", "), strings.Join(again, ", "))
}

func (m *Mix) String() string {
	if m.refused != "" {
		return m.refused
	}
	var names []string
	for _, c := range m.Clients() {
		names = append(names, c.Name)
	}
	return "5.0 clients " + strings.Join(names, " ") + " beside the 3.1.1 ones"
}
