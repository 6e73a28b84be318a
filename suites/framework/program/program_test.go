package program

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestSubstitutesAndKeepsOutput(t *testing.T) {
	p, err := Start(Options{Command: "echo host={host}; echo oops >&2; echo $EXTRA", Vars: map[string]string{"host": "h1"}, Env: []string{"EXTRA=x9"}})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Wait(5 * time.Second) {
		t.Fatal("echo did not end")
	}
	if got := p.Lines(); len(got) != 2 || got[0] != "host=h1" || got[1] != "x9" {
		t.Errorf("stdout lines %q", got)
	}
	if !strings.Contains(p.Stderr(), "oops") || p.Status() != "exit status 0" {
		t.Errorf("stderr %q, status %q", p.Stderr(), p.Status())
	}
}

func TestStopKillsAProgramThatIgnoresSIGTERM(t *testing.T) {
	p, err := Start(Options{Command: "trap '' TERM; echo ready; sleep 30 & wait; sleep 30"})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); len(p.Lines()) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // polling for the trap to be set: no event to wait on
	}
	start := time.Now()
	if p.Stop(300 * time.Millisecond) {
		t.Error("Stop says the program ended on SIGTERM")
	}
	if d := time.Since(start); d > 4*time.Second || p.Running() {
		t.Errorf("Stop took %v, running %v", d, p.Running())
	}
	if !strings.Contains(p.Status(), "killed") {
		t.Errorf("status %q", p.Status())
	}
}

func TestKeepsTheHeadAndTailOfAFlood(t *testing.T) {
	p, err := Start(Options{Command: "i=0; while [ $i -lt 3000 ]; do echo line$i; i=$((i+1)); done", MaxOutput: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Wait(10 * time.Second) {
		t.Fatal("flood did not end")
	}
	out := p.Stdout()
	if !strings.Contains(out, "line0\n") || !strings.Contains(out, "line2999\n") || !strings.Contains(out, "bytes left out") || len(out) > 3000 {
		t.Errorf("kept %d bytes:\n%s", len(out), out)
	}
}

func TestRunsACommandWithAnAssignmentInFront(t *testing.T) {
	p, err := Start(Options{Command: "GREETING=hi printenv GREETING"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Wait(5 * time.Second) {
		t.Fatal("printenv did not end")
	}
	if got := p.Lines(); len(got) != 1 || got[0] != "hi" || p.Status() != "exit status 0" {
		t.Errorf("stdout %q, status %q, stderr %q", got, p.Status(), p.Stderr())
	}
	if got := p.LinesSince(p.Started()); len(got) != 1 {
		t.Errorf("lines since the start: %q", got)
	}
	if got := p.LinesSince(time.Now().Add(time.Hour)); len(got) != 0 {
		t.Errorf("lines since a later time: %q", got)
	}
}

func TestExecsTheProgramAfterItsAssignments(t *testing.T) {
	p, err := Start(Options{Command: "A=1 sleep 5"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(time.Second)
	// exec: the process Faultline started and signals is sleep itself,
	// not a shell waiting for it.
	got := ""
	for deadline := time.Now().Add(2 * time.Second); got != "sleep" && time.Now().Before(deadline); {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.cmd.Process.Pid))
		if err != nil {
			t.Skip("no /proc here:", err)
		}
		got = strings.TrimSpace(string(comm))
		time.Sleep(10 * time.Millisecond) // polling: nothing tells when the shell has exec'd
	}
	if got != "sleep" {
		t.Errorf("the started process is %q, want sleep", got)
	}
}
