package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/errand-dev/errand/internal/store/storetest"
)

// nodeDir is where the client-compatibility tests and their npm packages
// live; `make test` runs npm ci there first.
var nodeDir = filepath.Join("..", "..", "tests", "node")

func needNode(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "@supabase", "supabase-js")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("npm packages missing in %s: run `make test`, which installs them", nodeDir)
		}
		t.Skipf("npm packages missing in %s; run `make test` to install them", nodeDir)
	}
}

// startDev runs an errand dev server on a fresh store of the kind.
func startDev(t *testing.T, kind string, extra ...string) *Main {
	t.Helper()
	args := []string{"--port", "0", "--data-dir", t.TempDir(), "--refresh-reuse-interval", "1s"}
	if kind == "postgres" {
		args = append(args, "--database-url", storetest.FreshSchemaURL(t))
	}
	var out bytes.Buffer
	errOut := &syncBuf{}
	m := NewMain(&out, errOut)
	if err := m.ParseFlags("dev", append(args, extra...)); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = m.Close()
		if t.Failed() {
			t.Logf("errand's log:\n%s", errOut.String())
		}
	})
	return m
}

// syncBuf is a bytes.Buffer safe for the server's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func runNode(t *testing.T, m *Main, script string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-reporter=spec", script)
	cmd.Dir = nodeDir
	cmd.Env = append(os.Environ(), append([]string{"ERRAND_URL=http://" + m.Addr, "ERRAND_ANON_KEY=" + m.AnonKey,
		"ERRAND_SERVICE_KEY=" + m.ServiceKey, "ERRAND_REUSE_MS=1000"}, env...)...)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("node %s: %v", script, err)
	}
}

func TestSupabaseJS(t *testing.T) {
	needNode(t)
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			runNode(t, startDev(t, kind), "supabase.test.mjs")
		})
	}
}

// TestInngestSDKs runs each generation of the unmodified inngest SDK (the
// seed's 2.0.1, the newest 3.x and 4.x) against errand dev on both stores.
func TestInngestSDKs(t *testing.T) {
	needNode(t)
	for _, gen := range []string{"inngest2", "inngest3", "inngest4"} {
		for _, kind := range storetest.Kinds {
			t.Run(gen+"/"+kind, func(t *testing.T) {
				runNode(t, startDev(t, kind), gen+".test.mjs", "INNGEST_DEV=1")
			})
		}
	}
}

// TestInngestStartMode runs errand start: registration needs the hashed
// signing key, and the SDK in cloud mode verifies errand's signatures.
func TestInngestStartMode(t *testing.T) {
	needNode(t)
	signing := "signkey-test-" + strings.Repeat("ab12", 16)
	db := storetest.FreshSchemaURL(t)
	var out bytes.Buffer
	errOut := &syncBuf{}
	m := NewMain(&out, errOut)
	err := m.ParseFlags("start", []string{"--host", "127.0.0.1", "--port", "0", "--database-url", db, "--event-key", "ek-1",
		"--signing-key", signing, "--jwt-secret", strings.Repeat("j", 40)})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for name, bearer := range map[string]string{"no key": "", "raw key": signing, "wrong key": "signkey-test-00"} {
		req, _ := http.NewRequest("POST", "http://"+m.Addr+"/fn/register", strings.NewReader(`{"url":"http://127.0.0.1:1/","functions":[]}`))
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("register with %s: %d, want 401", name, resp.StatusCode)
		}
	}
	runNode(t, m, "inngest3-prod.test.mjs", "ERRAND_EVENT_KEY=ek-1", "ERRAND_SIGNING_KEY="+signing)
	if t.Failed() {
		t.Logf("errand's log:\n%s", errOut.String())
	}
}

// startApp runs tests/node/serve3.mjs and returns its serve URL.
func startApp(t *testing.T, errandURL string) string {
	t.Helper()
	cmd := exec.Command("node", "serve3.mjs")
	cmd.Dir = nodeDir
	cmd.Env = append(os.Environ(), "ERRAND_URL="+errandURL, "INNGEST_DEV=1")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("app did not start: %v", err)
	}
	return strings.TrimSpace(line)
}

func apiCall(t *testing.T, m *Main, method, path, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+m.Addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+m.ServiceKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// A job of an HTTP-served function keeps its finished steps across an
// errand restart: the new process resumes it and step "a" never runs again.
func TestInngestMemoizationAcrossRestart(t *testing.T) {
	needNode(t)
	dir := t.TempDir()
	m := startDev(t, "sqlite", "--data-dir", dir)
	app := startApp(t, "http://"+m.Addr)
	apiCall(t, m, "POST", "/v1/apps/sync", `{"url":"`+app+`"}`, nil)
	resp, err := http.Post("http://"+m.Addr+"/e/k", "application/json", strings.NewReader(`{"name":"app/durable"}`))
	if err != nil {
		t.Fatal(err)
	}
	var sent struct{ IDs []string }
	_ = json.NewDecoder(resp.Body).Decode(&sent)
	resp.Body.Close()
	var list struct {
		Jobs []struct{ ID, Status string } `json:"jobs"`
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for i := 0; i < 300; i++ {
			if ok() {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	waitFor("the job to sleep", func() bool {
		apiCall(t, m, "GET", "/v1/jobs?event_id="+sent.IDs[0], "", &list)
		if len(list.Jobs) == 0 {
			return false
		}
		var steps struct {
			Steps []struct{ Kind, Status string } `json:"steps"`
		}
		apiCall(t, m, "GET", "/v1/jobs/"+list.Jobs[0].ID+"/steps", "", &steps)
		return len(steps.Steps) == 2 && steps.Steps[1].Kind == "sleep"
	})
	jobID := list.Jobs[0].ID
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := startDev(t, "sqlite", "--data-dir", dir)
	var job struct {
		Status string          `json:"status"`
		Output json.RawMessage `json:"output"`
	}
	waitFor("the job to finish after the restart", func() bool {
		apiCall(t, m2, "GET", "/v1/jobs/"+jobID, "", &job)
		return job.Status == "finished"
	})
	var out map[string]int
	_ = json.Unmarshal(job.Output, &out)
	if out["runs_of_a"] != 1 || out["runs_of_b"] != 1 {
		t.Fatalf("after a restart: %s (step a must have run once)", job.Output)
	}
}
