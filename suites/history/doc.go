// Package history records what MQTT clients did and observed while faults
// were injected into a broker, and judges that record afterwards against the
// delivery guarantees of MQTT 3.1.1.
//
// The approach follows etcd's robustness tests and Jepsen's queue checkers:
// the harness only records (a [Recorder] is safe for concurrent use by every
// client goroutine), and [Check] is a pure function of the resulting
// [History]. Each violated guarantee is reported under a stable rule name
// (see [RuleTable]) together with the MQTT normative statements it stands for
// and the message ids involved.
//
// The checker is deliberately conservative: it reports only what a
// conforming broker could not have produced given what the clients saw.
// Anything the recorded history cannot decide (a publish whose
// acknowledgement never arrived, a subscriber whose session ended, a
// subscriber the harness never drained) is counted in [Stats] instead of
// being reported as a violation.
//
// Besides what the clients did and saw, a history may hold the MQTT packets
// the harness's proxy saw on each client's link ([Recorder.Wire],
// [Recorder.WireCut]). The wire rules (named wire-*) judge the broker as the
// sender of the QoS 1 and 2 handshakes with each client, per session:
// DUP on retransmissions, no PUBLISH after PUBREC, PUBREL re-sent after a
// reconnect, packet identifiers not reused while in flight. Wire packets
// must be recorded in the order they crossed the link, each before its
// receiver could answer it.
//
// Times in a history are durations since the recorder's base time, taken
// from the monotonic clock.
package history
