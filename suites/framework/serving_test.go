package framework_test

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/faultline-mqtt/faultline/fixtures/embedded"
	"github.com/faultline-mqtt/faultline/reports"
	"github.com/faultline-mqtt/faultline/suites/framework"
)

// TestBrokerThatStopsServing runs the retained-message suite against a
// broker that dies partway: it serves a fixed number of connections, then
// drops every connection and refuses new ones. The spec during which it
// died must FAIL with that evidence, every later spec must FAIL as "not
// run" without a protocol verdict, no other spec may fail, and the summary
// must say the broker went down.
func TestBrokerThatStopsServing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a suite against a broker that dies (about half a minute)")
	}
	root := moduleRoot(t)
	bin := os.Getenv("FAULTLINE_SUITE_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "suites.test")
		run(t, root, nil, "go", "test", "-c", "-o", bin, "./suites")
	}
	b, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	dying := startDying(t, b.Addr(), 30)

	reportDir := t.TempDir()
	cmd := exec.Command(bin, "-ginkgo.label-filter=retained", "-ginkgo.timeout=5m",
		"-ginkgo.json-report="+filepath.Join(reportDir, "report.json"))
	cmd.Dir = filepath.Join(root, "suites")
	cmd.Env = append(os.Environ(), framework.EnvBroker+"=tcp://"+dying.addr(), framework.EnvBrokerName+"=dying",
		framework.EnvReportDir+"="+reportDir, "GINKGO_NO_COLOR=TRUE")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("suite against a dying broker: %v (%.1fs)\n%s", err, time.Since(start).Seconds(), lastLines(string(out), 6))
	if err == nil {
		t.Error("the run succeeded although the broker died")
	}
	if !dying.died() {
		t.Fatal("the broker never died: the run used fewer connections than the limit")
	}

	report := readReport(t, filepath.Join(reportDir, "report.json"))
	var found, notRun, passed int
	for _, s := range report.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		hasEntry := false
		for _, e := range s.ReportEntries {
			hasEntry = hasEntry || e.Name == reports.ServingEntry
		}
		switch {
		case hasEntry:
			found++
			if !s.Failed() {
				t.Errorf("the spec during which the broker died did not fail (%s): %s", s.State, s.FullText())
			}
		case s.Failed() && strings.HasPrefix(s.Failure.Message, reports.NotRunPrefix):
			notRun++
		case s.Failed():
			t.Errorf("spec failed without the broker-down evidence: %s\n%s", s.FullText(), s.Failure.Message)
		case s.State == types.SpecStatePassed:
			passed++
		}
	}
	t.Logf("%d passed before the broker died, 1 found it down, %d not run", passed, notRun)
	if found != 1 {
		t.Errorf("%d specs carry the %q evidence, want exactly 1", found, reports.ServingEntry)
	}
	if notRun == 0 {
		t.Error("no spec was reported as not run after the broker died")
	}
	summary, err := os.ReadFile(filepath.Join(reportDir, "summary.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(summary), "BROKER DOWN") {
		t.Errorf("the summary does not say the broker went down:\n%s", summary)
	}
}

// dying forwards connections to a broker until it has accepted limit of
// them; at the next one it drops every connection and stops listening, as
// a broker that crashed.
type dying struct {
	ln    net.Listener
	to    string
	limit int

	mu    sync.Mutex
	n     int
	conns []net.Conn
	dead  bool
}

func startDying(t *testing.T, to string, limit int) *dying {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dying{ln: ln, to: to, limit: limit}
	t.Cleanup(d.die)
	go d.serve()
	return d
}

func (d *dying) addr() string { return d.ln.Addr().String() }

func (d *dying) died() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dead
}

func (d *dying) serve() {
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		d.mu.Lock()
		d.n++
		over := d.n > d.limit
		d.mu.Unlock()
		if over {
			_ = c.Close()
			d.die()
			return
		}
		up, err := net.DialTimeout("tcp", d.to, 5*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		d.mu.Lock()
		d.conns = append(d.conns, c, up)
		d.mu.Unlock()
		go pipe(c, up)
		go pipe(up, c)
	}
}

func (d *dying) die() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return
	}
	d.dead = true
	_ = d.ln.Close()
	for _, c := range d.conns {
		_ = c.Close()
	}
}

func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}
