package framework

import (
	"sync"
	"sync/atomic"

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
