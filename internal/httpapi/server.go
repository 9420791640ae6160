// Package httpapi is errand's HTTP API: events in (POST /e/{key}, the
// Inngest-compatible shape), jobs out (/v1/jobs...), health and metrics.
// Every error is JSON {code, message} with the status from one map.
package httpapi

import (
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"

	"github.com/errand-dev/errand/internal/engine"
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
	// empty leaves /v1 open (dev only).
	AdminKeys []string
	// Version is reported by /healthz.
	Version string
}

// Server serves the API.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the API handler.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST /e/{key}", s.postEvents)
	s.mux.HandleFunc("POST /e/", s.missingKey)
	s.mux.HandleFunc("GET /v1/jobs", s.admin(s.listJobs))
	s.mux.HandleFunc("GET /v1/jobs/{id}", s.admin(s.getJob))
	s.mux.HandleFunc("GET /v1/jobs/{id}/steps", s.admin(s.getSteps))
	s.mux.HandleFunc("POST /v1/jobs/{id}/cancel", s.admin(s.cancelJob))
	s.mux.HandleFunc("GET /v1/events", s.admin(s.listEvents))
	s.mux.HandleFunc("GET /v1/events/{id}", s.admin(s.getEvent))
	s.mux.HandleFunc("GET /v1/functions", s.admin(s.listFunctions))
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

// oneOf compares a presented secret with each accepted one in constant time.
func oneOf(got string, accepted []string) bool {
	ok := 0
	for _, k := range accepted {
		ok |= subtle.ConstantTimeCompare([]byte(got), []byte(k))
	}
	return ok == 1
}

// admin guards an endpoint with the admin keys.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if len(s.cfg.AdminKeys) > 0 {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || tok == "" {
				writeError(w, s.log, r, errorf("unauthorized", "this endpoint needs \"Authorization: Bearer <key>\" with the server's signing key"))
				return
			}
			if !oneOf(tok, s.cfg.AdminKeys) {
				writeError(w, s.log, r, errorf("unauthorized", "the bearer key is not valid here; use the server's signing key"))
				return
			}
		}
		h(w, r)
	}
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if _, err := s.cfg.Store.NextRunAt(r.Context()); err != nil {
		s.log.Error("health check", "err", err)
		writeError(w, s.log, r, errorf("unavailable", "the database is not reachable"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.cfg.Version})
}
