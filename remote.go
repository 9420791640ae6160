package errand

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/errand-dev/errand/internal/store"
	"github.com/errand-dev/errand/internal/wire"
)

// remote talks to an errand server over its HTTP API.
type remote struct {
	base     string
	eventKey string
	apiKey   string
	hc       *http.Client
}

func newRemote(cfg *Config) *remote {
	r := &remote{base: strings.TrimRight(cfg.URL, "/"), eventKey: cfg.EventKey, apiKey: cfg.APIKey, hc: cfg.HTTPClient}
	if r.eventKey == "" {
		r.eventKey = "dev"
	}
	if r.hc == nil {
		r.hc = &http.Client{Timeout: 30 * time.Second}
	}
	return r
}

// APIError is an error reply of an errand server.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("errand: %s (%d %s)", e.Message, e.Status, e.Code)
}

func (r *remote) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if r.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+r.apiKey)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("errand: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var eb wire.ErrorBody
		_ = json.Unmarshal(data, &eb)
		if resp.StatusCode == http.StatusNotFound && eb.Code == "not_found" {
			return ErrNotFound
		}
		return &APIError{Status: resp.StatusCode, Code: eb.Code, Message: eb.Message}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (r *remote) send(ctx context.Context, evs []*store.Event) ([]string, error) {
	type ev struct {
		ID   string          `json:"id,omitempty"`
		Name string          `json:"name"`
		Data json.RawMessage `json:"data"`
		User json.RawMessage `json:"user,omitempty"`
		TS   int64           `json:"ts,omitempty"`
	}
	body := make([]ev, len(evs))
	for i, e := range evs {
		body[i] = ev{e.ID, e.Name, e.Data, e.User, e.TS}
	}
	var out struct {
		IDs []string `json:"ids"`
	}
	err := r.do(ctx, http.MethodPost, "/e/"+url.PathEscape(r.eventKey), body, &out)
	return out.IDs, err
}

func (r *remote) job(ctx context.Context, id string) (*Job, error) {
	var j Job
	if err := r.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id), nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

func (r *remote) jobs(ctx context.Context, f JobsFilter) (*wire.JobList, error) {
	q := url.Values{}
	for k, v := range map[string]string{"status": string(f.Status), "function": f.Function, "owner": f.Owner, "cursor": f.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out wire.JobList
	if err := r.do(ctx, http.MethodGet, "/v1/jobs?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (r *remote) steps(ctx context.Context, id string) ([]*Step, error) {
	var out struct {
		Steps []*Step `json:"steps"`
	}
	if err := r.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id)+"/steps", nil, &out); err != nil {
		return nil, err
	}
	return out.Steps, nil
}

func (r *remote) cancel(ctx context.Context, id string) (*Job, error) {
	var j Job
	if err := r.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(id)+"/cancel", nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}
