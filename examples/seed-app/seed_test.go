package main

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/errand-dev/errand/internal/store/storetest"
)

// TestSeedAppInChromium runs the seed's scenario in headless Chromium
// (tests/node/seed-app.test.mjs): a user signs up on the app's page,
// presses "Start report" and watches the job run to finished, live; then
// the app's table holds the report, written under the user's id through
// Row Level Security.
func TestSeedAppInChromium(t *testing.T) {
	if os.Getenv("ERRAND_BROWSER_TESTS") == "later" {
		t.Skip("make test runs the browser tests in a phase of their own, after the rest")
	}
	nodeDir := filepath.Join("..", "..", "tests", "node")
	_, errPkg := os.Stat(filepath.Join(nodeDir, "node_modules", "playwright-core"))
	_, errBin := os.Stat("/usr/bin/chromium")
	if errPkg != nil || errBin != nil || os.Getenv("ERRAND_TEST_DATABASE_URL") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("the seed app's test needs PostgreSQL, playwright-core and /usr/bin/chromium: run `make test`")
		}
		t.Skip("needs PostgreSQL (ERRAND_TEST_DATABASE_URL), playwright-core and /usr/bin/chromium; `make test` provides them")
	}
	url := storetest.FreshSchemaURL(t)
	ctx := context.Background()
	h, closeApp, err := newApp(ctx, url, "seed-app-test-secret-0123456789abcdef", "http://127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); closeApp() })

	email := "seed-" + time.Now().Format("150405.000000") + "@example.com"
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, "node", "--test", "--test-reporter=spec", "seed-app.test.mjs")
	cmd.Dir = nodeDir
	cmd.Env = append(os.Environ(), "SEED_URL="+srv.URL, "SEED_EMAIL="+email)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("node seed-app.test.mjs: %v", err)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var owner, title, status string
	err = conn.QueryRow(ctx, `SELECT r.owner::text, r.title, r.status FROM reports r
		JOIN errand_users u ON u.id::text = r.owner::text WHERE u.email = $1`, email).Scan(&owner, &title, &status)
	if err != nil || status != "finished" || title != "Monthly report" {
		t.Fatalf("the user's report row: owner %q title %q status %q err %v", owner, title, status, err)
	}
}
