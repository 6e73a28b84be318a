package framework

import (
	"fmt"
	"time"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/fixtures/spec"
	"github.com/faultline-mqtt/faultline/reports"
)

// DefaultSpecTimeout bounds a conformance spec that sets no SpecTimeout.
const DefaultSpecTimeout = 60 * time.Second

// StatementLabel is the label key of MQTT normative statement ids:
// --label-filter='spec: containsAny MQTT-3.3.1-9' runs the specs of one.
const StatementLabel = reports.StatementLabel

// ConformanceIt declares a spec that checks a promise of the MQTT
// specification. Give it the statements it covers with Statements.
func ConformanceIt(text string, args ...any) bool {
	args = append(args, ginkgo.Label("conformance"), ginkgo.Offset(1))
	if !hasSpecTimeout(args) {
		args = append(args, ginkgo.SpecTimeout(DefaultSpecTimeout))
	}
	return ginkgo.It(text, args...)
}

func hasSpecTimeout(args []any) bool {
	for _, a := range args {
		if _, ok := a.(ginkgo.SpecTimeout); ok {
			return true
		}
	}
	return false
}

// Statements labels a spec with the MQTT 3.1.1 normative statements it
// covers, e.g. Statements("MQTT-4.3.2-1"). An id that is not in the
// catalog (fixtures/spec) stops the suite from being built.
func Statements(ids ...string) ginkgo.Labels {
	labels := ginkgo.Labels{}
	for _, id := range ids {
		canon, ok := spec.Normalize(id)
		if !ok {
			panic(fmt.Sprintf("framework.Statements: %q is not an MQTT 3.1.1 statement id", id))
		}
		if _, ok := spec.Lookup(canon); !ok {
			panic(fmt.Sprintf("framework.Statements: %s is not in the statement catalog", canon))
		}
		labels = append(labels, StatementLabel+":"+canon)
	}
	return labels
}

// StatementLabel5 is the label key of MQTT 5.0 normative statement ids:
// --label-filter='spec5: containsAny MQTT-3.3.4-9' runs the specs of one.
const StatementLabel5 = reports.StatementLabel5

// V5Label marks every spec of the MQTT 5.0 half (Statements5 adds it), so
// `make conformance LABELS=v5` runs that half alone.
const V5Label = "v5"

// Statements5 labels a spec with the MQTT 5.0 normative statements it
// covers, e.g. Statements5("MQTT-3.3.4-9"), and with V5Label. The ids are
// those of the 5.0 standard, which numbers its statements independently of
// 3.1.1; an id that is not in the 5.0 catalog (fixtures/spec/mqtt-5.0.tsv)
// stops the suite from being built.
func Statements5(ids ...string) ginkgo.Labels {
	labels := ginkgo.Labels{V5Label}
	for _, id := range ids {
		canon, ok := spec.Normalize(id)
		if !ok {
			panic(fmt.Sprintf("framework.Statements5: %q is not an MQTT 5.0 statement id", id))
		}
		if _, ok := spec.Lookup5(canon); !ok {
			panic(fmt.Sprintf("framework.Statements5: %s is not in the MQTT 5.0 statement catalog", canon))
		}
		labels = append(labels, StatementLabel5+":"+canon)
	}
	return labels
}

// StatementsOf returns the statements among a spec's labels, a 5.0 one
// marked "5.0:" (see reports.Statements).
func StatementsOf(labels []string) []string { return reports.Statements(labels) }

// Unsupported ends the spec as "not supported by this broker", with the
// evidence: use it where MQTT lets a broker refuse (a lower granted QoS, a
// payload limit, no retained messages), never for a violation.
func Unsupported(evidence string) {
	ginkgo.Skip(reports.UnsupportedPrefix+evidence, 1)
}

// ConformanceEntry is a DescribeTable entry checked like ConformanceIt.
func ConformanceEntry(description string, args ...any) ginkgo.TableEntry {
	args = append(args, ginkgo.Label("conformance"), ginkgo.Offset(1))
	if !hasSpecTimeout(args) {
		args = append(args, ginkgo.SpecTimeout(DefaultSpecTimeout))
	}
	return ginkgo.Entry(description, args...)
}

// DefectLabel is the label key naming the faulty-broker defects a spec
// must catch.
const DefectLabel = "defect"

// Catches names the defects of the faulty-broker fixture (fixtures/faulty)
// that must turn the spec red. The project's self-test runs every spec
// against each defect it names and fails if the spec stays green; every
// conformance spec must name at least one. The kill matrix checks that
// every name is a defect of the fixture (and so does Catches, in a binary
// that registers the fixture: RegisterSelfTest).
func Catches(defects ...string) ginkgo.Labels {
	labels := ginkgo.Labels{}
	for _, d := range defects {
		knownDefect(d)
		labels = append(labels, DefectLabel+":"+d)
	}
	return labels
}
