package dashboard

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/errand-dev/errand/internal/auth"
	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/store"
)

// adminPageSize is the rows of one admin list page.
const adminPageSize = 50

// jobFilters is the admin jobs page's filter form, as submitted.
type jobFilters struct {
	Status, Function, Owner, Since, Q string
}

// sinceChoices are the time filter's options.
var sinceChoices = []struct{ Value, Label string }{
	{"", "any time"}, {"15m", "last 15 minutes"}, {"1h", "last hour"}, {"24h", "last day"}, {"168h", "last week"},
}

// adminJobs is the admin jobs page's data.
type adminJobs struct {
	F         jobFilters
	Jobs      []*jobView
	Next      string // the cursor of the next page, with the filters
	Functions []*store.Function
	Since     []struct{ Value, Label string }
	Error     string
	// Now is when the list was read (µs): rows change live after it.
	Now int64
}

func (d *Dashboard) jobsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	f := jobFilters{Status: q.Get("status"), Function: q.Get("function"), Owner: strings.TrimSpace(q.Get("owner")),
		Since: q.Get("since"), Q: strings.TrimSpace(q.Get("q"))}
	data := adminJobs{F: f, Since: sinceChoices, Now: d.cfg.Now().UnixMicro()}
	var err error
	if data.Functions, err = d.cfg.Store.Functions(r.Context()); err != nil {
		d.internal(w, r, v, "functions", err)
		return
	}
	bad := func(msg string) {
		data.Error = msg
		d.render(w, r, v, http.StatusBadRequest, "admin_jobs", view{Title: "Jobs", Section: "admin_jobs", Data: data})
	}
	filter := store.JobFilter{Status: store.Status(f.Status), FunctionID: f.Function, Before: q.Get("before"), Limit: adminPageSize}
	if f.Status != "" && !filter.Status.Valid() {
		bad("Status must be waiting, running, finished, failed or cancelled.")
		return
	}
	if f.Since != "" {
		dur, err := time.ParseDuration(f.Since)
		if err != nil || dur <= 0 {
			bad("The time filter must be a duration like 15m or 24h.")
			return
		}
		filter.CreatedAfter = d.cfg.Now().Add(-dur).UnixMicro()
	}
	if f.Owner != "" {
		id, ok, err := d.userID(r, f.Owner)
		if err != nil {
			d.internal(w, r, v, "owner", err)
			return
		}
		if !ok {
			bad("No user has the email or id " + strconv.Quote(f.Owner) + ".")
			return
		}
		filter.Owner = id
	}
	var jobs []*store.Job
	switch {
	case f.Q != "":
		// Search: a job id, an event id, or an owner's email.
		jobs, err = d.search(r, f.Q, filter)
	default:
		jobs, err = d.cfg.Store.ListJobs(r.Context(), filter)
	}
	if err != nil {
		d.internal(w, r, v, "jobs", err)
		return
	}
	data.Jobs = d.jobViews(r, jobs)
	if len(jobs) == adminPageSize {
		nq := r.URL.Query()
		nq.Set("before", jobs[len(jobs)-1].ID)
		data.Next = "/admin/jobs?" + nq.Encode()
	}
	d.render(w, r, v, http.StatusOK, "admin_jobs", view{Title: "Jobs", Section: "admin_jobs", Data: data})
}

// search finds jobs by a job id, an event id or an owner's email, within
// the other filters.
func (d *Dashboard) search(r *http.Request, q string, f store.JobFilter) ([]*store.Job, error) {
	if strings.Contains(q, "@") {
		id, ok, err := d.userID(r, q)
		if err != nil || !ok {
			return nil, err
		}
		f.Owner = id
		return d.cfg.Store.ListJobs(r.Context(), f)
	}
	j, err := d.cfg.Store.GetJob(r.Context(), q)
	if err == nil {
		return []*store.Job{j}, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	f.EventID = q
	return d.cfg.Store.ListJobs(r.Context(), f)
}

// userID finds a user by email or id.
func (d *Dashboard) userID(r *http.Request, s string) (string, bool, error) {
	var (
		u   *store.User
		err error
	)
	if strings.Contains(s, "@") {
		u, err = d.cfg.Auth.UserByEmail(r.Context(), s)
	} else {
		u, err = d.cfg.Auth.User(r.Context(), s)
	}
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return u.ID, true, nil
}

// emailCache remembers the owners' emails one page has looked up.
type emailCache map[string]string

// email returns a user's email ("" for none, or a user who is gone).
func (d *Dashboard) email(r *http.Request, c emailCache, userID string) string {
	if userID == "" {
		return ""
	}
	e, ok := c[userID]
	if !ok {
		if u, err := d.cfg.Auth.User(r.Context(), userID); err == nil {
			e = u.Email
		}
		c[userID] = e
	}
	return e
}

// jobViews makes views with the owners' emails.
func (d *Dashboard) jobViews(r *http.Request, jobs []*store.Job) []*jobView {
	emails := emailCache{}
	now := d.cfg.Now().UnixMicro()
	out := make([]*jobView, len(jobs))
	for i, j := range jobs {
		out[i] = newJobView(j, now)
		out[i].OwnerEmail = d.email(r, emails, j.Owner)
	}
	return out
}

func (d *Dashboard) internal(w http.ResponseWriter, r *http.Request, v *viewer, what string, err error) {
	d.log.Error("dashboard: read "+what, "err", err)
	d.fail(w, r, v, http.StatusInternalServerError, "The "+what+" could not be read", "Try again in a moment; the server's log says more.")
}

// retryJob starts the job's function again for a copy of its trigger.
func (d *Dashboard) retryJob(w http.ResponseWriter, r *http.Request, v *viewer) {
	j, err := d.cfg.Engine.Rerun(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		d.fail(w, r, v, http.StatusNotFound, "No such job", "It may have been deleted.")
	case errors.Is(err, engine.ErrNotRerunnable), errors.Is(err, engine.ErrUnknownFunction):
		d.fail(w, r, v, http.StatusConflict, "This job cannot be retried", err.Error())
	case err != nil:
		d.internal(w, r, v, "job", err)
	default:
		d.redirect(w, r, "/jobs/"+url.PathEscape(j.ID), "Retried as job "+j.ID+".")
	}
}

// adminEvents is the events page's data.
type adminEvents struct {
	Name   string
	Events []*eventView
	Next   string
}

// eventView is an event as the events page shows it.
type eventView struct {
	ID, Name, Owner, OwnerEmail, Data, User string
	ReceivedAt                              int64
}

func (d *Dashboard) eventsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	data := adminEvents{Name: strings.TrimSpace(q.Get("name"))}
	evs, err := d.cfg.Store.ListEvents(r.Context(), store.EventFilter{Name: data.Name, Before: q.Get("before"), Limit: adminPageSize})
	if err != nil {
		d.internal(w, r, v, "events", err)
		return
	}
	emails := emailCache{}
	for _, e := range evs {
		data.Events = append(data.Events, &eventView{ID: e.ID, Name: e.Name, Owner: e.Owner, OwnerEmail: d.email(r, emails, e.Owner),
			Data: prettyJSON(e.Data), User: prettyJSON(e.User), ReceivedAt: e.ReceivedAt})
	}
	if len(evs) == adminPageSize {
		nq := r.URL.Query()
		nq.Set("before", evs[len(evs)-1].ID)
		data.Next = "/admin/events?" + nq.Encode()
	}
	d.render(w, r, v, http.StatusOK, "admin_events", view{Title: "Events", Section: "admin_events", Data: data})
}

// replayEvent sends a copy of a stored event (a new id, the same name,
// data and owner), which runs every function it triggers again.
func (d *Dashboard) replayEvent(w http.ResponseWriter, r *http.Request, v *viewer) {
	e, err := d.cfg.Store.GetEvent(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		d.fail(w, r, v, http.StatusNotFound, "No such event", "It may have been deleted.")
		return
	}
	if err != nil {
		d.internal(w, r, v, "event", err)
		return
	}
	res, err := d.cfg.Engine.Send(r.Context(), []*store.Event{{Name: e.Name, Data: e.Data, User: e.User, Owner: e.Owner}})
	if err != nil {
		d.internal(w, r, v, "event", err)
		return
	}
	d.redirect(w, r, "/admin/events", "Replayed as event "+res.IDs[0]+": "+strconv.Itoa(len(res.Jobs))+" job(s) started.")
}

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

// adminUsers is the users page's data.
type adminUsers struct {
	Users      []*userView
	Total      int
	Prev, Next string
}

// userView is a user's row.
type userView struct {
	ID, Email                         string
	CreatedAt, LastSignInAt, BannedAt int64
	Banned, Admin                     bool
}

func (d *Dashboard) usersPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = min(max(page, 1), 1_000_000)
	users, total, err := d.cfg.Auth.Users(r.Context(), (page-1)*adminPageSize, adminPageSize)
	if err != nil {
		d.internal(w, r, v, "users", err)
		return
	}
	now := d.cfg.Now().UnixMicro()
	data := adminUsers{Total: total}
	for _, u := range users {
		data.Users = append(data.Users, &userView{ID: u.ID, Email: u.Email, CreatedAt: u.CreatedAt, LastSignInAt: u.LastSignInAt,
			Banned: u.Banned(now), Admin: isAdminUser(u)})
	}
	if page > 1 {
		data.Prev = "/admin/users?page=" + strconv.Itoa(page-1)
	}
	if page*adminPageSize < total {
		data.Next = "/admin/users?page=" + strconv.Itoa(page+1)
	}
	d.render(w, r, v, http.StatusOK, "admin_users", view{Title: "Users", Section: "admin_users", Data: data})
}

// userAction bans, unbans, deletes, or grants or revokes admin rights.
func (d *Dashboard) userAction(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	u, err := d.cfg.Auth.User(ctx, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || (err != nil && isNotFound(err)) {
		d.fail(w, r, v, http.StatusNotFound, "No such user", "They may have been deleted already.")
		return
	}
	if err != nil {
		d.internal(w, r, v, "user", err)
		return
	}
	self := v.Kind == auth.User && v.UserID == u.ID
	var p auth.UpdateParams
	var msg string
	switch action := r.PathValue("action"); action {
	case "ban":
		p.BanDuration, msg = "876000h", u.Email+" is banned and signed out."
	case "unban":
		p.BanDuration, msg = "none", u.Email+" may sign in again."
	case "grant":
		p.AppMetadata, msg = json.RawMessage(`{"errand_admin": true}`), u.Email+" is an admin."
	case "revoke":
		p.AppMetadata, msg = json.RawMessage(`{"errand_admin": null}`), u.Email+" is no longer an admin."
	case "delete":
		msg = u.Email + " is deleted."
	default:
		d.fail(w, r, v, http.StatusNotFound, "No such action", "Users can be banned, unbanned, deleted, or made admins.")
		return
	}
	if self && r.PathValue("action") != "grant" {
		d.fail(w, r, v, http.StatusConflict, "You cannot do that to yourself", "Ask another admin, or use the service key.")
		return
	}
	if r.PathValue("action") == "delete" {
		err = d.cfg.Auth.DeleteUser(ctx, u.ID)
	} else {
		_, err = d.cfg.Auth.Update(ctx, u, p, true)
		if err == nil && p.BanDuration == "876000h" {
			err = d.cfg.Auth.SignOutEverywhere(ctx, u.ID)
		}
	}
	if err != nil {
		if e, ok := auth.IsAuthError(err); ok {
			d.fail(w, r, v, e.Status(), "That did not work", e.Msg)
			return
		}
		d.internal(w, r, v, "user", err)
		return
	}
	d.redirect(w, r, "/admin/users", msg)
}

func isNotFound(err error) bool {
	e, ok := auth.IsAuthError(err)
	return ok && e.Code == "user_not_found"
}
