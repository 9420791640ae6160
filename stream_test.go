package errand_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/errand-dev/errand"
)

type sseEvent struct {
	id  string
	job map[string]any
}

// readSSE reads job events from a stream until stop says so.
func readSSE(t *testing.T, url, bearer, lastID string, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg, 60*time.Second) // a bound for a loaded CI machine, not a wait
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "data: "):
			_ = json.Unmarshal([]byte(line[6:]), &cur.job)
		case line == "" && cur.job != nil:
			out = append(out, cur)
			if stop(cur) {
				return out
			}
			cur = sseEvent{}
		}
	}
	return out
}

func TestJobStreamsProgressLive(t *testing.T) {
	each(t, func(t *testing.T, _ func(*errand.Config) *errand.Client) {
		kind := "sqlite"
		if strings.HasSuffix(t.Name(), "postgres") {
			kind = "postgres"
		}
		step := make(chan struct{}, 1)
		fn := errand.NewFunction(errand.FunctionOpts{ID: "report"}, errand.OnEvent("app/report"),
			func(ctx context.Context, in errand.Input[struct{}]) (string, error) {
				wait := func() error { // a failed test's cleanup cancels, and must not hang
					select {
					case <-step:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				for i := 1; i <= 3; i++ {
					if err := wait(); err != nil {
						return "", err
					}
					if err := errand.Progress(ctx, float64(i)/4, "part "+string(rune('0'+i))); err != nil {
						return "", err
					}
				}
				if err := wait(); err != nil {
					return "", err
				}
				return "report.csv", nil
			})
		s := newSite(t, kind, fn)
		_, tok, _ := s.signUp(t, "a@example.com")
		id := s.do(t, "POST", "/v1/jobs", tok, map[string]any{"function": "report"}).json()["id"].(string)
		// The test lets the job take its next step only once the stream has
		// shown the previous one, so every state must reach the client.
		steps := 0
		next := func(e sseEvent) {
			want := []string{"", "part 1", "part 2", "part 3"}
			if steps < len(want) && e.job["status"] == "running" && strOr(e.job["progress_message"]) == want[steps] {
				steps++
				step <- struct{}{}
			}
		}
		var list []sseEvent
		done := make(chan struct{})
		go func() {
			defer close(done)
			list = readSSE(t, s.url+"/v1/jobs/stream?since=1", tok, "", func(e sseEvent) bool { return e.job["status"] == "finished" })
		}()
		evs := readSSE(t, s.url+"/v1/jobs/"+id+"/stream", tok, "", func(e sseEvent) bool {
			next(e)
			return e.job["status"] == "finished"
		})
		<-done
		var msgs []string
		for _, e := range evs {
			msgs = append(msgs, e.job["status"].(string)+":"+strOr(e.job["progress_message"]))
		}
		joined := strings.Join(msgs, " ")
		for _, want := range []string{"running:part 1", "running:part 2", "running:part 3", "finished:part 3"} {
			if !strings.Contains(joined, want) {
				t.Fatalf("stream %q lacks %q", joined, want)
			}
		}
		if last := evs[len(evs)-1].job; last["output"] != "report.csv" || last["progress"] != float64(1) {
			t.Fatalf("final event %v", last)
		}
		if len(list) == 0 || list[len(list)-1].job["id"] != id {
			t.Fatalf("list stream %v", list)
		}
		// Resuming after the "part 2" event replays only what came later.
		var after string
		for _, e := range evs {
			if e.job["progress_message"] == "part 2" {
				after = e.id
			}
		}
		again := readSSE(t, s.url+"/v1/jobs/"+id+"/stream", tok, after, func(sseEvent) bool { return false })
		if len(again) != 1 || again[0].job["status"] != "finished" {
			t.Fatalf("resumed stream: %v", again)
		}
	})
}

func strOr(v any) string {
	s, _ := v.(string)
	return s
}
