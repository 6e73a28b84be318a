package framework

import (
	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/fixtures/faulty"
	"github.com/faultline-mqtt/faultline/proxy"
)

// startFaulty puts the named defect of the faulty-broker fixture in front
// of the broker at url (self-tests) and returns the faulty broker's URL.
func startFaulty(defect, url string) string {
	up, err := proxy.ParseUpstream(url)
	if err != nil || up.Scheme() != "tcp" {
		ginkgo.Fail("faultline: the faulty-broker fixture needs a tcp:// broker, not " + url)
	}
	fx, err := faulty.Start(defect, up.URL.Host)
	if err != nil {
		ginkgo.Fail("faultline: " + err.Error())
	}
	ginkgo.DeferCleanup(fx.Close)
	return fx.URL()
}
