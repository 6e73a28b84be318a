// Command flakes compares repeated runs of the same specs and names every
// spec whose verdict changed between them (make flake-check).
//
//	flakes SET=REPORT...
//
// Each argument is a report file, optionally prefixed with the name of the
// set it belongs to ("mosquitto=out/flakes/mosquitto-3/report.json"): a
// Ginkgo JSON report, the kill matrix's verdicts (FAULTLINE_MATRIX_OUT), or
// the output of one `go test -json` run (the harness's own unit tests).
// It prints one line per disagreeing spec and ends with a summary line; it
// exits 1 when any verdict changed.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/faultline-mqtt/faultline/reports"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: flakes [SET=]REPORT...")
		os.Exit(2)
	}
	runs := map[string]int{}
	r := reports.NewRuns()
	unreadable := 0
	for _, arg := range os.Args[1:] {
		set, path, ok := strings.Cut(arg, "=")
		if !ok {
			set, path = "", arg
		}
		v, err := read(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "flakes: %s: %v\n", path, err)
			unreadable++
			continue
		}
		prefixed := map[string]string{}
		for name, verdict := range v {
			prefixed[set+": "+name] = verdict
		}
		r.Add(prefixed)
		runs[set]++
	}
	var sets []string
	for s, n := range runs {
		sets = append(sets, fmt.Sprintf("%s %d", s, n))
	}
	sort.Strings(sets)
	d := r.Disagreements()
	for _, x := range d {
		fmt.Println(x)
	}
	fmt.Printf("flake-check: %d runs (%s), %d specs and tests, %d changed their verdict, %d reports unreadable\n",
		r.Count(), strings.Join(sets, ", "), r.Specs(), len(d), unreadable)
	if len(d) > 0 || unreadable > 0 {
		os.Exit(1)
	}
}

// read returns spec → verdict from a Ginkgo JSON report, a matrix
// verdicts file or a `go test -json` stream.
func read(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSpace(b)
	out := map[string]string{}
	if len(b) > 0 && b[0] == '[' {
		var rs []types.Report
		if err := json.Unmarshal(b, &rs); err != nil {
			return nil, err
		}
		for _, rep := range rs {
			for _, res := range reports.Judge(rep, "").Results {
				if res.Verdict != reports.Skipped {
					out[res.Name] = string(res.Verdict)
				}
			}
		}
		return out, nil
	}
	if bytes.Contains(b, []byte(`"Action":`)) {
		return goTest(b)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// goTest reads a `go test -json` stream: test → pass or fail. A package
// that failed without naming a test (a build error, a panic, a timeout)
// is a verdict of its own.
func goTest(b []byte) (map[string]string, error) {
	out := map[string]string{}
	for line := range bytes.Lines(b) {
		var e struct{ Action, Package, Test string }
		if err := json.Unmarshal(line, &e); err != nil {
			continue // a line the test binary printed itself
		}
		if e.Action != "pass" && e.Action != "fail" {
			continue
		}
		name := e.Package + " " + e.Test
		if e.Test == "" {
			name = e.Package + " (package)"
		}
		out[name] = e.Action
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no test results in it")
	}
	return out, nil
}
