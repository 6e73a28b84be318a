package chaos

import (
	"testing"

	"github.com/faultline-mqtt/faultline/suites/history"
)

func TestViolationsAreCountedByTheVersionsTheyCross(t *testing.T) {
	versions := map[string]string{"p1": "3.1.1", "s2": "3.1.1", "p1v5": "5.0", "s2v5": "5.0"}
	vs := []history.Violation{
		{Rule: "qos1-lost", Publisher: "p1", Subscriber: "s2v5"},
		{Rule: "qos1-lost", Publisher: "p1", Subscriber: "s2v5"},
		{Rule: "qos2-duplicated", Publisher: "p1v5", Subscriber: "s2"},
		{Rule: "wire-publish-not-resent", Subscriber: "s2v5"},
	}
	got := byVersion(vs, versions)
	want := "violations by publisher → subscriber version: qos1-lost: 3.1.1 → 5.0 2; qos2-duplicated: 5.0 → 3.1.1 1; wire-publish-not-resent: wire → 5.0 1"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}
