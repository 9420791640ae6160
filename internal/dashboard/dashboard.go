// Package dashboard is errand's web interface, served at / beside the API.
// Users sign up and in with errand accounts and watch their jobs live;
// admins (the service key, or a user whose app_metadata has
// "errand_admin": true) get a console of every job, event, function, app
// and user, with charts of the queue.
//
// Pages are rendered on the server with html/template and work without
// JavaScript; assets/live.js only applies live updates, read from the API's
// Server-Sent Events through /live/..., which forwards the request with
// the session's access token. The session lives in HttpOnly, SameSite=Lax
// cookies (Secure, with __Host- names, in start mode); every form carries
// a CSRF token and is also checked with net/http's CrossOriginProtection.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/errand-dev/errand/internal/auth"
	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// pages are parsed once; a broken template fails every test at start.
var pages = mustParsePages()

// Config configures the dashboard.
type Config struct {
	Engine *engine.Engine
	Store  store.Store
	// Auth is errand's accounts service; the dashboard needs it.
	Auth *auth.Service
	// API is errand's HTTP API: live streams are forwarded to it, and so
	// is every path the dashboard does not serve.
	API http.Handler
	// AdminKeys are accepted at the admin sign-in besides the service key
	// (the server's --signing-key).
	AdminKeys []string
	// Secure marks cookies Secure and names them __Host-...; set it when
	// errand is reached over HTTPS (errand start).
	Secure bool
	// Sync asks an Inngest app at its serve URL to register again; nil
	// hides the re-sync buttons.
	Sync   func(ctx context.Context, url string) error
	Logger *slog.Logger
	// Now is the clock, for tests; default time.Now.
	Now func() time.Time
}

// Dashboard serves the web interface and, for every other path, the API.
type Dashboard struct {
	cfg     Config
	log     *slog.Logger
	rv      *auth.Resolver
	mux     *http.ServeMux
	csrfKey []byte
	cop     *http.CrossOriginProtection
}

// New returns the dashboard.
func New(cfg Config) (*Dashboard, error) {
	if cfg.Auth == nil || cfg.Engine == nil || cfg.Store == nil || cfg.API == nil {
		return nil, errors.New("dashboard: Auth, Engine, Store and API are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Dashboard{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(),
		csrfKey: cfg.Auth.Keys().Derive("errand dashboard csrf"), cop: http.NewCrossOriginProtection()}
	d.rv = &auth.Resolver{Service: cfg.Auth, AdminKeys: cfg.AdminKeys}
	d.routes()
	return d, nil
}

func (d *Dashboard) routes() {
	m := d.mux
	m.Handle("GET /assets/", http.FileServerFS(assetFS))
	m.HandleFunc("GET /{$}", d.page(d.home))
	m.HandleFunc("GET /signin", d.page(d.signInPage))
	m.HandleFunc("POST /signin", d.form(d.signIn))
	m.HandleFunc("POST /signin/key", d.form(d.signInKey))
	m.HandleFunc("GET /signup", d.page(d.signUpPage))
	m.HandleFunc("POST /signup", d.form(d.signUp))
	m.HandleFunc("POST /signout", d.form(d.signOut))
	m.HandleFunc("POST /jobs", d.form(d.user(d.startJob)))
	m.HandleFunc("GET /jobs/{id}", d.page(d.jobPage))
	m.HandleFunc("POST /jobs/{id}/cancel", d.form(d.cancelJob))
	m.HandleFunc("GET /live/jobs", d.live("/v1/jobs/stream"))
	m.HandleFunc("GET /live/jobs/{id}", d.live("/v1/jobs/{id}/stream"))
	m.HandleFunc("GET /live/jobs/{id}/steps", d.live("/v1/jobs/{id}/steps"))
	m.HandleFunc("GET /live/all", d.page(d.admin(d.liveAll)))
	m.HandleFunc("GET /admin", d.page(d.admin(d.overviewPage)))
	m.HandleFunc("GET /admin/jobs", d.page(d.admin(d.jobsPage)))
	m.HandleFunc("POST /admin/jobs/{id}/retry", d.form(d.admin(d.retryJob)))
	m.HandleFunc("GET /admin/events", d.page(d.admin(d.eventsPage)))
	m.HandleFunc("POST /admin/events/{id}/replay", d.form(d.admin(d.replayEvent)))
	m.HandleFunc("GET /admin/functions", d.page(d.admin(d.functionsPage)))
	m.HandleFunc("POST /admin/apps/sync", d.form(d.admin(d.syncApp)))
	m.HandleFunc("GET /admin/users", d.page(d.admin(d.usersPage)))
	m.HandleFunc("POST /admin/users/{id}/{action}", d.form(d.admin(d.userAction)))
	m.Handle("/", d.cfg.API)
}

// ServeHTTP serves a dashboard page, or passes the request to the API.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mux.ServeHTTP(w, r)
}
