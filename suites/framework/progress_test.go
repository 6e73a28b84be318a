package framework_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/faultline-mqtt/faultline/reports"
	"github.com/faultline-mqtt/faultline/suites/framework"
)

// TestProgressFilesOfAParallelRun runs two areas of the suite on two
// processes, as make does, and reads the progress files they leave: the
// plan must count the specs of each area that ran, the events must hold
// one start and one end per spec from both processes, whole lines only,
// and replaying them must tell each area once, with the run's verdicts
// (whatever they are: a failing spec must show in its area's line).
func TestProgressFilesOfAParallelRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs part of the suite on two processes (a few seconds)")
	}
	root := moduleRoot(t)
	bin := os.Getenv("FAULTLINE_SUITE_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "suites.test")
		run(t, root, nil, "go", "test", "-c", "-o", bin, "./suites")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "tool", "ginkgo", "run", "-p", "--procs=2", "--label-filter=retained || measure",
		"--output-dir="+dir, "--json-report=report.json", bin)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), framework.EnvBroker+"=", framework.EnvReportDir+"="+dir, "GINKGO_NO_COLOR=TRUE")
	// A spec may fail (the progress must tell it): only a run that left
	// no report fails the test.
	out, err := cmd.CombinedOutput()
	if _, statErr := os.Stat(filepath.Join(dir, "report.json")); statErr != nil {
		t.Fatalf("the run left no report: %v\n%s", err, lastLines(string(out), 20))
	}
	report := readReport(t, filepath.Join(dir, "report.json"))
	ran := map[string]int{}
	verdicts := map[string]map[reports.Verdict]int{}
	procs := map[int]bool{}
	for _, s := range report.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt || s.State.Is(types.SpecStateSkipped) && s.Failure.Message == "" {
			continue
		}
		a := reports.Area(s)
		ran[a]++
		if verdicts[a] == nil {
			verdicts[a] = map[reports.Verdict]int{}
		}
		verdicts[a][reports.SpecVerdict(s)]++
		procs[s.ParallelProcess] = true
	}
	if len(ran) != 2 || len(procs) != 2 {
		t.Fatalf("want specs of two areas on two processes, got areas %v on processes %v", ran, procs)
	}

	b, err := os.ReadFile(filepath.Join(dir, reports.ProgressPlanFile))
	if err != nil {
		t.Fatal(err)
	}
	var plan reports.ProgressPlan
	if err := json.Unmarshal(b, &plan); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, a := range plan.Areas {
		if ran[a.Area] != a.Specs {
			t.Errorf("plan: %d specs of %s, the run had %d", a.Specs, a.Area, ran[a.Area])
		}
		total += a.Specs
	}
	if len(plan.Areas) != len(ran) || plan.Total != total || plan.Broker != "embedded" {
		t.Errorf("plan %+v, the run had %v", plan, ran)
	}

	b, err = os.ReadFile(filepath.Join(dir, reports.ProgressEventsFile))
	if err != nil {
		t.Fatal(err)
	}
	p := reports.NewProgress(plan)
	starts, ends := map[string]int{}, map[string]int{}
	var lines []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l == "" {
			continue
		}
		e, ok := reports.ParseProgressEvent(l)
		if !ok {
			t.Fatalf("a broken line in the events file: %q", l)
		}
		if e.Started {
			starts[e.Name]++
		} else {
			ends[e.Name]++
		}
		if line := p.Apply(e); line != "" {
			lines = append(lines, line)
		}
	}
	for name, n := range ends {
		if n != 1 || starts[name] != 1 {
			t.Errorf("%s: %d starts and %d ends", name, starts[name], n)
		}
	}
	if p.Done != total || len(ends) != total {
		t.Errorf("%d specs ended in the events, the run had %d", p.Done, total)
	}
	if len(lines) != len(ran) {
		t.Errorf("area lines %q, want one per area of %v", lines, ran)
	}
	for _, l := range lines {
		area, _, _ := strings.Cut(l, ":")
		want := reports.AreaLine(area, ran[area], verdicts[area], 0)
		want = want[:strings.LastIndex(want, " (")]
		if !strings.HasPrefix(l, want+" (") {
			t.Errorf("area line %q, want %q (…)", l, want)
		}
	}
}
