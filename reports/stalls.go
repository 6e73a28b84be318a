package reports

import "fmt"

// MissingEntry names the report entry of a spec that failed because the
// broker never sent an answer it owed (suites/framework/stall.go): its
// value is the packet type, "PUBCOMP".
const MissingEntry = "answer never came"

// StallAfter is in how many specs the same answer must have gone missing
// before the run calls the broker stalled: later waits for that answer
// are cut short, and the summary says so once at the top.
const StallAfter = 3

// stallWords say what a broker that never sends an answer fails to do.
var stallWords = map[string]string{
	"CONNACK":  "the broker does not answer CONNECT in time",
	"SUBACK":   "the broker never answers SUBSCRIBE",
	"UNSUBACK": "the broker never answers UNSUBSCRIBE",
	"PUBACK":   "the broker never acknowledges QoS 1 messages",
	"PUBREC":   "the broker never acknowledges QoS 2 messages",
	"PUBREL":   "the broker never releases QoS 2 messages to subscribers",
	"PUBCOMP":  "the broker never completes QoS 2 flows",
	"PINGRESP": "the broker never answers PINGREQ",
}

// Stalled says that the broker never sent answer in n specs: "the broker
// never completes QoS 2 flows: PUBCOMP missing in 12 specs".
func Stalled(answer string, n int) string {
	what, ok := stallWords[answer]
	if !ok {
		what = "the broker never sends " + answer
	}
	return fmt.Sprintf("%s: %s missing in %d specs", what, answer, n)
}
