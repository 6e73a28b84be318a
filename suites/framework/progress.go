package framework

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/faultline-mqtt/faultline/reports"
)

// Progress of a long run, for people watching it (reports/progress.go
// says what the files hold; reports/progress shows them). With a report
// directory, the first process writes the plan before any spec runs, and
// every process appends a line to the events file when one of its specs
// starts and when it ends. Ginkgo captures what a spec process prints, so
// the processes write files and one reader, outside them, prints.
func watchProgress() {
	dir := os.Getenv(EnvReportDir)
	if dir == "" {
		return
	}
	plan, events := filepath.Join(dir, reports.ProgressPlanFile), filepath.Join(dir, reports.ProgressEventsFile)
	ginkgo.ReportBeforeSuite(func(r types.Report) {
		_ = os.Remove(events)
		p := dryRunPlan(dir)
		if p.Total != r.PreRunStats.SpecsThatWillRun {
			// The dry run disagrees (or failed): totals only, no areas.
			p = reports.ProgressPlan{Broker: targetName(), Total: r.PreRunStats.SpecsThatWillRun}
		}
		b, _ := json.Marshal(p)
		tmp := plan + ".tmp"
		if os.WriteFile(tmp, b, 0o644) == nil {
			_ = os.Rename(tmp, plan) // whole or absent for the reader
		}
	})
	ginkgo.ReportBeforeEach(func(s types.SpecReport) {
		if s.LeafNodeType == types.NodeTypeIt && !s.State.Is(types.SpecStateSkipped|types.SpecStatePending) {
			appendEvent(events, reports.ProgressEvent{At: time.Now(), Started: true, Area: reports.Area(s), Name: s.FullText()})
		}
	})
	ginkgo.ReportAfterEach(func(s types.SpecReport) {
		if s.LeafNodeType != types.NodeTypeIt || (s.State.Is(types.SpecStateSkipped|types.SpecStatePending) && s.Failure.Message == "") {
			return // not a spec, or one the run filtered out
		}
		appendEvent(events, reports.ProgressEvent{At: time.Now(), Verdict: reports.SpecVerdict(s), Area: reports.Area(s), Name: s.FullText()})
	})
}

// dryRunPlan runs this binary again as a dry run with the run's own
// filters, and reads from its report how many specs of each area will
// run. The dry run gets no report directory, so it writes no report.
func dryRunPlan(dir string) reports.ProgressPlan {
	broker := targetName()
	tmp, err := os.MkdirTemp(dir, "progress-plan")
	if err != nil {
		return reports.ProgressPlan{Broker: broker}
	}
	defer os.RemoveAll(tmp)
	cfg, _ := ginkgo.GinkgoConfiguration()
	out := filepath.Join(tmp, "dry.json")
	args := []string{"-ginkgo.dry-run", "-ginkgo.no-color", "-ginkgo.json-report=" + out, "-ginkgo.label-filter=" + cfg.LabelFilter}
	for _, f := range cfg.FocusStrings {
		args = append(args, "-ginkgo.focus="+f)
	}
	for _, f := range cfg.SkipStrings {
		args = append(args, "-ginkgo.skip="+f)
	}
	for _, f := range cfg.FocusFiles {
		args = append(args, "-ginkgo.focus-file="+f)
	}
	for _, f := range cfg.SkipFiles {
		args = append(args, "-ginkgo.skip-file="+f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), EnvReportDir+"=")
	if err := cmd.Run(); err != nil {
		return reports.ProgressPlan{Broker: broker}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return reports.ProgressPlan{Broker: broker}
	}
	var dry []types.Report
	if err := json.Unmarshal(b, &dry); err != nil || len(dry) != 1 {
		return reports.ProgressPlan{Broker: broker}
	}
	return reports.PlanOf(dry[0], broker)
}

// appendEvent appends one line to the events file: one write under an
// exclusive lock, so lines from parallel processes never interleave.
func appendEvent(path string, e reports.ProgressEvent) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err == nil {
		defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	}
	_, _ = f.WriteString(e.Line())
}
