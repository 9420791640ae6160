// Package httpapi is errand's HTTP API: events in (POST /e/{key}, the
// Inngest-compatible shape), jobs out (/v1/jobs...), health and metrics.
// Every error is JSON {code, message} with the status from one map.
package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/errand-dev/errand/internal/auth"
	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/inngest"
	"github.com/errand-dev/errand/internal/metrics"
	"github.com/errand-dev/errand/internal/store"
)

// Config configures the API.
type Config struct {
	Engine  *engine.Engine
	Store   store.Store
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// EventKeys are accepted as /e/{key}; empty accepts any key (dev).
	EventKeys []string
	// AdminKeys are accepted as "Authorization: Bearer <key>" on /v1;
	// with no keys and no Auth, /v1 is open (dev only).
	AdminKeys []string
	// Auth, if set, serves /auth/v1 and resolves user and service-key
	// tokens on every endpoint.
	Auth *auth.Service
	// Inngest, if set, accepts app registrations (POST /fn/register).
	Inngest *inngest.Executor
	// Version is reported by /healthz.
	Version string
}

// Server serves the API.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
	rv  *auth.Resolver
}

// New returns the API handler.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	s.rv = &auth.Resolver{Service: cfg.Auth, AdminKeys: cfg.AdminKeys, JobActive: s.jobActive}
	if cfg.Auth != nil {
		s.mux.Handle("/auth/v1/", http.StripPrefix("/auth/v1", auth.NewHandler(cfg.Auth, s.rv)))
	}
	s.mux.HandleFunc("POST /e/{key}", s.postEvents)
	s.mux.HandleFunc("POST /e/", s.missingKey)
	s.mux.HandleFunc("GET /v1/jobs", s.listJobs)
	s.mux.HandleFunc("POST /v1/jobs", s.createJob)
	s.mux.HandleFunc("GET /v1/jobs/stream", s.streamJobs)
	s.mux.HandleFunc("GET /v1/jobs/{id}", s.getJob)
	s.mux.HandleFunc("GET /v1/jobs/{id}/steps", s.getSteps)
	s.mux.HandleFunc("GET /v1/jobs/{id}/stream", s.streamJob)
	s.mux.HandleFunc("POST /v1/jobs/{id}/cancel", s.cancelJob)
	s.mux.HandleFunc("GET /v1/events", s.admin(s.listEvents))
	s.mux.HandleFunc("GET /v1/events/{id}", s.admin(s.getEvent))
	s.mux.HandleFunc("GET /v1/functions", s.admin(s.listFunctions))
	s.mux.HandleFunc("GET /v1/apps", s.admin(s.listApps))
	s.mux.HandleFunc("POST /fn/register", s.register)
	s.mux.HandleFunc("GET /dev", s.devInfo)
	s.mux.HandleFunc("POST /v1/apps/sync", s.admin(s.syncApp))
	s.mux.HandleFunc("GET /healthz", s.health)
	if cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", cfg.Metrics.Handler())
	}
	return s
}

// ServeHTTP routes a request, answering unknown routes with JSON errors.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		// The mux would answer 404 or 405 in plain text; answer in JSON.
		rec := &statusProbe{}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.Header().Get("Allow"))
			writeError(w, s.log, r, errorf("method_not_allowed", r.Method+" is not allowed on "+r.URL.Path))
			return
		}
		writeError(w, s.log, r, errorf("not_found", "no such endpoint: "+r.Method+" "+r.URL.Path))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// statusProbe captures the status the mux would have written.
type statusProbe struct {
	h      http.Header
	status int
}

func (p *statusProbe) Header() http.Header {
	if p.h == nil {
		p.h = http.Header{}
	}
	return p.h
}
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(s int)           { p.status = s }

// open reports whether /v1 runs without credentials (dev without keys).
func (s *Server) open() bool { return len(s.cfg.AdminKeys) == 0 && s.cfg.Auth == nil }

// admin guards an endpoint: the service key or the signing key.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.open() {
			h(w, r)
			return
		}
		p, err := s.rv.Resolve(r)
		if err != nil {
			writeError(w, s.log, r, authError(err))
			return
		}
		switch p.Kind {
		case auth.Admin:
			h(w, r)
		case auth.Anonymous:
			writeError(w, s.log, r, errorf("unauthorized", "this endpoint needs \"Authorization: Bearer <key>\" with the service key or the server's signing key"))
		default:
			writeError(w, s.log, r, errorf("forbidden", "this endpoint is for admins: use the service key"))
		}
	}
}

// authError turns a token problem into an API error.
func authError(err error) error {
	if e, ok := auth.IsAuthError(err); ok {
		switch e.Code {
		case "session_not_found", "user_banned", "user_not_found":
			return errorf(e.Code, e.Msg)
		}
		return errorf("unauthorized", e.Msg)
	}
	return err
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if _, err := s.cfg.Store.NextRunAt(r.Context()); err != nil {
		s.log.Error("health check", "err", err)
		writeError(w, s.log, r, errorf("unavailable", "the database is not reachable"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.cfg.Version})
}
