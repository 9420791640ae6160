package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/store"
)

// myJobs is the "my jobs" page's data.
type myJobs struct {
	Jobs      []*jobView
	Next      string
	Functions []*store.Function
	Function  string // the form's last choice
	Input     string
	Error     string
	// Since is when the list was read (µs): the live stream sends the
	// changes after it. Older pages (Paged) are not live.
	Since int64
	Paged bool
}

func (d *Dashboard) myJobsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	d.renderMyJobs(w, r, v, http.StatusOK, myJobs{Input: "{}"})
}

func (d *Dashboard) renderMyJobs(w http.ResponseWriter, r *http.Request, v *viewer, status int, data myJobs) {
	const pageSize = 50
	data.Since = d.cfg.Now().UnixMicro()
	data.Paged = r.URL.Query().Get("before") != ""
	jobs, err := d.cfg.Store.ListJobs(r.Context(), store.JobFilter{Owner: v.UserID, Before: r.URL.Query().Get("before"), Limit: pageSize})
	if err == nil {
		data.Functions, err = d.cfg.Store.Functions(r.Context())
	}
	if err != nil {
		d.log.Error("dashboard: my jobs", "err", err)
		d.fail(w, r, v, http.StatusInternalServerError, "Your jobs could not be read", "Try again in a moment.")
		return
	}
	now := d.cfg.Now().UnixMicro()
	for _, j := range jobs {
		data.Jobs = append(data.Jobs, newJobView(j, now))
	}
	if len(jobs) == pageSize {
		data.Next = jobs[len(jobs)-1].ID
	}
	d.render(w, r, v, status, "jobs", view{Title: "My jobs", Section: "jobs", Data: data})
}

// startJob starts a function as the signed-in user, like POST /v1/jobs.
func (d *Dashboard) startJob(w http.ResponseWriter, r *http.Request, v *viewer) {
	fn, input := r.PostFormValue("function"), strings.TrimSpace(r.PostFormValue("input"))
	bad := func(msg string) {
		d.renderMyJobs(w, r, v, http.StatusBadRequest, myJobs{Function: fn, Input: input, Error: msg})
	}
	if input == "" {
		input = "{}"
	}
	if fn == "" {
		bad("Choose a function to run.")
		return
	}
	var obj map[string]any
	if dec := json.NewDecoder(strings.NewReader(input)); dec.Decode(&obj) != nil || obj == nil || dec.More() {
		bad(`The input must be one JSON object, like {"report": "monthly"}.`)
		return
	}
	j, err := d.cfg.Engine.StartJob(r.Context(), fn, json.RawMessage(bytes.TrimSpace([]byte(input))), v.UserID)
	if errors.Is(err, engine.ErrUnknownFunction) {
		bad("No function " + fn + " is registered; choose one from the list.")
		return
	}
	if err != nil {
		d.log.Error("dashboard: start job", "err", err)
		d.fail(w, r, v, http.StatusInternalServerError, "The job could not be started", "Try again in a moment.")
		return
	}
	d.redirect(w, r, "/", "Started job "+j.ID+".")
}

// visibleJob reads a job the viewer may see: their own, or any for an
// admin. Another user's job is answered exactly like a missing one.
func (d *Dashboard) visibleJob(w http.ResponseWriter, r *http.Request, v *viewer) (*store.Job, bool) {
	id := r.PathValue("id")
	j, err := d.cfg.Store.GetJob(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !v.Admin && (v.UserID == "" || j.Owner != v.UserID)) {
		d.fail(w, r, v, http.StatusNotFound, "No such job", "Check the link, or find the job on your jobs page.")
		return nil, false
	}
	if err != nil {
		d.log.Error("dashboard: read job", "err", err)
		d.fail(w, r, v, http.StatusInternalServerError, "The job could not be read", "Try again in a moment.")
		return nil, false
	}
	return j, true
}

// jobDetail is the job page's data.
type jobDetail struct {
	Job        *jobView
	Steps      []*stepView
	OwnerEmail string
}

func (d *Dashboard) jobPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	if !v.SignedIn() {
		http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.EscapedPath()), http.StatusSeeOther)
		return
	}
	j, ok := d.visibleJob(w, r, v)
	if !ok {
		return
	}
	steps, err := d.cfg.Store.Steps(r.Context(), j.ID)
	if err != nil {
		d.log.Error("dashboard: steps", "err", err)
		d.fail(w, r, v, http.StatusInternalServerError, "The job's steps could not be read", "Try again in a moment.")
		return
	}
	now := d.cfg.Now().UnixMicro()
	data := jobDetail{Job: newJobView(j, now)}
	for _, s := range steps {
		data.Steps = append(data.Steps, newStepView(s, now))
	}
	if v.Admin && j.Owner != "" {
		if u, err := d.cfg.Auth.User(r.Context(), j.Owner); err == nil {
			data.OwnerEmail = u.Email
		}
	}
	d.render(w, r, v, http.StatusOK, "job", view{Title: "Job " + j.ID, Section: "jobs", Data: data})
}

// cancelJob cancels the job in the path if the viewer may see it, then
// sends them back where the form's "back" says (a local path; default
// "my jobs").
func (d *Dashboard) cancelJob(w http.ResponseWriter, r *http.Request, v *viewer) {
	if !v.SignedIn() {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	j, ok := d.visibleJob(w, r, v)
	if !ok {
		return
	}
	back := localPath(r.PostFormValue("back"))
	if j.Terminal() {
		d.redirect(w, r, back, "Job "+j.ID+" had already ended ("+string(j.Status)+").")
		return
	}
	if _, err := d.cfg.Engine.Cancel(r.Context(), j.ID); err != nil {
		d.log.Error("dashboard: cancel", "err", err)
		d.fail(w, r, v, http.StatusInternalServerError, "The job could not be cancelled", "Try again in a moment.")
		return
	}
	d.redirect(w, r, back, "Job "+j.ID+" is cancelled.")
}
