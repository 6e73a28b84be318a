// The Faultline suite: every spec of suites/conformance (and the scenario
// and chaos packages) in one binary, against one target broker.
package suites_test

import (
	"testing"

	"github.com/faultline-mqtt/faultline/suites/framework"

	_ "github.com/faultline-mqtt/faultline/suites/conformance"
)

func TestFaultline(t *testing.T) { framework.Run(t) }

var _ = framework.Suite()
