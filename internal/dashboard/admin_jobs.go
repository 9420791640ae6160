package dashboard

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

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
	// Filtered: a filter, a search or an older page is shown, so new jobs
	// are not inserted live (they may not belong).
	Filtered bool
}

func (d *Dashboard) jobsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	f := jobFilters{Status: q.Get("status"), Function: q.Get("function"), Owner: strings.TrimSpace(q.Get("owner")),
		Since: q.Get("since"), Q: strings.TrimSpace(q.Get("q"))}
	data := adminJobs{F: f, Since: sinceChoices, Now: d.cfg.Now().UnixMicro(),
		Filtered: f != (jobFilters{}) || q.Get("before") != ""}
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
