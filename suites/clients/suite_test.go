// The client suite: the specs of suites/clientspecs, judging the client
// program FAULTLINE_CLIENT names through a Faultline link, against one
// target broker (the embedded one unless MQTT_BROKER names another).
//
// A binary of its own, not part of suites/suite_test.go: its specs judge a
// client, not the broker, so a broker's conformance run must neither run
// them nor count them; the broker kill matrix (fixtures/faulty) does not
// apply to them (fixtures/faultyclient has theirs); and the failures are
// the client's, so no broker profile may excuse them.
package clients_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/suites/clientspecs"
	"github.com/faultline-mqtt/faultline/suites/framework"
)

func TestClient(t *testing.T) {
	suite, _ := GinkgoConfiguration()
	if clientspecs.Command() == "" && !suite.DryRun {
		t.Skip("no client program to judge: set " + clientspecs.EnvClient + " (make client CLIENT='python3 my_client.py')")
	}
	// Ginkgo's own fail handler: a broker profile's excuses are for the
	// broker's failures, and these are the client's.
	RegisterFailHandler(Fail)
	RunSpecs(t, "faultline-client")
}

var _ = framework.Suite()
