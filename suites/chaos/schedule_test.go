package chaos

import (
	"testing"
	"time"
)

func TestTheSameSeedGivesTheSameSchedule(t *testing.T) {
	links := []string{"p0", "p1", "s1"}
	a, b := Plan(42, links, 10*time.Second), Plan(42, links, 10*time.Second)
	if a.String() != b.String() {
		t.Fatalf("seed 42 gave two schedules:\n%s\n%s", a, b)
	}
	if c := Plan(43, links, 10*time.Second); c.String() == a.String() {
		t.Fatal("seeds 42 and 43 gave the same schedule")
	}
}

func TestFaultsOnALinkNeverOverlapAndEveryKindAppears(t *testing.T) {
	s := Plan(7, []string{"a", "b", "c", "d", "e", "f"}, 60*time.Second)
	end := map[string]time.Duration{}
	kinds := map[Kind]bool{}
	for i, e := range s.Events {
		if i > 0 && e.At < s.Events[i-1].At {
			t.Fatalf("events out of time order at %d", i)
		}
		if e.At < end[e.Link] {
			t.Fatalf("%s: fault at %v overlaps the previous one, which lasts until %v", e.Link, e.At, end[e.Link])
		}
		end[e.Link] = e.At + e.For
		kinds[e.Kind] = true
	}
	if len(kinds) != len(kindNames) {
		t.Fatalf("a minute of faults drew only %d of %d kinds", len(kinds), len(kindNames))
	}
}
