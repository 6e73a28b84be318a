package framework

import (
	"os"
	"runtime/debug"

	"github.com/faultline-mqtt/faultline/reports"
)

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
