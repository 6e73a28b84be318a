package framework

import (
	"context"
	"fmt"
	"sort"

	"github.com/faultline-mqtt/faultline/proxy/wire"
)

// janitor removes what a spec left on the broker, over direct connections:
// it ends persistent sessions (a CONNECT with CleanSession=1 discards them
// [MQTT-3.1.2-6]) and clears retained messages (an empty retained PUBLISH
// [MQTT-3.3.1-10]). It returns what it could not remove.
//
// Each wait for the broker's answer is bounded as the specs' are
// (stall.go); an answer that never came counts in the run's record of
// missing answers, and once one has not come, the janitor does not wait
// for it again (the rest is listed as left behind).
func janitor(ctx context.Context, sessions, retained map[string]bool) []string {
	t := current.Target
	var problems []string
	connect := func(id string) (*Raw, error) {
		r, err := dialRaw(ctx, t.Upstream)
		if err != nil {
			return nil, err
		}
		if _, err := r.Connect(connectPacket(id)); err != nil {
			r.Close()
			return nil, err
		}
		return r, nil
	}
	bye := func(r *Raw) {
		_ = r.Send(wire.Disconnect())
		r.Close()
	}
	for _, id := range sorted(sessions) {
		r, err := connect(id)
		if err != nil {
			problems = append(problems, fmt.Sprintf("session %s: %v", id, err))
			if cleanupMissing(err) {
				return append(problems, "the rest not tried: the broker withholds that answer")
			}
			continue
		}
		bye(r)
	}
	if len(retained) == 0 {
		return problems
	}
	r, err := connect(current.clientID())
	if err != nil {
		cleanupMissing(err)
		return append(problems, fmt.Sprintf("retained messages: %v", err))
	}
	defer bye(r)
	for i, topic := range sorted(retained) {
		id := uint16(i%60000 + 1)
		if err := r.Send(wire.Publish(topic, 1, id, "", wire.Retained())); err != nil {
			problems = append(problems, fmt.Sprintf("retained %s: %v", topic, err))
			break
		}
		if _, err := r.Expect(wire.PUBACK, ackTimeout()); err != nil {
			cleanupMissing(err)
			problems = append(problems, fmt.Sprintf("retained %s: %v", topic, err))
			break
		}
	}
	return problems
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
