package history_test

import (
	"fmt"
	"time"

	"github.com/faultline-mqtt/faultline/suites/history"
)

func ExampleCheck() {
	// A fake clock keeps the output stable; a real harness uses NewRecorder.
	var now time.Duration
	r := history.NewRecorderWithClock(func() time.Duration { return now })

	r.Connected("pub", true, false)
	r.Connected("sub", false, false) // persistent session
	r.Subscribed("sub", "t/#", 1, 1)

	now = 100 * time.Millisecond
	r.Lost("sub", nil) // fault injected: the subscriber's link dies
	p1 := r.Publish("pub", "t/a", "p1-6", 1, false)
	p2 := r.Publish("pub", "t/a", "p1-7", 1, false)
	now = 150 * time.Millisecond
	p1.Acked()
	p2.Acked()

	now = 2 * time.Second
	r.Connected("sub", false, true) // session resumed
	r.Delivered("sub", "t/a", "p1-6", 1, true, false)
	now = 3200 * time.Millisecond
	r.Drained("sub")

	v := history.Check(r.History())
	for _, x := range v.Violations {
		fmt.Println(x)
	}
	fmt.Print(v.Summary())
	// Output:
	// qos1-lost [MQTT-4.3.2-1 MQTT-4.3.2-2 MQTT-3.1.2-4 MQTT-3.1.2-5 MQTT-4.4.0-1]: acked QoS 1 message p1-7 on "t/a" from pub never reached entitled subscriber sub (persistent session, drained at 3.2s)
	// QoS  sent  acked  failed  unknown  delivered  duplicated  lost  unseen  excused  retained
	// 0    0     0      0       0        0          0           0     0       0        0
	// 1    2     2      0       0        1          0           1     0       0        0
	// 2    0     0      0       0        0          0           0     0       0        0
	// FAIL: 1 violations (qos1-lost 1)
}
