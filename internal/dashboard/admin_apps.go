package dashboard

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/errand-dev/errand/internal/engine"
)

// appView is an app and its functions, for the functions page.
type appView struct {
	Name, URL string
	Functions []*functionView
}

// functionView is one function's row.
type functionView struct {
	ID, Name, Triggers string
	UpdatedAt          int64
}

func (d *Dashboard) functionsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	fns, err := d.cfg.Store.Functions(r.Context())
	if err != nil {
		d.internal(w, r, v, "functions", err)
		return
	}
	apps := map[string]*appView{}
	for _, f := range fns {
		var cfg struct {
			URL      string           `json:"url"`
			Triggers []engine.Trigger `json:"triggers"`
		}
		_ = json.Unmarshal(f.Config, &cfg)
		var trig []string
		for _, t := range cfg.Triggers {
			switch {
			case t.Cron != "":
				trig = append(trig, "cron "+t.Cron)
			case t.If != "":
				trig = append(trig, t.Event+" if "+t.If)
			default:
				trig = append(trig, t.Event)
			}
		}
		name := f.App
		if name == "" {
			name = "(Go functions)"
		}
		a := apps[name]
		if a == nil {
			a = &appView{Name: name}
			apps[name] = a
		}
		if a.URL == "" && cfg.URL != "" {
			if u, err := url.Parse(cfg.URL); err == nil {
				u.RawQuery = "" // the serve URL, without the function's fnId/step
				a.URL = u.String()
			}
		}
		a.Functions = append(a.Functions, &functionView{ID: f.ID, Name: f.Name, Triggers: strings.Join(trig, ", "), UpdatedAt: f.UpdatedAt})
	}
	list := make([]*appView, 0, len(apps))
	for _, a := range apps {
		list = append(list, a)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	d.render(w, r, v, http.StatusOK, "admin_functions", view{Title: "Functions and apps", Section: "admin_functions",
		Data: struct {
			Apps    []*appView
			CanSync bool
		}{list, d.cfg.Sync != nil}})
}

// syncApp asks an app at its serve URL to register its functions again.
func (d *Dashboard) syncApp(w http.ResponseWriter, r *http.Request, v *viewer) {
	u := strings.TrimSpace(r.PostFormValue("url"))
	if d.cfg.Sync == nil {
		d.fail(w, r, v, http.StatusNotFound, "Syncing is off", "This server does not run functions served over HTTP.")
		return
	}
	if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		d.fail(w, r, v, http.StatusBadRequest, "That is not an app's URL", "Give the app's serve URL, like http://localhost:3000/api/inngest.")
		return
	}
	if err := d.cfg.Sync(r.Context(), u); err != nil {
		d.fail(w, r, v, http.StatusBadGateway, "The app did not sync", err.Error())
		return
	}
	d.redirect(w, r, "/admin/functions", "Synced "+u+".")
}
