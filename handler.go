package errand

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/errand-dev/errand/internal/dashboard"
	"github.com/errand-dev/errand/internal/httpapi"
	"github.com/errand-dev/errand/internal/metrics"
)

// Handler returns errand's HTTP API for an embedded client, to mount in
// your own server: POST /e/{key}, /v1/jobs (each user sees their own),
// live streams, /fn/register for apps serving functions over HTTP, and
// with Config.JWTSecret the /auth/v1 accounts API and the dashboard at /
// (its cookies are Secure when Config.PublicURL is https).
// Config.EventKey, if set, is the only event key accepted.
func (c *Client) Handler() http.Handler {
	if c.eng == nil {
		return http.NotFoundHandler()
	}
	var keys []string
	if c.cfg.EventKey != "" {
		keys = []string{c.cfg.EventKey}
	}
	api := httpapi.New(httpapi.Config{Engine: c.eng, Store: c.db, Metrics: metrics.New(c.db), Logger: c.cfg.Logger,
		EventKeys: keys, Auth: c.auth, Inngest: c.exec})
	if c.auth == nil {
		return api
	}
	ui, err := dashboard.New(dashboard.Config{Engine: c.eng, Store: c.db, Auth: c.auth, API: api,
		Secure: strings.HasPrefix(c.cfg.PublicURL, "https://"), Sync: httpapi.SyncApp, Logger: c.cfg.Logger})
	if err != nil {
		slog.Error("errand: the dashboard is off", "err", err)
		return api
	}
	return ui
}

// ErrNoAccounts is returned by APIKeys of a client without accounts
// (Config.JWTSecret empty, or a remote client).
var ErrNoAccounts = errors.New("errand: accounts are off: set Config.JWTSecret on an embedded client")

// APIKeys returns the anon and service keys of an embedded client with
// accounts (Config.JWTSecret), valid for ten years.
func (c *Client) APIKeys() (anon, service string, err error) {
	if c.auth == nil {
		return "", "", ErrNoAccounts
	}
	now := time.Now()
	if anon, err = c.auth.Keys().SignAPIKey("anon", now, 10*365*24*time.Hour); err != nil {
		return "", "", err
	}
	service, err = c.auth.Keys().SignAPIKey("service_role", now, 10*365*24*time.Hour)
	return anon, service, err
}
