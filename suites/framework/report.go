package framework

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/faultline-mqtt/faultline/reports"
)

// The reports a run writes when it ends: JUnit, summary and HTML.

// htmlInfo is what the HTML report says about the target.
func htmlInfo() reports.RunInfo {
	info := reports.RunInfo{Broker: targetName(), Version: os.Getenv("FAULTLINE_BROKER_VERSION"), URL: os.Getenv(EnvBroker),
		Defect: os.Getenv(EnvDefect)}
	if current != nil {
		info.Broker, info.URL = current.Target.Name, current.Target.URL
		if current.Target.Embedded && info.Version == "" {
			info.Version = moduleVersion("github.com/mochi-mqtt/server/v2", "mochi ")
		}
	}
	return info
}

// moduleVersion is the version of a module built into this binary.
func moduleVersion(path, prefix string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				return prefix + m.Version
			}
		}
	}
	return ""
}

// writeReports writes junit.xml and summary.txt when a report directory
// is set (make prints the summary after Ginkgo's own output), and prints
// the summary otherwise.
func writeReports(report types.Report) {
	name := targetName()
	if current != nil {
		name = current.Target.Name
		if current.Target.URL != "" && !current.Target.Embedded {
			name += " (" + current.Target.URL + ")"
		}
	}
	outcome := reports.Judge(report, name)
	text := outcome.Text()
	dir := os.Getenv(EnvReportDir)
	if dir == "" {
		fmt.Print(text)
		return
	}
	classname := "faultline." + reports.Slug(targetName())
	if err := reports.WriteJUnit(report, filepath.Join(dir, "junit.xml"), classname); err != nil {
		ginkgo.Fail("faultline: writing the JUnit report: " + err.Error())
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(text), 0o644); err != nil {
		ginkgo.Fail("faultline: writing the summary: " + err.Error())
	}
	if err := reports.WriteHTML(report, filepath.Join(dir, "report.html"), htmlInfo()); err != nil {
		ginkgo.Fail("faultline: writing the HTML report: " + err.Error())
	}
}
