// Package reports turns a Ginkgo run into what CI systems and people read:
// a JUnit XML file whose testcases are named as sentences and whose
// failures carry the wire trace, and a plain-text summary that tells
// violations from features a broker does not support, and one
// self-contained HTML page (html.go) that people look at: a scorecard per
// area, the statement coverage map, and for each failure and known
// deviation an SVG packet sequence diagram of its links (sequence.go),
// drawn from the structured trace the framework adds to such specs
// (TraceDataEntry); measured figures as inline SVG charts (charts.go,
// wirecost.go). The comparison of several brokers gets the same
// (compare.go, comparehtml.go). progress.go is what a long run tells people
// while it runs (shown by reports/progress).
//
// Generated reports go to out/<target>/ (git-ignored), never here.
package reports
