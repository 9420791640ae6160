package wire

import (
	"encoding/json"
	"net/url"
	"sort"
	"time"

	"github.com/errand-dev/errand/internal/store"
)

// App is an app and the functions it serves: GET /v1/apps.
type App struct {
	// Name is the app's name; "" for functions registered by Go processes.
	Name string `json:"name"`
	// URL is the serve URL of an app synced over HTTP (Inngest protocol),
	// which POST /v1/apps/sync can ask to sync again.
	URL       string         `json:"url,omitempty"`
	Functions []*AppFunction `json:"functions"`
}

// AppFunction is one function of an app.
type AppFunction struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Triggers  []Trigger `json:"triggers"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Trigger starts a function: an event (with an optional CEL filter) or a
// cron schedule.
type Trigger struct {
	Event string `json:"event,omitempty"`
	If    string `json:"if,omitempty"`
	Cron  string `json:"cron,omitempty"`
}

// Apps groups stored functions by app, apps by name and functions by id.
func Apps(fns []*store.Function) []*App {
	byName := map[string]*App{}
	for _, f := range fns {
		var cfg struct {
			URL      string    `json:"url"`
			Triggers []Trigger `json:"triggers"`
		}
		_ = json.Unmarshal(f.Config, &cfg)
		a := byName[f.App]
		if a == nil {
			a = &App{Name: f.App}
			byName[f.App] = a
		}
		if a.URL == "" && cfg.URL != "" {
			if u, err := url.Parse(cfg.URL); err == nil {
				u.RawQuery = "" // the serve URL, without this function's fnId and step
				a.URL = u.String()
			}
		}
		a.Functions = append(a.Functions, &AppFunction{ID: f.ID, Name: f.Name, Triggers: cfg.Triggers, UpdatedAt: micros(f.UpdatedAt)})
	}
	out := make([]*App, 0, len(byName))
	for _, a := range byName {
		sort.Slice(a.Functions, func(i, j int) bool { return a.Functions[i].ID < a.Functions[j].ID })
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
