package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/errand-dev/errand/internal/auth"
	"github.com/errand-dev/errand/internal/store"
)

// caller resolves the request's principal for the jobs API. Without any
// credential configured (a dev server with neither accounts nor keys),
// everyone is admin. It writes the error reply itself when it fails.
func (s *Server) caller(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	if s.open() {
		return auth.Principal{Kind: auth.Admin}, true
	}
	p, err := s.rv.Resolve(r)
	if err != nil {
		writeError(w, s.log, r, authError(err))
		return p, false
	}
	if p.Kind != auth.User && p.Kind != auth.Admin {
		writeError(w, s.log, r, errorf("unauthorized", "sign in first: send \"Authorization: Bearer <access token>\""))
		return p, false
	}
	return p, true
}

// visibleJob reads a job the caller may see; another user's job is
// answered exactly like a missing one.
func (s *Server) visibleJob(ctx context.Context, p auth.Principal, id string) (*store.Job, error) {
	j, err := s.cfg.Store.GetJob(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !p.IsAdmin() && j.Owner != p.UserID) {
		return nil, notFoundJob(id)
	}
	return j, err
}

func notFoundJob(id string) error {
	return errorf("not_found", "no job with id "+strconv.Quote(id))
}

// jobActive tells the resolver whether a job token's job is still
// running for its owner.
func (s *Server) jobActive(ctx context.Context, jobID, owner string) bool {
	j, err := s.cfg.Store.GetJob(ctx, jobID)
	return err == nil && j.Owner == owner && j.Status == store.StatusRunning
}
