package framework

import (
	"context"
	"fmt"
	"net/url"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/fixtures/certs"
	"github.com/faultline-mqtt/faultline/fixtures/embedded"
	"github.com/faultline-mqtt/faultline/proxy"
)

// Self-tests: with FAULTLINE_DEFECT set, the run puts a faulty broker in
// front of its target, a broker that breaks one promise of MQTT on purpose,
// and every spec that claims to catch that defect must go red (the kill
// matrix, fixtures/faulty/matrix_test.go). The framework does not import
// that test double: the suite binary registers it with RegisterSelfTest
// (fixtures/faulty/selftest does, imported by suites/suite_test.go).

// SelfTest is a faulty broker as the framework drives it.
type SelfTest interface {
	// Known says whether the faulty broker has a defect of this name
	// (Catches checks every name it is given).
	Known(defect string) bool
	// Start puts the defect in front of the broker at upstream (host:port)
	// and returns the faulty broker's URL and what stops it.
	Start(defect, upstream string) (url string, stop func() error, err error)
	// StartEndpoints puts the defect in front of the broker's other
	// transports too: TLS, mutual TLS, ws, wss and the authenticating
	// listener, ended by the faulty broker with the broker's certificates.
	StartEndpoints(defect string, to SelfTestUpstreams) (SelfTestEndpoints, func() error, error)
	// Restartable says whether a faulty broker of this process can restart
	// (its defect is a restart defect).
	Restartable() bool
	// Restart restarts the restartable faulty brokers of this process and
	// returns once they serve again on the same addresses.
	Restart(ctx context.Context) error
}

// SelfTestUpstreams is what a faulty broker's other endpoints lead to.
type SelfTestUpstreams struct {
	Upstream     string // host:port of the broker's plain MQTT listener
	AuthUpstream string // host:port of its authenticating listener
	// Username and Password are the credentials the authenticating
	// listener accepts.
	Username, Password string
	Certs              certs.Files // the broker's certificate set
}

// SelfTestEndpoints are a faulty broker's other endpoints, as URLs.
type SelfTestEndpoints struct {
	TLS, MTLS, WS, WSS, Auth string
}

var selfTest SelfTest

// RegisterSelfTest plugs in the faulty broker of the self-tests. Call it
// from an init function of a package the suite binary imports, once.
func RegisterSelfTest(s SelfTest) {
	if selfTest != nil {
		panic("framework.RegisterSelfTest: a faulty broker is registered already")
	}
	selfTest = s
}

// registeredSelfTest is the faulty broker of a self-test run; the run fails
// when the binary registered none.
func registeredSelfTest() SelfTest {
	if selfTest == nil {
		ginkgo.Fail("faultline: " + EnvDefect + " is set, but this binary registers no faulty broker (framework.RegisterSelfTest; the suite binary imports fixtures/faulty/selftest)")
	}
	return selfTest
}

// startFaulty puts the named defect of the faulty broker in front of the
// broker at url (self-tests) and returns the faulty broker's URL.
func startFaulty(defect, url string) string {
	up, err := proxy.ParseUpstream(url)
	if err != nil || up.Scheme() != "tcp" {
		ginkgo.Fail("faultline: the faulty-broker fixture needs a tcp:// broker, not " + url)
	}
	fxURL, stop, err := registeredSelfTest().Start(defect, up.URL.Host)
	if err != nil {
		ginkgo.Fail("faultline: " + err.Error())
	}
	ginkgo.DeferCleanup(stop)
	return fxURL
}

// startFaultyEndpoints puts the defect in front of the embedded broker's
// other transports too (self-tests).
func startFaultyEndpoints(defect string, b *embedded.Broker) endpointsInfo {
	info := embeddedEndpoints(b)
	e, ok := b.Endpoints()
	if !ok {
		return info
	}
	auth, err := url.Parse(e.Auth)
	if err != nil {
		ginkgo.Fail("faultline: " + err.Error())
	}
	fx, stop, err := registeredSelfTest().StartEndpoints(defect, SelfTestUpstreams{Upstream: b.Addr(), AuthUpstream: auth.Host,
		Username: e.AuthUsername, Password: e.AuthPassword, Certs: e.Certs})
	if err != nil {
		ginkgo.Fail("faultline: " + err.Error())
	}
	ginkgo.DeferCleanup(stop)
	info.URLs = map[string]string{EnvBrokerTLS: fx.TLS, EnvBrokerMTLS: fx.MTLS, EnvBrokerWS: fx.WS, EnvBrokerWSS: fx.WSS, EnvAuthBroker: fx.Auth}
	return info
}

// knownDefect checks a name given to Catches when a faulty broker is
// registered; the kill matrix checks every name in any case.
func knownDefect(d string) {
	if selfTest != nil && !selfTest.Known(d) {
		panic(fmt.Sprintf("framework.Catches: the faulty-broker fixture has no defect %q", d))
	}
}
