package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/errand-dev/errand/internal/auth"
	"github.com/errand-dev/errand/internal/inngest"
	"github.com/errand-dev/errand/internal/wire"
)

// register syncs an app's functions: POST /fn/register, as the Inngest
// SDKs call it. With a signing key configured, the SDK must present it
// hashed as "Authorization: Bearer signkey-<env>-<sha256>"; without one
// (dev), registration is open.
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Inngest == nil {
		writeError(w, s.log, r, errorf("not_found", "this server does not run functions served over HTTP"))
		return
	}
	if key := s.cfg.Inngest.SigningKey; key != "" {
		want, err := inngest.HashedSigningKey(key)
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if err != nil || tok == "" || !auth.ConstantTimeIn(tok, []string{want}) {
			writeError(w, s.log, r, errorf("unauthorized", "registration needs the app's signing key: set INNGEST_SIGNING_KEY in the app to errand's --signing-key"))
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
	if err != nil {
		writeError(w, s.log, r, errorf("request_too_large", "the registration is larger than 8 MiB"))
		return
	}
	var req inngest.RegisterRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, s.log, r, errorf("invalid_json", "the registration is not valid JSON: "+err.Error()))
		return
	}
	fns, err := s.cfg.Inngest.Functions(&req)
	if err != nil {
		writeError(w, s.log, r, errorf("invalid_registration", err.Error()))
		return
	}
	if err := s.cfg.Engine.Register(fns...); err != nil {
		writeError(w, s.log, r, errorf("invalid_registration", err.Error()))
		return
	}
	s.log.Info("app synced", "app", req.AppName, "url", req.URL, "functions", len(fns), "sdk", req.SDK)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "modified": true})
}

// devInfo answers the dev-server probe of older SDKs: GET /dev.
func (s *Server) devInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"version": "errand " + s.cfg.Version, "functions": []any{},
		"startOpts": map[string]any{"sdkUrls": []string{}}})
}

// listApps lists the apps and their functions: GET /v1/apps.
func (s *Server) listApps(w http.ResponseWriter, r *http.Request) {
	fns, err := s.cfg.Store.Functions(r.Context())
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"apps": wire.Apps(fns)})
}

// syncApp asks the app at url to register: POST /v1/apps/sync {"url": ...}.
func (s *Server) syncApp(w http.ResponseWriter, r *http.Request) {
	var in struct {
		URL string `json:"url"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil || in.URL == "" {
		writeError(w, s.log, r, errorf("invalid_parameter", `send {"url": "<the app's serve URL>"}`))
		return
	}
	if err := SyncApp(r.Context(), in.URL); err != nil {
		writeError(w, s.log, r, errorf("sync_failed", err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// SyncApp sends the PUT that makes an Inngest SDK register its functions.
func SyncApp(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("sync %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode >= 300 {
		return errors.New("sync " + url + ": the app answered " + resp.Status + ": " + string(b))
	}
	return nil
}
