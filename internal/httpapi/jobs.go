package httpapi

import (
	"errors"
	"net/http"
	"strconv"

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
	q := r.URL.Query()
	limit, err := limitParam(r)
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	f := store.JobFilter{Status: store.Status(q.Get("status")), FunctionID: q.Get("function"), Owner: q.Get("owner"),
		EventID: q.Get("event_id"), Before: q.Get("cursor"), Limit: limit}
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

func notFoundJob(id string) error {
	return errorf("not_found", "no job with id "+strconv.Quote(id))
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	j, err := s.cfg.Store.GetJob(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		err = notFoundJob(r.PathValue("id"))
	}
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.FromJob(j))
}

func (s *Server) getSteps(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.cfg.Store.GetJob(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = notFoundJob(id)
		}
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
