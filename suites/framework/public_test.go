package framework_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	"github.com/faultline-mqtt/faultline/suites/framework"
)

// TestPublicModeLeavesNothing runs the suites in public mode against a
// local mosquitto (started by its fixture), then checks what a public
// broker would be left with: no retained message under the run's prefix
// (nor under $<prefix>), and no session for any client id the run used
// (each finds no session present on a CleanSession=0 CONNECT). It also
// checks that the specs public mode excludes did not run. It takes about a
// minute: `make public-check` runs it (FAULTLINE_PUBLIC_CHECK=1);
// FAULTLINE_PUBLIC_CHECK_LABELS narrows the suites with a label filter.
func TestPublicModeLeavesNothing(t *testing.T) {
	if os.Getenv("FAULTLINE_PUBLIC_CHECK") != "1" {
		t.Skip("set FAULTLINE_PUBLIC_CHECK=1 (make public-check): runs the suites in public mode against a local mosquitto")
	}
	root := moduleRoot(t)
	bin := os.Getenv("FAULTLINE_SUITE_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "suites.test")
		run(t, root, nil, "go", "test", "-c", "-o", bin, "./suites")
	}

	runDir := filepath.Join(t.TempDir(), "mosquitto")
	run(t, root, nil, filepath.Join(root, "fixtures/brokers/mosquitto/start"), runDir)
	t.Cleanup(func() { _ = exec.Command(filepath.Join(root, "fixtures/brokers/mosquitto/stop"), runDir).Run() })
	broker := readEnv(t, filepath.Join(runDir, "endpoints.env"))["MQTT_BROKER"]
	addr := strings.TrimPrefix(broker, "tcp://")

	reportDir := t.TempDir()
	args := []string{"tool", "ginkgo", "run", "-p", "--procs=4", "--timeout=10m", "--output-dir=" + reportDir, "--json-report=report.json"}
	if l := os.Getenv("FAULTLINE_PUBLIC_CHECK_LABELS"); l != "" {
		args = append(args, "--label-filter="+l)
	}
	args = append(args, bin)
	env := []string{framework.EnvPublic + "=1", framework.EnvBroker + "=" + broker, framework.EnvBrokerName + "=mosquitto",
		framework.EnvReportDir + "=" + reportDir, "GINKGO_NO_COLOR=TRUE"}
	start := time.Now()
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Env = root, append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	t.Logf("suites in public mode: %v (%.1fs)\n%s", err, time.Since(start).Seconds(), lastLines(string(out), 4))

	// The specs public mode leaves out did not run.
	report := readReport(t, filepath.Join(reportDir, "report.json"))
	ran := 0
	for _, s := range report.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt || s.State.Is(types.SpecStateSkipped|types.SpecStatePending) {
			continue
		}
		ran++
		for _, l := range s.Labels() {
			if slices.Contains(framework.PublicExcludedLabels, l) {
				t.Errorf("spec labelled %q ran in public mode: %s", l, s.FullText())
			}
		}
		if strings.Contains(s.FullText(), " MiB") {
			t.Errorf("spec with a payload over 256 KiB ran in public mode: %s", s.FullText())
		}
	}
	if ran == 0 {
		t.Fatal("no spec ran")
	}

	prefix, clients := readManifest(t, filepath.Join(reportDir, "manifest.txt"))
	t.Logf("%d specs ran; manifest: prefix %s, %d client ids", ran, prefix, len(clients))

	// No retained message under the run's prefix.
	c := dial(t, addr, "flcheck"+prefix[strings.LastIndex(prefix, "/")+1:], true)
	send(t, c, wire.Subscribe(1, wire.Sub(prefix+"/#", 0), wire.Sub("$"+prefix+"/#", 0)))
	var left []string
	for {
		p, err := read(c, 2*time.Second)
		if err != nil {
			break
		}
		if p.Type == wire.PUBLISH {
			left = append(left, p.Topic)
		}
	}
	c.Close()
	if len(left) > 0 {
		t.Errorf("%d retained messages left under %s: %v", len(left), prefix, left)
	}

	// No session for any client id the run used. The check's own
	// CleanSession=0 CONNECT makes one, which a CleanSession=1 CONNECT ends.
	var kept []string
	for _, id := range clients {
		c := dial(t, addr, id, false)
		ack := c.ack
		send(t, c, wire.Disconnect())
		c.Close()
		if ack.SessionPresent {
			kept = append(kept, id)
		}
		c = dial(t, addr, id, true)
		send(t, c, wire.Disconnect())
		c.Close()
	}
	if len(kept) > 0 {
		t.Errorf("%d of %d client ids still had a session: %v", len(kept), len(clients), kept)
	}
}

type conn struct {
	net.Conn
	ack wire.Packet
}

func dial(t *testing.T, addr, id string, clean bool) *conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{Conn: nc}
	send(t, c, wire.Connect(id, wire.CleanStart(clean)))
	p, err := read(c, 5*time.Second)
	if err != nil || p.Type != wire.CONNACK || p.ReasonCode != 0 {
		t.Fatalf("CONNECT %s: %v %v", id, p, err)
	}
	c.ack = p
	return c
}

func send(t *testing.T, c *conn, p wire.Packet) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(wire.Encode(p)); err != nil {
		t.Fatal(err)
	}
}

func read(c *conn, d time.Duration) (wire.Packet, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	b, err := wire.ReadPacket(c, 1<<20)
	if err != nil {
		return wire.Packet{}, err
	}
	return wire.Decode(b, wire.V311)
}

func readManifest(t *testing.T, path string) (prefix string, clients []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the run wrote no manifest: %v", err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kind, value, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "prefix":
			if prefix != "" && prefix != value {
				t.Fatalf("manifest names two prefixes: %s and %s", prefix, value)
			}
			prefix = value
		case "client":
			if !seen[value] {
				seen[value] = true
				clients = append(clients, value)
			}
		}
	}
	if prefix == "" || len(clients) == 0 {
		t.Fatalf("manifest %s has no prefix or no client ids", path)
	}
	return prefix, clients
}

func readReport(t *testing.T, path string) types.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rs []types.Report
	if err := json.Unmarshal(b, &rs); err != nil || len(rs) != 1 {
		t.Fatalf("%s: %v", path, errors.Join(err, errors.New("want one suite")))
	}
	return rs[0]
}

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			out[k] = strings.Trim(v, "'")
		}
	}
	return out
}

func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
