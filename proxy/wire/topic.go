package wire

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// utf8Problem tells why b is not a valid MQTT UTF-8 encoded string, or "".
// Go's decoder already rejects surrogates and overlong forms.
func utf8Problem(b []byte) string {
	switch {
	case !utf8.Valid(b):
		return "is not valid UTF-8"
	case bytes.IndexByte(b, 0) >= 0:
		return "contains U+0000"
	}
	return ""
}

// topicNameProblem tells why s cannot be the topic name of a PUBLISH or
// will, or "". An empty name is allowed only when a topic alias stands in.
func topicNameProblem(s string, alias bool) string {
	switch {
	case s == "" && !alias:
		return "empty topic name"
	case strings.ContainsAny(s, "+#"):
		return "wildcard in topic name " + quote(s, 32)
	}
	return ""
}

// topicFilterProblem tells why s is not a valid topic filter, or "".
func topicFilterProblem(s string, v5 bool) string {
	orig := s
	if v5 && strings.HasPrefix(s, "$share/") {
		name, filter, ok := strings.Cut(s[len("$share/"):], "/")
		if !ok || name == "" || filter == "" || strings.ContainsAny(name, "+#") {
			return "invalid shared subscription " + quote(orig, 32)
		}
		s = filter
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
			return ""
		}
		s = rest
	}
}

// isShared tells whether a topic filter is an MQTT 5.0 shared subscription.
func isShared(filter string) bool {
	return strings.HasPrefix(filter, "$share/")
}
