package inngest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/errand-dev/errand/internal/engine"
)

// RegisterRequest is the body an SDK posts to /fn/register when synced.
type RegisterRequest struct {
	URL        string     `json:"url"`
	DeployType string     `json:"deployType"`
	AppName    string     `json:"appName"`
	AppID      string     `json:"app_id"`
	SDK        string     `json:"sdk"`
	V          string     `json:"v"`
	Framework  string     `json:"framework"`
	Functions  []FnConfig `json:"functions"`
}

// FnConfig is one function of a registration.
type FnConfig struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Triggers []struct {
		Event      string `json:"event"`
		Expression string `json:"expression"`
		Cron       string `json:"cron"`
	} `json:"triggers"`
	Steps map[string]struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Runtime struct {
			Type string `json:"type"`
			URL  string `json:"url"`
		} `json:"runtime"`
		Retries *struct {
			Attempts *int `json:"attempts"`
		} `json:"retries"`
	} `json:"steps"`
	Concurrency json.RawMessage `json:"concurrency"`
	Cancel      []struct {
		Event   string `json:"event"`
		If      string `json:"if"`
		Timeout string `json:"timeout"`
	} `json:"cancel"`
	Idempotency string `json:"idempotency"`
	Priority    *struct {
		Run string `json:"run"`
	} `json:"priority"`
	RateLimit *struct {
		Limit  int    `json:"limit"`
		Period string `json:"period"`
		Key    string `json:"key"`
	} `json:"rateLimit"`
	Debounce *struct {
		Period string `json:"period"`
		Key    string `json:"key"`
	} `json:"debounce"`
	BatchEvents *struct {
		MaxSize int    `json:"maxSize"`
		Timeout string `json:"timeout"`
		Key     string `json:"key"`
	} `json:"batchEvents"`
	Throttle *struct {
		Limit  int    `json:"limit"`
		Period string `json:"period"`
		Key    string `json:"key"`
	} `json:"throttle"`
	Timeouts *struct {
		Start  string `json:"start"`
		Finish string `json:"finish"`
	} `json:"timeouts"`
}

// failedEvent is the SDKs' name of the event errand calls FailedEvent.
const failedEvent = "inngest/function.failed"

// Functions turns a registration into engine functions run by x.
func (x *Executor) Functions(req *RegisterRequest) ([]*engine.Function, error) {
	app := req.AppName
	if app == "" {
		app = req.AppID
	}
	if len(req.Functions) == 0 && req.URL == "" {
		return nil, fmt.Errorf("the registration has no url and no functions")
	}
	var out []*engine.Function
	for _, c := range req.Functions {
		f := &engine.Function{ID: c.ID, Name: c.Name, App: app, Retries: -1, Idempotency: c.Idempotency, SDK: req.SDK}
		if f.Name == "" {
			f.Name = c.ID
		}
		for _, s := range c.Steps {
			if s.Runtime.URL != "" {
				f.URL = s.Runtime.URL
			}
			if s.Retries != nil && s.Retries.Attempts != nil {
				f.Retries = min(*s.Retries.Attempts, engine.MaxRetries)
			}
		}
		if f.URL == "" {
			return nil, fmt.Errorf("function %s has no step with an http runtime url", c.ID)
		}
		for _, t := range c.Triggers {
			tr := engine.Trigger{Event: t.Event, If: t.Expression, Cron: t.Cron}
			if tr.Event == failedEvent {
				tr.Event = engine.FailedEvent
			}
			f.Triggers = append(f.Triggers, tr)
		}
		conc, err := concurrency(c.Concurrency)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", c.ID, err)
		}
		f.Concurrency = conc
		for _, cc := range c.Cancel {
			co := engine.CancelOn{Event: cc.Event, If: cc.If}
			if cc.Timeout != "" {
				if d, err := ParseDuration(cc.Timeout); err == nil {
					co.Timeout = d
				}
			}
			f.CancelOn = append(f.CancelOn, co)
		}
		if c.Priority != nil {
			f.Priority = c.Priority.Run
		}
		if rl := c.RateLimit; rl != nil {
			d, err := ParseDuration(rl.Period)
			if err != nil {
				return nil, fmt.Errorf("function %s: rateLimit period: %w", c.ID, err)
			}
			f.RateLimit = &engine.RateLimit{Limit: rl.Limit, Period: d, Key: rl.Key}
		}
		if b := c.BatchEvents; b != nil {
			d, err := ParseDuration(b.Timeout)
			if err != nil {
				return nil, fmt.Errorf("function %s: batchEvents timeout: %w", c.ID, err)
			}
			f.Batch = &engine.Batch{MaxSize: b.MaxSize, Timeout: d, Key: b.Key}
		}
		if th := c.Throttle; th != nil {
			d, err := ParseDuration(th.Period)
			if err != nil {
				return nil, fmt.Errorf("function %s: throttle period: %w", c.ID, err)
			}
			f.Throttle = &engine.Throttle{Limit: th.Limit, Period: d, Key: th.Key}
		}
		if db := c.Debounce; db != nil {
			d, err := ParseDuration(db.Period)
			if err != nil {
				return nil, fmt.Errorf("function %s: debounce period: %w", c.ID, err)
			}
			f.Debounce = &engine.Debounce{Period: d, Key: db.Key}
		}
		if c.Timeouts != nil {
			for spec, dst := range map[string]*time.Duration{c.Timeouts.Start: &f.Timeouts.Start, c.Timeouts.Finish: &f.Timeouts.Finish} {
				if spec == "" {
					continue
				}
				d, err := ParseDuration(spec)
				if err != nil {
					return nil, fmt.Errorf("function %s: timeouts: %w", c.ID, err)
				}
				*dst = d
			}
		}
		f.Handler = x.Handler(f)
		out = append(out, f)
	}
	return out, nil
}

// concurrency reads a number, an object or a list of {limit, key, scope}.
func concurrency(raw json.RawMessage) ([]engine.Concurrency, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil, nil
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return []engine.Concurrency{{Limit: n}}, nil
	}
	type one struct {
		Limit int    `json:"limit"`
		Key   string `json:"key"`
		Scope string `json:"scope"`
	}
	var list []one
	if s[0] == '{' {
		var o one
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, fmt.Errorf("concurrency: %w", err)
		}
		list = []one{o}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("concurrency: %w", err)
	}
	out := make([]engine.Concurrency, len(list))
	for i, o := range list {
		out[i] = engine.Concurrency{Limit: o.Limit, Key: o.Key, Scope: o.Scope}
	}
	return out, nil
}
