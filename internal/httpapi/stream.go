package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/errand-dev/errand/internal/auth"
	"github.com/errand-dev/errand/internal/store"
	"github.com/errand-dev/errand/internal/wire"
)

// Streams poll the store, so they work whichever errand process runs the
// job. Event ids are the job's updated_at (Unix microseconds), so a client
// reconnecting with Last-Event-ID gets only what changed since.
const (
	streamPoll      = 200 * time.Millisecond
	streamKeepAlive = 15 * time.Second
	// streamLag re-reads this far back so a change committed late (its
	// updated_at before the cursor) is not missed; repeats are dropped.
	streamLag = 2 * time.Second
)

type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

// startSSE answers with an event stream, or writes the error itself when
// the connection cannot stream.
func (s *Server) startSSE(w http.ResponseWriter, r *http.Request) (*sse, bool) {
	f, ok := w.(http.Flusher)
	if !ok {
		writeError(w, s.log, r, errorf("internal", "streaming is not supported by this connection"))
		return nil, false
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return &sse{w: w, f: f}, true
}

func (s *sse) send(j *store.Job) error {
	b, err := json.Marshal(wire.FromJob(j))
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(s.w, "id: %d\nevent: job\ndata: %s\n\n", j.UpdatedAt, b); err != nil {
		return err
	}
	s.f.Flush()
	return nil
}

func (s *sse) ping() error {
	if _, err := fmt.Fprint(s.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	s.f.Flush()
	return nil
}

func lastEventID(r *http.Request) int64 {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("since")
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// streamJob sends a job's changes until it ends: GET /v1/jobs/{id}/stream.
func (s *Server) streamJob(w http.ResponseWriter, r *http.Request) {
	p, ok := s.caller(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	j, err := s.visibleJob(r.Context(), p, id)
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	out, ok := s.startSSE(w, r)
	if !ok {
		return
	}
	last := lastEventID(r)
	tick := time.NewTicker(streamPoll)
	defer tick.Stop()
	changes, stop := s.cfg.Engine.Watch()
	defer stop()
	idle := time.Now()
	for {
		if j.UpdatedAt > last {
			if out.send(j) != nil {
				return
			}
			last, idle = j.UpdatedAt, time.Now()
		}
		if j.Terminal() {
			return
		}
	wait:
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				break wait
			case changed := <-changes:
				if changed == id {
					break wait
				}
			}
		}
		if time.Since(idle) > streamKeepAlive {
			if out.ping() != nil {
				return
			}
			idle = time.Now()
		}
		if j, err = s.cfg.Store.GetJob(r.Context(), id); err != nil {
			return
		}
	}
}

// streamJobs sends changes of the caller's jobs (an admin's: everyone's):
// GET /v1/jobs/stream. Without Last-Event-ID it starts from now.
func (s *Server) streamJobs(w http.ResponseWriter, r *http.Request) {
	p, ok := s.caller(w, r)
	if !ok {
		return
	}
	out, ok := s.startSSE(w, r)
	if !ok {
		return
	}
	cursor := lastEventID(r)
	if cursor == 0 {
		cursor = time.Now().UnixMicro()
	}
	sent := map[string]int64{} // job id → updated_at sent, within the lag
	tick := time.NewTicker(streamPoll)
	defer tick.Stop()
	changes, stop := s.cfg.Engine.Watch()
	defer stop()
	idle := time.Now()
	for first := true; ; first = false {
		n, err := s.sendChanges(r.Context(), out, p, &cursor, sent, first)
		if err != nil {
			return
		}
		if n > 0 {
			idle = time.Now()
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		case <-changes:
		}
		if time.Since(idle) > streamKeepAlive {
			if out.ping() != nil {
				return
			}
			idle = time.Now()
		}
	}
}

// sendChanges sends jobs changed after the cursor. After the first pass
// it looks back streamLag as well, for changes committed late, and drops
// the ones it already sent.
func (s *Server) sendChanges(ctx context.Context, out *sse, p auth.Principal, cursor *int64, sent map[string]int64, first bool) (int, error) {
	from := *cursor
	if !first {
		from -= streamLag.Microseconds()
	}
	f := store.JobFilter{UpdatedAfter: max(from, 1), Limit: 500}
	if !p.IsAdmin() {
		f.Owner = p.UserID
	}
	jobs, err := s.cfg.Store.ListJobs(ctx, f)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, j := range jobs {
		if sent[j.ID] >= j.UpdatedAt {
			continue
		}
		if err := out.send(j); err != nil {
			return n, err
		}
		sent[j.ID] = j.UpdatedAt
		*cursor = max(*cursor, j.UpdatedAt)
		n++
	}
	for id, at := range sent {
		if at < from {
			delete(sent, id)
		}
	}
	return n, nil
}
