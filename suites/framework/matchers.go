package framework

import (
	"fmt"
	"strings"
	"time"

	"github.com/onsi/gomega/gcustom"
	"github.com/onsi/gomega/types"

	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/suites/history"
)

// Gomega matchers for what specs assert about verdicts, faults and links.

// BrokerClose is the broker closing one connection of a link, as the link
// saw it.
type BrokerClose struct {
	At   time.Time // when the link saw the broker close the connection
	Conn int       // the connection's number on the link
	// Silence is how long the client had sent nothing whole on that
	// connection when the broker closed it: from the end of its last packet
	// that reached the broker to the close.
	Silence time.Duration
}

// BrokerClosed returns the first time the broker closed a connection of
// link l (ok is false while it has closed none). A close by the client, or
// by a cut of the link, does not count.
func BrokerClosed(l *proxy.Link) (BrokerClose, bool) {
	entries := l.Trace().Entries()
	for _, e := range entries {
		if e.Kind != proxy.Event || !strings.HasPrefix(e.Note, "broker closed the connection") {
			continue
		}
		bc := BrokerClose{At: e.At, Conn: e.Conn}
		var last time.Time
		for _, p := range entries {
			if p.Kind == proxy.Passed && p.Dir == proxy.ToBroker && p.Conn == e.Conn && !p.At.After(e.At) {
				last = p.At
			}
		}
		if !last.IsZero() {
			bc.Silence = e.At.Sub(last)
		}
		return bc, true
	}
	return BrokerClose{}, false
}

// BeClosedByTheBroker succeeds once the broker has closed a connection of
// a link (*proxy.Link): use it with Eventually for "the broker disconnects
// the client", and with Consistently and Not for "the broker keeps the
// connection open".
func BeClosedByTheBroker() types.GomegaMatcher { return closedMatcher{} }

type closedMatcher struct{}

func (closedMatcher) Match(actual any) (bool, error) {
	l, ok := actual.(*proxy.Link)
	if !ok {
		return false, fmt.Errorf("BeClosedByTheBroker expects a *proxy.Link, not %T", actual)
	}
	_, closed := BrokerClosed(l)
	return closed, nil
}

func (closedMatcher) FailureMessage(actual any) string {
	return fmt.Sprintf("Expected the broker to close the connection of link %s; it left it open", actual.(*proxy.Link).Name())
}

func (closedMatcher) NegatedFailureMessage(actual any) string {
	l := actual.(*proxy.Link)
	bc, _ := BrokerClosed(l)
	return fmt.Sprintf("Expected the broker to keep the connection of link %s open; it closed connection %d after the client had been silent for %v",
		l.Name(), bc.Conn, bc.Silence.Round(time.Millisecond))
}

// Hold succeeds when a verdict found no violation; its failure lists each
// violation with its rule, the MQTT statements and the message ids.
func Hold() types.GomegaMatcher { return holdMatcher{} }

type holdMatcher struct{}

func (holdMatcher) Match(actual any) (bool, error) {
	v, ok := actual.(history.Verdict)
	if !ok {
		return false, fmt.Errorf("Hold expects a history.Verdict, not %T", actual)
	}
	return v.OK(), nil
}

func (holdMatcher) FailureMessage(actual any) string {
	return "The broker broke a guarantee:\n" + describe(actual.(history.Verdict))
}

func (holdMatcher) NegatedFailureMessage(any) string {
	return "Expected a violation, the history holds every guarantee"
}

// HaveFired succeeds when a cut has happened. A spec whose fault never
// fired tested nothing, so every fault spec asserts it.
func HaveFired() types.GomegaMatcher {
	return gcustom.MakeMatcher(func(f *proxy.Fault) (bool, error) {
		select {
		case <-f.Fired():
			return true, nil
		default:
			return false, nil
		}
	}).WithTemplate("The cut never happened: {{.Actual}}\n(the traffic never reached the point the spec armed it for)")
}

// HaveCrossed succeeds when a link's trace shows a whole packet matching m
// in direction dir, e.g. Expect(pub.Link).To(HaveCrossed(proxy.ToBroker, proxy.Publish(1).Dup())).
func HaveCrossed(dir proxy.Direction, m proxy.Match) types.GomegaMatcher {
	return gcustom.MakeMatcher(func(l *proxy.Link) (bool, error) {
		for _, p := range l.Trace().Packets(dir) {
			if m.Matches(p) {
				return true, nil
			}
		}
		return false, nil
	}).WithTemplate("Expected link {{.Actual.Name}} to carry {{.Data}}", fmt.Sprintf("%s %s", m, dir))
}
