package framework

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/onsi/ginkgo/v2"

	"github.com/faultline-mqtt/faultline/fixtures/brokers"
	"github.com/faultline-mqtt/faultline/proxy"
)

// run is this process's view of the test run.
type run struct {
	ID     string // random per run: keeps runs sharing a broker apart
	Target Target
	Prefix string // first topic levels of everything the run publishes
	links  *proxy.Server
	seq    atomic.Int64
	// profile is the target's profile, whose limitations and deviations
	// excuse failures (nil: none, as in self-tests).
	profile *brokers.Profile
	// endpoints are the broker's other transports (transports.go), with
	// one link server each, made when a spec first needs it.
	endpoints endpointsInfo
	smu       sync.Mutex
	servers   map[string]*proxy.Server
}

var current *run

// Current returns the run's target; it panics outside a run.
func Current() Target {
	if current == nil {
		panic("framework: no run in progress (is the suite set up with framework.Suite?)")
	}
	return current.Target
}

// newRunID returns 6 random lowercase letters and digits.
func newRunID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b strings.Builder
	for range 6 {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b.WriteByte(alphabet[n.Int64()])
	}
	return b.String()
}

// clientID returns a client id unique to the run, process and call: at
// most 23 letters and digits, the only ids MQTT 3.1.1 obliges every broker
// to accept [MQTT-3.1.3-5].
func (r *run) clientID() string {
	id := fmt.Sprintf("fl%sp%dc%d", r.ID, ginkgo.GinkgoParallelProcess(), r.seq.Add(1))
	if len(id) > 23 {
		panic("framework: client id " + id + " is longer than 23 characters")
	}
	return id
}

// specTopicRoot returns a topic subtree unique to one spec.
func (r *run) specTopicRoot() string {
	return fmt.Sprintf("%s/%s/p%ds%d", r.Prefix, r.ID, ginkgo.GinkgoParallelProcess(), r.seq.Add(1))
}
