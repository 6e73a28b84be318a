package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/fixtures/brokers"
	"github.com/faultline-mqtt/faultline/fixtures/embedded"
	"github.com/faultline-mqtt/faultline/proxy"
	"github.com/faultline-mqtt/faultline/reports"
)

// FailHandler is the suite's fail handler: it reports failures the target's
// profile declares as limitations or known deviations as such.
func FailHandler(message string, callerSkip ...int) { failOrExcuse(message, callerSkip...) }

// SuiteName names the suite after its target: faultline.<broker>.
func SuiteName() string { return "faultline." + reports.Slug(targetName()) }

// Suite declares the run's set-up (target, reachability, links) and its
// reports. Call it once at the top level of the suite's test file:
//
//	var _ = framework.Suite()
func Suite() bool {
	ginkgo.SynchronizedBeforeSuite(startRun, joinRun, ginkgo.NodeTimeout(60*time.Second))
	ginkgo.ReportAfterSuite("Faultline report", writeReports)
	// progress.go: progress.plan and progress.events, for people watching a long run.
	watchProgress()
	watchServing() // serving.go: a broker that stops serving fails the spec that saw it, and every later one as "not run"
	watchV5()      // speaks5.go: the 5.0 half on a broker that does not speak 5.0 is "not supported", with its answer as evidence
	return true
}

// runInfo is what process 1 tells every process about the run.
type runInfo struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	Name     string `json:"name"`
	Embedded bool   `json:"embedded"`
	Defect   string `json:"defect,omitempty"`
	// Endpoints are the broker's other transports: read from the
	// environment, or the embedded (or faulty) broker's own.
	Endpoints endpointsInfo `json:"endpoints"`
}

// targetName names the target in reports before the run starts.
func targetName() string {
	if n := os.Getenv(EnvBrokerName); n != "" {
		return n
	}
	url := os.Getenv(EnvBroker)
	name := "embedded"
	if url != "" && url != "embedded" {
		if up, err := proxy.ParseUpstream(url); err == nil {
			name = up.URL.Host
		} else {
			name = "unknown"
		}
	}
	if d := os.Getenv(EnvDefect); d != "" {
		name += "-defect-" + d
	}
	return name
}

// profileName picks the target's profile: the embedded broker is mochi;
// otherwise FAULTLINE_BROKER_NAME names it.
func profileName(info runInfo) string {
	if info.Embedded {
		return "mochi"
	}
	return os.Getenv(EnvBrokerName)
}

// startRun runs once, on process 1: it starts the embedded broker when
// there is no target, and checks that the target answers MQTT.
func startRun(ctx context.Context) []byte {
	info := runInfo{ID: newRunID(), URL: os.Getenv(EnvBroker), Name: targetName(), Defect: os.Getenv(EnvDefect)}
	var broker *embedded.Broker
	if info.URL == "" || info.URL == "embedded" {
		opts := embedded.Options{Transports: &embedded.Transports{}}
		if os.Getenv(EnvBrokerLogOut) == "1" {
			opts.Log = ginkgo.GinkgoWriter
		}
		b, err := embedded.Start(opts)
		if err != nil {
			ginkgo.Fail("faultline: " + err.Error())
		}
		ginkgo.DeferCleanup(func() {
			// Every spec has been judged by now: a broker that will not
			// stop (see embedded.Broker.Close) is worth a word, not a
			// failed run.
			if err := b.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "faultline: warning:", err)
			}
		})
		info.URL, info.Embedded, broker = b.URL(), true, b
		info.Endpoints = embeddedEndpoints(b)
	} else {
		info.Endpoints = endpointsFromEnv()
	}
	if info.Defect != "" {
		info.URL = startFaulty(info.Defect, info.URL)
		if broker != nil {
			info.Endpoints = startFaultyEndpoints(info.Defect, broker)
		}
	}
	t, err := targetFromEnv(info.URL)
	if err != nil {
		ginkgo.Fail(unusable(info.URL, err))
	}
	if err := t.Probe(ctx, "fl"+info.ID+"probe"); err != nil {
		ginkgo.Fail(unusable(t.URL, err))
	}
	b, _ := json.Marshal(info)
	return b
}

// joinRun runs on every process: it builds the target and the process's
// own Toxiproxy.
func joinRun(data []byte) {
	var info runInfo
	if err := json.Unmarshal(data, &info); err != nil {
		ginkgo.Fail("faultline: bad run info: " + err.Error())
	}
	t, err := targetFromEnv(info.URL)
	if err != nil {
		ginkgo.Fail(unusable(info.URL, err))
	}
	t.Name, t.Embedded, t.Defect = info.Name, info.Embedded, info.Defect
	links, err := proxy.Start(proxy.Options{Upstream: t.Upstream, ToxiproxyURL: os.Getenv(EnvToxiproxy)})
	if err != nil {
		ginkgo.Fail("faultline: " + err.Error())
	}
	ginkgo.DeferCleanup(links.Close)
	current = &run{ID: info.ID, Target: t, Prefix: env(EnvTopicPrefix, "faultline"), links: links,
		endpoints: info.Endpoints, servers: map[string]*proxy.Server{}}
	ginkgo.DeferCleanup(current.closeServers)
	if info.Defect == "" {
		if p, ok := brokers.Lookup(profileName(info)); ok {
			current.profile = &p
		}
	}

	gomega.SetDefaultEventuallyTimeout(5 * time.Second)
	gomega.SetDefaultEventuallyPollingInterval(10 * time.Millisecond)
	gomega.SetDefaultConsistentlyDuration(300 * time.Millisecond)
	gomega.SetDefaultConsistentlyPollingInterval(10 * time.Millisecond)
	gomega.EnforceDefaultTimeoutsWhenUsingContexts()

	mqtt.ERROR = log.New(pahoLog{}, "[paho ERROR] ", 0)
	mqtt.CRITICAL = log.New(pahoLog{}, "[paho CRITICAL] ", 0)
}

// pahoLog passes paho's errors to the spec's output, less the ones a
// client the spec closes always logs (its own closed socket).
type pahoLog struct{}

func (pahoLog) Write(b []byte) (int, error) {
	s := string(b)
	if strings.Contains(s, "use of closed network connection") || strings.Contains(s, "disconnection already in progress") {
		return len(b), nil
	}
	return ginkgo.GinkgoWriter.Write(b)
}
