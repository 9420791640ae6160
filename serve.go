package errand

import (
	"net/http"

	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/inngest"
)

// ServeConfig configures ServeHandler.
type ServeConfig struct {
	// AppID names the app; functions are registered as "<AppID>-<ID>".
	AppID string
	// ErrandURL is the errand server (for example http://127.0.0.1:8288).
	ErrandURL string
	// EventKey is used by SendEvent steps; default "dev".
	EventKey string
	// SigningKey, if set, must sign errand's calls (errand start's
	// --signing-key) and is presented, hashed, when syncing.
	SigningKey string
	// ServeURL is where errand reaches the handler; default the URL the
	// sync request came to.
	ServeURL string
}

// ServeHandler hosts functions in your own Go service, the way the
// Inngest SDKs do: errand syncs them with a PUT (errand dev -u <url>, or
// POST /v1/apps/sync) and runs them by calling the handler, one step per
// call. Step tools work as in an embedded client, except Progress, which
// the protocol does not carry.
func ServeHandler(cfg ServeConfig, fns ...*Function) http.Handler {
	defs := make([]*engine.Function, len(fns))
	for i, f := range fns {
		defs[i] = f.def
	}
	return inngest.NewServer(inngest.ServeConfig{AppID: cfg.AppID, ErrandURL: cfg.ErrandURL, EventKey: cfg.EventKey,
		SigningKey: cfg.SigningKey, ServeURL: cfg.ServeURL, SDK: "go:errand-v0"}, defs)
}
