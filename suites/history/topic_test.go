package history

import "testing"

func TestMatch(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"sport/tennis/player1", "sport/tennis/player1", true},
		{"sport/tennis/player1", "sport/tennis/player2", false},
		{"sport/tennis/player1", "sport/tennis", false},
		{"sport/tennis", "sport/tennis/player1", false},

		// "#": multi-level, including the parent level.
		{"sport/#", "sport", true},
		{"sport/#", "sport/", true},
		{"sport/#", "sport/tennis", true},
		{"sport/#", "sport/tennis/player1/ranking", true},
		{"sport/tennis/#", "sport/tennis", true},
		{"sport/#", "sports", false},
		{"#", "sport/tennis", true},
		{"#", "/", true},
		{"#", "a", true},

		// "+": exactly one level, possibly empty.
		{"sport/+", "sport/tennis", true},
		{"sport/+", "sport/tennis/player1", false},
		{"sport/+", "sport", false},
		{"sport/+", "sport/", true},
		{"+", "sport", true},
		{"+", "/sport", false},
		{"+/+", "/finance", true},
		{"/+", "/finance", true},
		{"+/tennis/#", "sport/tennis/player1", true},
		{"sport/+/player1", "sport/tennis/player1", true},
		{"a/+/b", "a//b", true},
		{"a/+/b", "a/b", false},
		{"a//b", "a//b", true},
		{"a//b", "a/b", false},
		{"+/+/+", "a//b", true},

		// "$" topics are not matched by a leading wildcard.
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"+", "$SYS", false},
		{"$SYS/#", "$SYS/x", true},
		{"$SYS/+", "$SYS/x", true},
		{"$SYS/x", "$SYS/x", true},
		{"a/#", "a/$x", true},

		// Invalid filters and topics match nothing.
		{"sport/tennis#", "sport/tennis", false},
		{"sport/#/ranking", "sport/x/ranking", false},
		{"sport+", "sport", false},
		{"sport/+x", "sport/+x", false},
		{"", "a", false},
		{"a", "", false},
		{"#", "a/+", false},
		{"+", "#", false},
	}
	for _, c := range cases {
		if got := Match(c.filter, c.topic); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

func TestValidFilter(t *testing.T) {
	for f, want := range map[string]bool{
		"#": true, "+": true, "a/#": true, "a/+/b": true, "+/+": true, "/": true, "a//b": true, "$SYS/#": true,
		"": false, "a#": false, "a/#/b": false, "a+": false, "a/b+/c": false, "#/a": false,
	} {
		if got := ValidFilter(f); got != want {
			t.Errorf("ValidFilter(%q) = %v, want %v", f, got, want)
		}
	}
	for topic, want := range map[string]bool{"a": true, "/": true, "a//b": true, "$SYS/x": true, "": false, "a/+": false, "#": false} {
		if got := ValidTopic(topic); got != want {
			t.Errorf("ValidTopic(%q) = %v, want %v", topic, got, want)
		}
	}
}
