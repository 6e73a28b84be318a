// The Faultline suite: every spec of suites/conformance, suites/scenarios
// and suites/chaos in one binary, against one target broker.
package suites_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/suites/framework"

	// The faulty broker of the self-tests (FAULTLINE_DEFECT, the kill matrix).
	_ "github.com/faultline-mqtt/faultline/fixtures/faulty/selftest"

	_ "github.com/faultline-mqtt/faultline/suites/chaos"
	_ "github.com/faultline-mqtt/faultline/suites/conformance"
	_ "github.com/faultline-mqtt/faultline/suites/conformance5"
	_ "github.com/faultline-mqtt/faultline/suites/measure"
	_ "github.com/faultline-mqtt/faultline/suites/scenarios"
)

func TestFaultline(t *testing.T) {
	RegisterFailHandler(framework.FailHandler)
	RunSpecs(t, framework.SuiteName())
}

var _ = framework.Suite()
