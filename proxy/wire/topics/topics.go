// Package topics holds MQTT's rules for topic names and topic filters
// (MQTT 3.1.1 and 5.0, section 4.7): which strings are valid, and which
// topic names a filter matches. The codec, the history checker and the
// harness all ask it, so they never disagree.
package topics

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxLen is the longest topic name or filter: a UTF-8 encoded string
// carries a two-byte length [MQTT-1.5.3-1].
const MaxLen = 65535

// Match reports whether filter matches the topic name:
//
//   - "+" occupies a whole level and matches exactly one level, which may
//     be empty [MQTT-4.7.1-3];
//   - "#" must be the last level and matches its parent level and any
//     number of child levels, so "sport/#" matches "sport" [MQTT-4.7.1-2];
//   - topic names never contain wildcards [MQTT-4.7.1-1];
//   - a filter starting with a wildcard does not match a topic name
//     starting with "$" [MQTT-4.7.2-1];
//   - levels are compared exactly, byte for byte, including empty ones
//     ("a//b"), without normalisation [MQTT-4.7.3-4].
//
// Invalid filters and topic names (see ValidFilter and ValidName) match
// nothing. Shared subscriptions ("$share/...") are not resolved here.
func Match(filter, name string) bool {
	if !ValidName(name) || !ValidFilter(filter) {
		return false
	}
	if name[0] == '$' && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		f, frest, fmore := strings.Cut(filter, "/")
		if f == "#" {
			return true
		}
		t, trest, tmore := strings.Cut(name, "/")
		if f != "+" && f != t {
			return false
		}
		switch {
		case !fmore && !tmore:
			return true
		case !tmore:
			// The name has run out of levels: only a trailing "#" can
			// still match, standing for the parent level.
			return frest == "#"
		case !fmore:
			return false
		}
		filter, name = frest, trest
	}
}

// ValidName reports whether name can be the topic name of a PUBLISH or a
// will: see NameProblem.
func ValidName(name string) bool { return NameProblem(name, false) == "" }

// ValidFilter reports whether filter is a valid MQTT 3.1.1 topic filter
// (in MQTT 5.0 a "$share/" filter has more rules: FilterProblem).
func ValidFilter(filter string) bool { return FilterProblem(filter, false) == "" }

// NameProblem says why name cannot be a topic name, or "": it must be at
// least one character long [MQTT-4.7.3-1] (unless an MQTT 5.0 topic alias
// stands in for it: alias), hold no wildcard [MQTT-4.7.1-1], and be a
// well-formed UTF-8 string without U+0000 of at most MaxLen bytes
// [MQTT-4.7.3-2, MQTT-4.7.3-3].
func NameProblem(name string, alias bool) string {
	switch {
	case name == "" && !alias:
		return "empty topic name"
	case strings.ContainsAny(name, "+#"):
		return "wildcard in topic name " + quote(name, 32)
	}
	return stringProblem(name)
}

// FilterProblem says why filter is not a valid topic filter, or "": at
// least one character [MQTT-4.7.3-1], "#" only as a whole last level
// [MQTT-4.7.1-2], "+" only as a whole level [MQTT-4.7.1-3], well-formed
// UTF-8 without U+0000 [MQTT-4.7.3-2]. With v5, a shared subscription
// "$share/{name}/{filter}" needs a name without wildcards and a filter.
func FilterProblem(filter string, v5 bool) string {
	orig, s := filter, filter
	if v5 && IsShared(s) {
		name, rest, ok := strings.Cut(s[len("$share/"):], "/")
		if !ok || name == "" || rest == "" || strings.ContainsAny(name, "+#") {
			return "invalid shared subscription " + quote(orig, 32)
		}
		s = rest
	}
	if s == "" {
		return "empty topic filter"
	}
	for {
		level, rest, more := strings.Cut(s, "/")
		switch {
		case level == "#" && more:
			return "'#' not last in topic filter " + quote(orig, 32)
		case level != "#" && level != "+" && strings.ContainsAny(level, "+#"):
			return "wildcard inside a level of topic filter " + quote(orig, 32)
		}
		if !more {
			return stringProblem(orig)
		}
		s = rest
	}
}

// IsShared tells whether filter is an MQTT 5.0 shared subscription.
func IsShared(filter string) bool { return strings.HasPrefix(filter, "$share/") }

// stringProblem says why s is not a valid MQTT UTF-8 encoded string for a
// topic, or "".
func stringProblem(s string) string {
	switch {
	case len(s) > MaxLen:
		return "topic longer than 65535 bytes"
	case !utf8.ValidString(s):
		return "topic is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "topic contains U+0000"
	}
	return ""
}

// UTF8Problem says why b is not a valid MQTT UTF-8 encoded string, or "".
// Go's decoder already rejects surrogates and overlong forms.
func UTF8Problem(b []byte) string {
	switch {
	case !utf8.Valid(b):
		return "is not valid UTF-8"
	case bytes.IndexByte(b, 0) >= 0:
		return "contains U+0000"
	}
	return ""
}

// quote quotes s, cut to at most max bytes on a rune boundary with "…".
func quote(s string, max int) string {
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for i := 0; i < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(s[cut]); i++ {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
