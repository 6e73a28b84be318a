// Command compare writes the side-by-side table of several brokers'
// conformance runs (make compare):
//
//	compare -out out/compare [-total 812.5] embedded=out/embedded mosquitto=out/mosquitto ...
//
// Each broker's directory holds the run's report.json (Ginkgo's JSON
// report) and, from reports/compare/compare.sh, run.env: version=,
// wall= (seconds from the broker's start to its stop) and missing= (why
// there is no report). It writes comparison.md and comparison.html into
// -out and prints the brokers' totals.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/faultline-mqtt/faultline/reports"
)

func main() {
	out := flag.String("out", "out/compare", "directory for comparison.md and comparison.html")
	total := flag.Float64("total", 0, "seconds the whole comparison took (0: unknown)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: compare -out DIR [-total SECONDS] BROKER=DIR...")
		os.Exit(2)
	}
	var runs []reports.BrokerRun
	for _, arg := range flag.Args() {
		name, dir, ok := strings.Cut(arg, "=")
		if !ok || name == "" || dir == "" {
			fail("bad argument %q: want BROKER=DIR", arg)
		}
		runs = append(runs, load(name, dir))
	}
	c := reports.Compare(runs)
	c.Total = time.Duration(*total * float64(time.Second))
	html, err := c.HTML()
	if err != nil {
		fail("rendering HTML: %v", err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail("%v", err)
	}
	for name, text := range map[string]string{"comparison.md": c.Markdown(), "comparison.html": html} {
		if err := os.WriteFile(filepath.Join(*out, name), []byte(text), 0o644); err != nil {
			fail("%v", err)
		}
	}
	fmt.Printf("%-12s %6s %6s %6s %6s %6s %9s %9s  %s\n", "broker", "pass", "FAIL", "dev", "n/s", "skip", "suite", "total", "status")
	for _, b := range c.Brokers {
		status := "ran"
		switch {
		case !b.Ran:
			status = "did not run: " + b.Missing
		case len(b.Setup) > 0:
			status = "suite set-up failed: " + b.Setup[0]
		}
		n := b.Counts
		fmt.Printf("%-12s %6d %6d %6d %6d %6d %8.1fs %8.1fs  %s\n", b.Broker, n[reports.Pass], n[reports.Fail], n[reports.Deviation],
			n[reports.Unsupported], n[reports.Skipped], b.Suite.Seconds(), b.Wall.Seconds(), status)
	}
	fmt.Printf("comparison: %s, %s\n", filepath.Join(*out, "comparison.md"), filepath.Join(*out, "comparison.html"))
}

// load reads one broker's run directory.
func load(name, dir string) reports.BrokerRun {
	run := reports.BrokerRun{Broker: name}
	env := readEnv(filepath.Join(dir, "run.env"))
	run.Version, run.Missing = env["version"], env["missing"]
	if s, err := strconv.ParseFloat(env["wall"], 64); err == nil {
		run.Wall = time.Duration(s * float64(time.Second))
	}
	if run.Missing != "" {
		return run
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		run.Missing = "no report.json (the run ended before writing it)"
		return run
	}
	var rs []types.Report
	if err := json.Unmarshal(b, &rs); err != nil || len(rs) != 1 {
		run.Missing = fmt.Sprintf("unreadable report.json (%v, %d suites)", err, len(rs))
		return run
	}
	run.Report = &rs[0]
	return run
}

// readEnv reads KEY=value lines; a missing file is empty.
func readEnv(path string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", args...)
	os.Exit(1)
}
