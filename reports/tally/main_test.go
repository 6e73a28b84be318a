package main

import "testing"

func TestCheckCountsOneTestEach(t *testing.T) {
	var c checkFlags
	for _, v := range []string{"make lint=0", "vet=1", "other=2"} {
		if err := c.Set(v); err != nil {
			t.Fatalf("Set(%q): %v", v, err)
		}
	}
	if c.passed != 1 || c.failed != 2 {
		t.Errorf("got %d passed, %d failed; want 1 passed, 2 failed", c.passed, c.failed)
	}
	for _, bad := range []string{"lint", "=0", "lint="} {
		if err := c.Set(bad); err == nil {
			t.Errorf("Set(%q) took a value that is not NAME=EXIT", bad)
		}
	}
}
