package framework

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/proxy"
)

// Public mode: a run against a shared public broker (test.mosquitto.org,
// broker.emqx.io...) behaves like a polite guest.
//
//   - Every client id and topic is the run's own: ids fl<run>p<n>c<m>,
//     topics under <prefix>/<run>/ (the '$' specs use $<prefix>/<run>/),
//     as in every run.
//   - Gentle: specs labelled PublicExcludedLabels do not run (a soak,
//     payloads over PublicMaxPayload, labelled "large", protocol violations
//     that would look like attacks, restarts of a broker that is not ours);
//     the payload specs send at most PublicMaxPayload bytes
//     (FAULTLINE_MAX_PAYLOAD is capped). Only labels decide, never a spec's
//     title. The Makefile applies the same label filter and runs fewer
//     processes.
//   - No spec relies on $SYS.
//   - Every retained message, retained will and persistent session a spec
//     creates is removed when it ends (janitor.go, leftovers.go), and the
//     spec's whole topic root is swept for retained messages.
//
// FAULTLINE_PUBLIC=1 turns it on, and a public host in MQTT_BROKER implies
// it (FAULTLINE_PUBLIC=0 turns it off).
const EnvPublic = "FAULTLINE_PUBLIC"

// PublicHosts are the public brokers that imply public mode.
var PublicHosts = []string{"test.mosquitto.org", "broker.emqx.io", "broker.hivemq.com", "mqtt.eclipseprojects.io", "public.mqtthq.com"}

// PublicExcludedLabels are the labels of specs that do not run in public
// mode. A spec that sends more than PublicMaxPayload bytes in one message
// carries "large". Keep the Makefile's PUBLIC_LABELS in step.
var PublicExcludedLabels = []string{"large", "chaos", "violations", "restart"}

// PublicMaxPayload bounds every payload in public mode.
const PublicMaxPayload = 256 << 10

// Public says whether the run is in public mode.
func Public() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(EnvPublic))) {
	case "1", "true", "yes":
		return true
	case "0", "false", "no":
		return false
	}
	return publicHost(os.Getenv(EnvBroker))
}

func publicHost(url string) bool {
	if url == "" || url == "embedded" {
		return false
	}
	up, err := proxy.ParseUpstream(url)
	if err != nil {
		return false
	}
	host := strings.ToLower(up.URL.Hostname())
	return slices.Contains(PublicHosts, host)
}

var _ = ginkgo.BeforeEach(func() {
	if !Public() {
		return
	}
	for _, l := range ginkgo.CurrentSpecReport().Labels() {
		if slices.Contains(PublicExcludedLabels, l) {
			ginkgo.Skip(fmt.Sprintf("public mode: specs labelled %q do not run against a shared broker", l))
		}
	}
})
