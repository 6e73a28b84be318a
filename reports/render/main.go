// Command render writes the HTML report of a saved run from its Ginkgo
// JSON report, for example to look at an old run with a newer renderer:
//
//	render -in out/report.json -out out/report.html [-broker mosquitto -version 2.0.18 -url mqtt://host:1883]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/faultline-mqtt/faultline/reports"
)

func main() {
	in := flag.String("in", "out/report.json", "the run's Ginkgo JSON report")
	out := flag.String("out", "out/report.html", "where to write the HTML report")
	info := reports.RunInfo{}
	flag.StringVar(&info.Broker, "broker", "", "the broker's name (default: from the suite's name)")
	flag.StringVar(&info.Version, "version", "", "the broker's version")
	flag.StringVar(&info.URL, "url", "", "the broker's URL (credentials are removed)")
	flag.Parse()
	b, err := os.ReadFile(*in)
	if err != nil {
		fail("%v", err)
	}
	var rs []types.Report
	if err := json.Unmarshal(b, &rs); err != nil || len(rs) != 1 {
		fail("%s: want one suite's Ginkgo JSON report (%v, %d suites)", *in, err, len(rs))
	}
	if info.Broker == "" {
		info.Broker = strings.TrimPrefix(rs[0].SuiteDescription, "faultline.")
	}
	if err := reports.WriteHTML(rs[0], *out, info); err != nil {
		fail("%v", err)
	}
	fmt.Println(*out)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "render: "+format+"\n", args...)
	os.Exit(1)
}
