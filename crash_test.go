package errand_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/errand-dev/errand"
	"github.com/errand-dev/errand/internal/store/storetest"
)

// TestMain doubles as the crash helper: with ERRAND_CRASH_HELPER set, the
// test binary is a worker process that the crash test SIGKILLs.
func TestMain(m *testing.M) {
	if os.Getenv("ERRAND_CRASH_HELPER") != "" {
		crashWorker()
		return
	}
	os.Exit(m.Run())
}

func crashConfig() *errand.Config {
	return &errand.Config{DatabaseURL: os.Getenv("ERRAND_CRASH_DB"), DataDir: os.Getenv("ERRAND_CRASH_DIR"),
		LeaseDuration: time.Second, PollInterval: 20 * time.Millisecond, Workers: 20,
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }}
}

// multiStep is a five-step job with a sleep in the middle. Every step
// execution appends "job step nonce" to the log before it returns the nonce.
func multiStep(logPath string) *errand.Function {
	var mu sync.Mutex
	return errand.NewFunction(errand.FunctionOpts{ID: "multi", Retries: errand.Ptr(20)}, errand.OnEvent("crash/work"),
		func(ctx context.Context, in errand.Input[map[string]int]) (int, error) {
			sum := 0
			for i := 0; i < 5; i++ {
				if i == 2 {
					if err := errand.Sleep(ctx, "pause", 20*time.Millisecond); err != nil {
						return 0, err
					}
				}
				name := fmt.Sprintf("s%d", i)
				nonce, err := errand.Run(ctx, name, func(ctx context.Context) (string, error) {
					var b [8]byte
					_, _ = rand.Read(b[:])
					n := hex.EncodeToString(b[:])
					time.Sleep(time.Duration(mrand.IntN(15)) * time.Millisecond)
					mu.Lock()
					defer mu.Unlock()
					f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
					if err != nil {
						return "", err
					}
					defer f.Close()
					_, err = fmt.Fprintf(f, "%s %s %s\n", in.Job.ID, name, n)
					return n, err
				})
				if err != nil {
					return 0, err
				}
				sum += len(nonce)
			}
			return sum, nil
		})
}

func crashWorker() {
	cfg := crashConfig()
	cfg.Functions = []*errand.Function{multiStep(os.Getenv("ERRAND_CRASH_LOG"))}
	c, err := errand.NewClient(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash worker:", err)
		os.Exit(2)
	}
	if err := c.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "crash worker:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	select {} // until SIGKILL
}

func TestKill9LosesNothingAndRerunsNoFinishedStep(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills worker processes; run without -short")
	}
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) { crashRun(t, kind) })
	}
}

func crashRun(t *testing.T, kind string) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "steps.log")
	envs := []string{"ERRAND_CRASH_HELPER=1", "ERRAND_CRASH_LOG=" + logPath, "ERRAND_CRASH_DIR=" + dir}
	cfg := crashConfig()
	cfg.DataDir = dir
	if kind == "postgres" {
		cfg.DatabaseURL = storetest.FreshSchemaURL(t)
		envs = append(envs, "ERRAND_CRASH_DB="+cfg.DatabaseURL)
	}
	// The test's own client only sends and reads; the workers run jobs.
	sender, err := errand.NewClient(bg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()

	spawn := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envs...)
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if strings.TrimSpace(line) != "ready" {
			_ = cmd.Process.Kill()
			t.Fatalf("worker did not start: %q", line)
		}
		return cmd
	}

	var accepted []string
	for round := 0; round < 10; round++ {
		w := spawn()
		// Send a load while the worker runs, then kill it mid-way.
		var evs []errand.Sendable
		for i := 0; i < 50; i++ {
			evs = append(evs, errand.Event[map[string]int]{Name: "crash/work", Data: map[string]int{"round": round, "i": i}})
		}
		ids, err := sender.Send(bg, evs...)
		if err != nil {
			t.Fatal(err)
		}
		accepted = append(accepted, ids...)
		time.Sleep(time.Duration(50+mrand.IntN(300)) * time.Millisecond)
		if err := w.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = w.Wait()
	}
	// A last worker finishes everything.
	w := spawn()
	defer func() { _ = w.Process.Kill(); _ = w.Wait() }()
	ctx, cancel := context.WithTimeout(bg, 90*time.Second)
	defer cancel()
	jobOf := map[string]string{}
	for _, id := range accepted {
		jobs, err := sender.JobsForEvent(ctx, id)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("event %s has %d jobs (%v), want exactly 1", id, len(jobs), err)
		}
		j, err := sender.WaitJob(ctx, jobs[0])
		if err != nil {
			t.Fatalf("job %s did not end: %v", jobs[0], err)
		}
		if j.Status != errand.StatusFinished || string(j.Output) != "80" {
			t.Fatalf("job %s ended %s with %s / %+v", j.ID, j.Status, j.Output, j.Error)
		}
		jobOf[j.ID] = id
	}
	// Every step's stored nonce must be the last execution of that step:
	// nothing ran a step again after it had finished.
	runs := map[string][]string{}
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue // a line cut by the kill
		}
		runs[f[0]+" "+f[1]] = append(runs[f[0]+" "+f[1]], f[2])
	}
	reruns := 0
	for jobID := range jobOf {
		steps, err := sender.Steps(bg, jobID)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, s := range steps {
			if s.Kind != "run" {
				continue
			}
			done++
			var nonce string
			_ = json.Unmarshal(s.Output, &nonce)
			execs := runs[jobID+" "+s.Name]
			if len(execs) == 0 || execs[len(execs)-1] != nonce {
				t.Errorf("job %s step %s: stored %s but executions were %v: a finished step ran again", jobID, s.Name, nonce, execs)
			}
			reruns += len(execs) - 1
		}
		if done != 5 {
			t.Errorf("job %s has %d finished steps, want 5", jobID, done)
		}
	}
	t.Logf("%d jobs finished once each across 10 kills; %d step executions were cut off by a kill before they were stored", len(accepted), reruns)
}
