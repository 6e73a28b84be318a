package reports

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browser finds a Chromium to drive: $FAULTLINE_CHROMIUM, else the Debian
// package's binary or another Chromium on PATH.
func browser() (string, bool) {
	if p := os.Getenv("FAULTLINE_CHROMIUM"); p != "" {
		return p, true
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "headless_shell", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// screenshotDir is where the browser test keeps its screenshots: beside
// the reports of a run ($FAULTLINE_REPORT_DIR), else out/browser/ at the
// root of the tree (git-ignored).
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("FAULTLINE_REPORT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "out", "browser")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// TestTheReportRendersOfflineInABrowser opens the HTML report in headless
// Chromium: the diagrams and charts must render with a size, the page must
// load nothing but itself, and run no script that throws. It checks a
// sample report, and also $FAULTLINE_HTML_REPORT (a real run's
// report.html or comparison.html) when set.
func TestTheReportRendersOfflineInABrowser(t *testing.T) {
	exe, ok := browser()
	if !ok {
		t.Skip("no Chromium found (/usr/bin/chromium, chromium, headless_shell on PATH, or $FAULTLINE_CHROMIUM): install the Debian package chromium (apt-get install -y chromium) to run the browser test")
	}
	dir := screenshotDir(t)
	sample := filepath.Join(t.TempDir(), "report.html")
	if err := WriteHTML(sampleReport(), sample, RunInfo{Broker: "sample", Version: "1.0", URL: "mqtt://user:secret@localhost:1883"}); err != nil {
		t.Fatal(err)
	}
	pages := []struct{ name, path string }{{"sample", sample}}
	if p := os.Getenv("FAULTLINE_HTML_REPORT"); p != "" {
		pages = append(pages, struct{ name, path string }{strings.TrimSuffix(filepath.Base(p), ".html"), p})
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) { checkInBrowser(t, exe, p.path, filepath.Join(dir, "report-"+p.name)) })
	}
}

func checkInBrowser(t *testing.T, exe, path, shots string) {
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := "file://" + abs
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1440, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first Run starts the browser and must not carry a timeout;
	// every later action does.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium %s: %v", exe, err)
	}
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	var mu sync.Mutex
	var requests, problems []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, ev.Request.URL)
		case *runtime.EventExceptionThrown:
			problems = append(problems, "script exception: "+ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == "error" {
				problems = append(problems, "console error")
			}
		}
	}); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}

	// Sizes of every diagram and chart that is shown (a diagram in a closed
	// <details> has none, by design).
	type box struct {
		Kind   string  `json:"kind"`
		W      float64 `json:"w"`
		H      float64 `json:"h"`
		Shown  bool    `json:"shown"`
		Arrows int     `json:"arrows"`
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(doc), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatalf("opening %s: %v", doc, err)
	}
	boxes, err := chromedp.Run(ctx, chromedp.Evaluate[[]box](`Array.from(document.querySelectorAll('svg.seq, svg.chart')).map(s => {
		const r = s.getBoundingClientRect();
		const d = s.closest('details');
		return {kind: s.classList.contains('seq') ? 'diagram' : 'chart', w: r.width, h: r.height,
			shown: d ? d.open : true, arrows: s.querySelectorAll('g.pkt').length};
	})`))
	if err != nil {
		t.Fatalf("measuring the SVGs: %v", err)
	}
	count := `Array.from(document.querySelectorAll('tr[data-v]')).filter(r => r.style.display !== 'none').length`
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](count))
	if err != nil {
		t.Fatal(err)
	}
	top, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shownAfter := -1
	// Click waits for its element: only where the page has the filter.
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.tools .pill[data-v="fail"]').length`)); n == 0 {
		t.Logf("no verdict filter on this page")
	} else if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.tools .pill[data-v="fail"]`))); err == nil {
		shownAfter, _ = chromedp.Run(ctx, chromedp.Evaluate[int](count))
		_ = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.tools .pill[data-v="fail"]`)))
	}
	// The first three failures or deviations, one picture each.
	shotsOf := map[string][]byte{}
	ids, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('section.problem')).slice(0, 3).map(s => s.id)`))
	for i, id := range ids {
		b, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#"+id)))
		if err != nil {
			t.Errorf("photographing %s: %v", id, err)
			continue
		}
		shotsOf[fmt.Sprintf("failure-%d.png", i+1)] = b
	}
	var chartShot []byte
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#measurements').length`)); n > 0 {
		if chartShot, err = chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(`#measurements`))); err != nil {
			t.Errorf("photographing the measurements: %v", err)
		}
	}
	full, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shotsOf["top.png"], shotsOf["charts.png"], shotsOf["full.png"] = top, chartShot, full
	for _, name := range slices.Sorted(maps.Keys(shotsOf)) {
		b := shotsOf[name]
		if len(b) == 0 {
			continue
		}
		p := shots + "-" + name
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}

	diagrams, charts := 0, 0
	for _, b := range boxes {
		if !b.Shown {
			continue
		}
		if b.W <= 0 || b.H <= 0 {
			t.Errorf("a %s renders with no size (%.0f×%.0f)", b.Kind, b.W, b.H)
		}
		if b.Kind == "diagram" {
			diagrams++
			if b.Arrows == 0 {
				t.Errorf("a diagram has no packet arrows")
			}
		} else {
			charts++
		}
	}
	if strings.Contains(shots, "report-sample") {
		if diagrams < 2 || charts < 2 {
			t.Errorf("the sample report shows %d diagrams and %d charts; want its failure's and deviation's diagrams and both charts", diagrams, charts)
		}
		if shownAfter != 1 || rows != 6 {
			t.Errorf("filtering the spec list to failures shows %d of %d rows; want 1 of 6", shownAfter, rows)
		}
	}
	t.Logf("%s: %d diagrams and %d charts shown, %d spec rows", filepath.Base(path), diagrams, charts, rows)
	mu.Lock()
	defer mu.Unlock()
	for _, u := range requests {
		if u != doc {
			t.Errorf("the page loaded %s; it must load nothing but itself", u)
		}
	}
	if len(requests) == 0 {
		t.Errorf("saw no request at all: network events were not observed")
	}
	for _, p := range problems {
		t.Error(p)
	}
}
