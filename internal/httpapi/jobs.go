package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/store"
	"github.com/errand-dev/errand/internal/wire"
)

func limitParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, errorf("invalid_parameter", "limit must be a whole number from 1 to 1000")
	}
	return n, nil
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	p, ok := s.caller(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit, err := limitParam(r)
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	f := store.JobFilter{Status: store.Status(q.Get("status")), FunctionID: q.Get("function"), Owner: q.Get("owner"),
		EventID: q.Get("event_id"), Before: q.Get("cursor"), Limit: limit}
	if !p.IsAdmin() {
		f.Owner = p.UserID // a user lists their own jobs only
	}
	if f.Status != "" && !f.Status.Valid() {
		writeError(w, s.log, r, errorf("invalid_parameter", "status must be one of waiting, running, finished, failed, cancelled"))
		return
	}
	jobs, err := s.cfg.Store.ListJobs(r.Context(), f)
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	out := wire.JobList{Jobs: make([]*wire.Job, len(jobs))}
	for i, j := range jobs {
		out.Jobs[i] = wire.FromJob(j)
	}
	if len(jobs) == limit {
		out.Next = jobs[len(jobs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	p, ok := s.caller(w, r)
	if !ok {
		return
	}
	j, err := s.visibleJob(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.FromJob(j))
}

func (s *Server) getSteps(w http.ResponseWriter, r *http.Request) {
	p, ok := s.caller(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if _, err := s.visibleJob(r.Context(), p, id); err != nil {
		writeError(w, s.log, r, err)
		return
	}
	steps, err := s.cfg.Store.Steps(r.Context(), id)
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	out := struct {
		Steps []*wire.Step `json:"steps"`
	}{Steps: make([]*wire.Step, len(steps))}
	for i, st := range steps {
		out.Steps[i] = wire.FromStep(st)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	p, ok := s.caller(w, r)
	if !ok {
		return
	}
	if _, err := s.visibleJob(r.Context(), p, r.PathValue("id")); err != nil {
		writeError(w, s.log, r, err)
		return
	}
	j, err := s.cfg.Engine.Cancel(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		err = notFoundJob(r.PathValue("id"))
	}
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.FromJob(j))
}

func (s *Server) listFunctions(w http.ResponseWriter, r *http.Request) {
	fns, err := s.cfg.Store.Functions(r.Context())
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"functions": fns})
}

// createJob starts a function as the caller: POST /v1/jobs with
// {"function": "<id>", "data": {...}}. A user owns the job; the service
// key may name an owner ("owner": "<user id>") or none (a system job).
func (s *Server) createJob(w http.ResponseWriter, r *http.Request) {
	p, ok := s.caller(w, r)
	if !ok {
		return
	}
	var in struct {
		Function string          `json:"function"`
		Data     json.RawMessage `json:"data"`
		Owner    *string         `json:"owner"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEventSize))
	if err != nil {
		writeError(w, s.log, r, errorf("request_too_large", "the body is larger than 3 MiB"))
		return
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, s.log, r, errorf("invalid_json", "send {\"function\": \"<id>\", \"data\": {...}}: "+err.Error()))
		return
	}
	if in.Function == "" {
		writeError(w, s.log, r, errorf("invalid_parameter", "function is required: the id of the function to run"))
		return
	}
	if d := bytes.TrimSpace(in.Data); len(d) > 0 && string(d) != "null" && d[0] != '{' {
		writeError(w, s.log, r, errorf("invalid_parameter", "data must be a JSON object"))
		return
	}
	owner := p.UserID
	if in.Owner != nil {
		if !p.IsAdmin() && *in.Owner != p.UserID {
			writeError(w, s.log, r, errorf("forbidden", "only the service key may start a job for another user"))
			return
		}
		owner = *in.Owner
	}
	if owner != "" && s.cfg.Auth != nil && p.IsAdmin() {
		if _, err := s.cfg.Auth.User(r.Context(), owner); err != nil {
			writeError(w, s.log, r, errorf("invalid_parameter", "owner "+strconv.Quote(owner)+" is not a user"))
			return
		}
	}
	j, err := s.cfg.Engine.StartJob(r.Context(), in.Function, in.Data, owner)
	if errors.Is(err, engine.ErrUnknownFunction) {
		err = errorf("not_found", "no function "+strconv.Quote(in.Function)+" is registered")
	}
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, wire.FromJob(j))
}
