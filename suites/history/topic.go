package history

import "strings"

// Match reports whether the topic filter matches the topic name, following
// MQTT 3.1.1 section 4.7:
//
//   - "+" occupies a whole level and matches exactly one level, which may be
//     empty [MQTT-4.7.1-3];
//   - "#" must be the last level and matches its parent level and any number
//     of child levels, so "sport/#" matches "sport" [MQTT-4.7.1-2];
//   - topic names never contain wildcards [MQTT-4.7.1-1];
//   - a filter starting with a wildcard does not match a topic starting with
//     "$" [MQTT-4.7.2-1];
//   - levels are compared exactly, including empty ones ("a//b").
//
// Invalid filters and topic names (empty, a wildcard inside a level, "#" not
// last, a topic containing a wildcard) match nothing.
func Match(filter, topic string) bool {
	if !ValidTopic(topic) || filter == "" {
		return false
	}
	if topic[0] == '$' && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		f, frest, fmore := strings.Cut(filter, "/")
		if f == "#" {
			return !fmore
		}
		if f != "+" && strings.ContainsAny(f, "+#") {
			return false
		}
		t, trest, tmore := strings.Cut(topic, "/")
		if f != "+" && f != t {
			return false
		}
		switch {
		case !fmore && !tmore:
			return true
		case !tmore:
			// The topic has run out of levels: only a trailing "#" can
			// still match, standing for the parent level.
			return frest == "#"
		case !fmore:
			return false
		}
		filter, topic = frest, trest
	}
}

// ValidFilter reports whether filter is a syntactically valid topic filter.
func ValidFilter(filter string) bool {
	if filter == "" {
		return false
	}
	for {
		f, rest, more := strings.Cut(filter, "/")
		if f == "#" {
			return !more
		}
		if f != "+" && strings.ContainsAny(f, "+#") {
			return false
		}
		if !more {
			return true
		}
		filter = rest
	}
}

// ValidTopic reports whether topic is a valid topic name: non-empty and free
// of wildcard characters.
func ValidTopic(topic string) bool {
	return topic != "" && !strings.ContainsAny(topic, "+#")
}
