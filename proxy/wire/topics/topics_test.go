package topics

import (
	"strings"
	"testing"
)

// TestMatch covers matching [MQTT-4.7.1-2, MQTT-4.7.1-3, MQTT-4.7.2-1]
// and that invalid names and filters match nothing [MQTT-4.7.1-1].
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

		// Levels compare byte for byte, case and all [MQTT-4.7.3-4].
		{"Sport/#", "sport/x", false},
		{"a/b", "a/b ", false},
	}
	for _, c := range cases {
		if got := Match(c.filter, c.topic); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

// TestValid covers the validity of filters and names: wildcards as whole
// levels [MQTT-4.7.1-2, MQTT-4.7.1-3], none in names [MQTT-4.7.1-1], at
// least one character [MQTT-4.7.3-1], UTF-8 without U+0000
// [MQTT-4.7.3-2] and at most 65535 bytes [MQTT-4.7.3-3].
func TestValid(t *testing.T) {
	for f, want := range map[string]bool{
		"#": true, "+": true, "a/#": true, "a/+/b": true, "+/+": true, "/": true, "a//b": true, "$SYS/#": true, "ü/+": true,
		"": false, "a#": false, "a/#/b": false, "a+": false, "a/b+/c": false, "#/a": false,
		"a/\x00b": false, "a/\xff": false, strings.Repeat("a", MaxLen+1): false,
	} {
		if got := ValidFilter(f); got != want {
			t.Errorf("ValidFilter(%q) = %v, want %v", f, got, want)
		}
	}
	for name, want := range map[string]bool{
		"a": true, "/": true, "a//b": true, "$SYS/x": true, " ": true, strings.Repeat("a", MaxLen): true,
		"": false, "a/+": false, "#": false, "a\x00": false, "\xc3": false, strings.Repeat("a", MaxLen+1): false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
	if NameProblem("", true) != "" {
		t.Error("an empty topic name with a topic alias is valid in MQTT 5.0")
	}
}

func TestSharedFilters(t *testing.T) {
	for f, want := range map[string]bool{
		"$share/g/a/#": true, "$share/g/+": true,
		"$share/g": false, "$share//a": false, "$share/g/": false, "$share/g+/a": false, "$share/g/a#": false,
	} {
		if got := FilterProblem(f, true) == ""; got != want {
			t.Errorf("FilterProblem(%q, v5) valid = %v, want %v", f, got, want)
		}
	}
	if FilterProblem("$share/g", false) != "" {
		t.Error("in MQTT 3.1.1 $share/g is an ordinary filter")
	}
}
