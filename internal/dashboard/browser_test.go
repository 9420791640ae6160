package dashboard_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/errand-dev/errand"
	"github.com/errand-dev/errand/internal/store/storetest"
)

// nodeDir holds the browser test and its npm packages (`make test` runs
// npm ci there and installs Debian's chromium).
var nodeDir = filepath.Join("..", "..", "tests", "node")

const chromium = "/usr/bin/chromium"

func needBrowser(t *testing.T) {
	t.Helper()
	if os.Getenv("ERRAND_BROWSER_TESTS") == "later" {
		t.Skip("make test runs the browser tests in a phase of their own, after the rest")
	}
	_, errPkg := os.Stat(filepath.Join(nodeDir, "node_modules", "playwright-core"))
	_, errBin := os.Stat(chromium)
	if errPkg != nil || errBin != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("browser test needs playwright-core in %s and %s: run `make test`, which installs both", nodeDir, chromium)
		}
		t.Skipf("browser test needs playwright-core in %s and %s; run `make test` to install them", nodeDir, chromium)
	}
}

// TestDashboardInChromium drives the dashboard in headless Chromium
// (tests/node/dashboard.test.mjs): a user signs up, starts a job and
// watches it go waiting → running → finished without a reload, cancels
// another; a second user sees none of them; an admin sees both users'
// jobs. Screenshots of every page land in test-results/dashboard.
func TestDashboardInChromium(t *testing.T) {
	needBrowser(t)
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			s := newSite(t, kind)
			// A system job holds the report function's one slot, so the
			// user's first job is seen waiting until the test frees it.
			ids, err := s.c.Send(context.Background(), errand.Event[Report]{Name: "app/report.requested", Data: Report{Title: "blocker", Gate: "blocker"}})
			if err != nil {
				t.Fatal(err)
			}
			jobs, err := s.c.JobsForEvent(context.Background(), ids[0])
			if err != nil || len(jobs) != 1 {
				t.Fatalf("blocker: %v %v", jobs, err)
			}
			s.waitStatus(t, jobs[0], errand.StatusRunning)
			shots, err := filepath.Abs(filepath.Join("..", "..", "test-results", "dashboard", kind))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", "--test", "--test-reporter=spec", "dashboard.test.mjs")
			cmd.Dir = nodeDir
			cmd.Env = append(os.Environ(), "ERRAND_URL="+s.url, "ERRAND_SERVICE_KEY="+s.svc, "CONTROL_URL="+s.control(t),
				"CHROMIUM="+chromium, "SCREENSHOTS="+shots, "BLOCKER_GATE=blocker")
			out, err := cmd.CombinedOutput()
			t.Logf("%s", out)
			if err != nil {
				t.Fatalf("node dashboard.test.mjs: %v", err)
			}
		})
	}
}
