package dashboard

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/errand-dev/errand/internal/wire"
)

func (d *Dashboard) functionsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	fns, err := d.cfg.Store.Functions(r.Context())
	if err != nil {
		d.internal(w, r, v, "functions", err)
		return
	}
	d.render(w, r, v, http.StatusOK, "admin_functions", view{Title: "Functions and apps", Section: "admin_functions",
		Data: struct {
			Apps    []*wire.App
			CanSync bool
		}{wire.Apps(fns), d.cfg.Sync != nil}})
}

// triggers shows a function's triggers on one line.
func triggers(ts []wire.Trigger) string {
	var out []string
	for _, t := range ts {
		switch {
		case t.Cron != "":
			out = append(out, "cron "+t.Cron)
		case t.If != "":
			out = append(out, t.Event+" if "+t.If)
		default:
			out = append(out, t.Event)
		}
	}
	return strings.Join(out, ", ")
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
