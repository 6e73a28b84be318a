package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
)

// Broker restarts, for the specs of suites/conformance/restart.go (label
// "restart", Serial: they run on process 1 once the parallel specs are
// done, so no other spec sees the broker go away).
//
// A broker the harness started itself can be restarted: the orchestration
// (fixtures/brokers/run) exports the command that restarts it on the same
// ports and run directory, and what its configuration keeps over a
// restart. The embedded broker keeps nothing (mochi without a storage
// hook). The faulty broker of the self-tests restarts in process when its
// defect is one of the restart defects (fixtures/faulty/restart.go).

const (
	// EnvRestartCmd is a shell command that restarts the broker on the same
	// address and returns once it serves MQTT again (exit 0), e.g.
	// "fixtures/brokers/mosquitto/restart RUN_DIR".
	EnvRestartCmd = "FAULTLINE_RESTART_CMD"
	// EnvRestartTimeout bounds the restart command, in seconds (default 150).
	EnvRestartTimeout = "FAULTLINE_RESTART_TIMEOUT"
	// EnvPersistence says what the broker keeps over a restart in this
	// configuration: a comma-separated list of "retained", "sessions" and
	// "queues", or "none". The start scripts write it to endpoints.env.
	EnvPersistence = "FAULTLINE_PERSISTENCE"
)

// Kept is a kind of broker state a restart may keep.
type Kept string

const (
	KeptRetained Kept = "retained" // retained messages
	KeptSessions Kept = "sessions" // CleanSession=0 sessions and their subscriptions
	KeptQueues   Kept = "queues"   // QoS 1 and 2 messages queued for offline sessions
)

// restartHow says how this run can restart its broker: a shell command, the
// faulty broker in process, or nothing (why is the reason).
func restartHow() (cmd string, inProcess bool, why string) {
	if current.Target.Defect != "" {
		if registeredSelfTest().Restartable() {
			return "", true, ""
		}
		return "", false, fmt.Sprintf("the faulty broker restarts only under a restart defect, not %q", current.Target.Defect)
	}
	if c := strings.TrimSpace(os.Getenv(EnvRestartCmd)); c != "" {
		return c, false, ""
	}
	if current.Target.Embedded {
		return "", false, "the embedded broker runs inside the suite and cannot be restarted"
	}
	return "", false, "no restart command (" + EnvRestartCmd + " is set by `make conformance BROKER=<name>` for the brokers it starts)"
}

// persistence returns what the broker keeps over a restart, and the
// profile's words about it.
func persistence() (kept []Kept, note string) {
	if current.Target.Defect != "" {
		return []Kept{KeptRetained, KeptSessions, KeptQueues},
			"the faulty broker's restart drops every connection while the broker behind it keeps its state; the defect throws away what it breaks"
	}
	if current.profile != nil {
		note = current.profile.Persistence
	}
	if current.Target.Embedded {
		if note == "" {
			note = "in memory"
		}
		return nil, note
	}
	for _, k := range strings.Split(os.Getenv(EnvPersistence), ",") {
		if k = strings.TrimSpace(k); k != "" && k != "none" {
			kept = append(kept, Kept(k))
		}
	}
	if note == "" {
		note = EnvPersistence + "=" + os.Getenv(EnvPersistence)
	}
	return kept, note
}

// RequireRestart ends the spec as not supported unless the harness can
// restart the broker and the broker's configuration keeps what across a
// restart (MQTT lets a broker keep its state in memory only). Call it
// before the spec does anything.
func RequireRestart(what ...Kept) {
	ginkgo.GinkgoHelper()
	kept, note := persistence()
	if current.Target.Embedded && current.Target.Defect == "" {
		Unsupported(fmt.Sprintf("not persistent in this configuration: keeps nothing over a restart; %s (the embedded broker runs inside the suite and is not restarted)", note))
	}
	if _, _, why := restartHow(); why != "" {
		Unsupported("the broker cannot be restarted here: " + why)
	}
	for _, w := range what {
		if !slices.Contains(kept, w) {
			Unsupported(fmt.Sprintf("not persistent in this configuration: keeps %s over a restart; %s", keptText(kept), note))
		}
	}
}

func keptText(kept []Kept) string {
	if len(kept) == 0 {
		return "nothing"
	}
	s := make([]string, len(kept))
	for i, k := range kept {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// RestartBroker restarts the broker and returns once it serves MQTT again
// on the same address. Every connection to it ends; clients connect again
// by themselves (AutoReconnect) or with Connect. The spec fails when the
// broker cannot be restarted.
func (f *Framework) RestartBroker(ctx context.Context) {
	ginkgo.GinkgoHelper()
	cmd, inProcess, why := restartHow()
	start := time.Now()
	switch {
	case inProcess:
		if err := registeredSelfTest().Restart(ctx); err != nil {
			ginkgo.Fail("restarting the faulty broker: " + err.Error())
		}
	case cmd != "":
		out, err := runRestart(ctx, cmd)
		if err != nil {
			ginkgo.Fail(fmt.Sprintf("restarting the broker with %s=%q: %v\n%s", EnvRestartCmd, cmd, err, lastLines(out, 8)))
		}
		fmt.Fprintf(ginkgo.GinkgoWriter, "restart: %s\n", lastLines(out, 3))
	default:
		ginkgo.Fail("the broker cannot be restarted here: " + why)
	}
	// The broker answers CONNECT again: the restart command waited for it,
	// but a broker may accept connections a moment before it serves them.
	gomega.Eventually(func() error { return current.Target.Probe(ctx, current.clientID()) }).
		WithContext(ctx).WithTimeout(30*time.Second).WithPolling(100*time.Millisecond).
		Should(gomega.Succeed(), "the broker did not serve MQTT within 30s of its restart")
	ginkgo.AddReportEntry("broker restart", fmt.Sprintf("restarted in %.1fs", time.Since(start).Seconds()))
}

// runRestart runs the restart command in its own process group, bounded by
// EnvRestartTimeout and by ctx, and returns its output.
func runRestart(ctx context.Context, cmd string) (string, error) {
	limit := 150 * time.Second
	if v := os.Getenv(EnvRestartTimeout); v != "" {
		var s int
		if _, err := fmt.Sscanf(v, "%d", &s); err == nil && s > 0 {
			limit = time.Duration(s) * time.Second
		}
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	c := exec.CommandContext(ctx, "bash", "-c", cmd)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGTERM) }
	c.WaitDelay = 15 * time.Second
	out, err := c.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("no success within %v: %w", limit, context.Cause(ctx))
	}
	return string(out), err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
