// Package reports turns a Ginkgo run into what CI systems and people read:
// a JUnit XML file whose testcases are named as sentences and whose
// failures carry the wire trace, and a plain-text summary that tells
// violations from features a broker does not support.
//
// Generated reports go to reports/<target>/ (git-ignored).
package reports
