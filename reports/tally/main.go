// Command tally counts the tests of a whole run and prints one plain line,
// "N passed, N failed", which is what CI reads.
//
//	tally [-echo] [-check NAME=EXIT]... FILE...
//
// Each FILE is either the output of `go test -json` (one test per Test or
// subtest; a package that fails without running tests, e.g. a build
// failure, counts as one failed test) or a Ginkgo JSON report (one test per
// spec that ran; a failed suite set-up counts as one failed test). With
// -echo, tally instead copies the human-readable output of a `go test
// -json` stream on stdin to stdout, so a run can be watched and saved at
// once. Each -check NAME=EXIT counts one more test, named NAME, that
// passed if EXIT is 0 and failed otherwise: .ci/run counts `make lint` so.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

func main() {
	echo := flag.Bool("echo", false, "copy the output of a `go test -json` stream on stdin to stdout")
	var checks checkFlags
	flag.Var(&checks, "check", "NAME=EXIT: one more test, passed if EXIT is 0 (repeatable)")
	flag.Parse()
	if *echo {
		if err := echoOutput(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "tally:", err)
			os.Exit(2)
		}
		return
	}
	total := checks.counts
	for _, path := range flag.Args() {
		c, err := countFile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "tally: %s: %v\n", path, err)
			total.failed++ // a report that cannot be read is a failure
			continue
		}
		total.passed += c.passed
		total.failed += c.failed
	}
	fmt.Printf("%d passed, %d failed\n", total.passed, total.failed)
	if total.failed > 0 {
		os.Exit(1)
	}
}

type counts struct{ passed, failed int }

// checkFlags counts the -check flags: NAME=EXIT, one test each.
type checkFlags struct{ counts }

func (c *checkFlags) String() string { return "" }

func (c *checkFlags) Set(v string) error {
	name, exit, ok := strings.Cut(v, "=")
	if !ok || name == "" || exit == "" {
		return fmt.Errorf("want NAME=EXIT, got %q", v)
	}
	if exit == "0" {
		c.passed++
	} else {
		c.failed++
		fmt.Fprintf(os.Stderr, "tally: %s failed (exit %s)\n", name, exit)
	}
	return nil
}

type goEvent struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// echoOutput prints what a person wants from a `go test -json` stream: the
// package result lines, and the whole output of every test that failed.
func echoOutput(r io.Reader, w io.Writer) error {
	held := map[string]*bytes.Buffer{} // output of tests still running
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var e goEvent
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			fmt.Fprintln(w, sc.Text()) // build errors can arrive as plain text
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Test == "" && (e.Action == "output" || e.Action == "build-output"):
			if e.Output != "PASS\n" && !strings.HasPrefix(e.Output, "=== ") {
				io.WriteString(w, e.Output)
			}
		case e.Action == "output":
			if held[key] == nil {
				held[key] = new(bytes.Buffer)
			}
			held[key].WriteString(e.Output)
		case e.Action == "fail":
			if b := held[key]; b != nil {
				w.Write(b.Bytes())
			}
			delete(held, key)
		case e.Action == "pass" || e.Action == "skip":
			delete(held, key)
		}
	}
	return sc.Err()
}

func countFile(path string) (counts, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return counts{}, err
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		return countGinkgo(t)
	}
	return countGoTest(b), nil
}

func countGinkgo(b []byte) (counts, error) {
	var reports []types.Report
	if err := json.Unmarshal(b, &reports); err != nil {
		return counts{}, err
	}
	var c counts
	for _, r := range reports {
		for _, s := range r.SpecReports {
			switch {
			case s.LeafNodeType != types.NodeTypeIt:
				if s.Failed() {
					c.failed++
				}
			case s.State.Is(types.SpecStatePassed):
				c.passed++
			case s.Failed():
				c.failed++
			}
		}
		if !r.SuiteSucceeded && c.failed == 0 {
			c.failed++ // e.g. interrupted, or nothing ran under --fail-on-empty
		}
	}
	return c, nil
}

func countGoTest(b []byte) counts {
	var c counts
	failedPkgs := map[string]bool{}
	testsFailed := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var e goEvent
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		switch {
		case e.Test != "" && e.Action == "pass":
			c.passed++
		case e.Test != "" && e.Action == "fail":
			c.failed++
			testsFailed[e.Package] = true
		case e.Test == "" && e.Action == "fail":
			failedPkgs[e.Package] = true
		}
	}
	for pkg := range failedPkgs {
		if !testsFailed[pkg] {
			c.failed++ // the package failed without a failing test: build error, panic, timeout
		}
	}
	return c
}
