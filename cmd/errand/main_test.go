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
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as the errand command, for the
// process-level tests below.
func TestMain(m *testing.M) {
	if args := os.Getenv("ERRAND_AS_CMD"); args != "" {
		main2(strings.Fields(args))
		return
	}
	os.Exit(m.Run())
}

func main2(args []string) {
	os.Args = append([]string{"errand"}, args...)
	main()
}

func TestStartRefusesWithoutProductionSettings(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"start"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--database-url") || !strings.Contains(err.Error(), "--signing-key") {
		t.Fatalf("start without settings: %v", err)
	}
	t.Setenv("ERRAND_DATABASE_URL", "postgres://x@127.0.0.1:1/db")
	err = run(context.Background(), []string{"start", "--event-key", "e"}, &out, &errOut)
	if err == nil || strings.Contains(err.Error(), "--database-url") || !strings.Contains(err.Error(), "--signing-key") {
		t.Fatalf("start with a URL from the environment: %v", err)
	}
}

func TestUnknownCommandAndVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"frobnicate"}, &out, &errOut); err == nil {
		t.Fatal("unknown command accepted")
	}
	if err := run(context.Background(), []string{"version"}, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "errand ") {
		t.Fatalf("version: %q %v", out.String(), err)
	}
}

func TestDevServesEventsAndJobs(t *testing.T) {
	var out, errOut bytes.Buffer
	m := NewMain(&out, &errOut)
	if err := m.ParseFlags("dev", []string{"--port", "0", "--data-dir", t.TempDir(), "--event-key", "ek"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	base := "http://" + m.Addr
	if !strings.Contains(out.String(), base+"/e/{eventKey}") {
		t.Fatalf("banner lacks the event URL: %s", out.String())
	}
	resp, err := http.Post(base+"/e/ek", "application/json", strings.NewReader(`{"name":"app/hello","data":{"name":"Ada"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var sent struct {
		IDs    []string `json:"ids"`
		Status int      `json:"status"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&sent)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(sent.IDs) != 1 || sent.Status != 200 {
		t.Fatalf("send: %d %+v", resp.StatusCode, sent)
	}
	if resp, err = http.Get(base + "/v1/events/" + sent.IDs[0]); err != nil || resp.StatusCode != 401 {
		t.Fatalf("event without a key: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", base+"/v1/events/"+sent.IDs[0], nil)
	req.Header.Set("Authorization", "Bearer "+m.ServiceKey)
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("event with the service key: %v %v", resp, err)
	}
	resp.Body.Close()
	if !strings.Contains(out.String(), m.AnonKey) || !strings.Contains(out.String(), m.ServiceKey) {
		t.Fatalf("banner lacks the API keys: %s", out.String())
	}
	if resp, err = http.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestMigrate(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "--data-dir", t.TempDir()}, &out, &errOut); err != nil || !strings.Contains(out.String(), "migrations applied") {
		t.Fatalf("migrate: %q %v", out.String(), err)
	}
}

func TestSIGTERMExitsCleanly(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ERRAND_AS_CMD=dev --port 0 --data-dir "+t.TempDir())
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "http://127.0.0.1:") {
		_ = cmd.Process.Kill()
		t.Fatalf("banner: %q %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("errand did not exit within 20s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Fatalf("no clean stop in the log: %s", stderr.String())
	}
}
