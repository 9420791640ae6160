package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/errand-dev/errand/internal/auth"
	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/store"
)

// signInForm is the sign-in and sign-up pages' data.
type signInForm struct {
	Email, Error, Next string
	SignupOff          bool
}

func (d *Dashboard) home(w http.ResponseWriter, r *http.Request, v *viewer) {
	switch {
	case v.HasUser():
		d.myJobsPage(w, r, v)
	case v.Admin:
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
	}
}

func (d *Dashboard) signInPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	if v.SignedIn() {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	d.render(w, r, v, http.StatusOK, "signin", view{Title: "Sign in", Section: "signin",
		Data: signInForm{Next: localPath(r.URL.Query().Get("next"))}})
}

func (d *Dashboard) signUpPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	if v.SignedIn() {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	d.render(w, r, v, http.StatusOK, "signup", view{Title: "Create an account", Section: "signup", Data: signInForm{}})
}

// authFailed re-renders a sign-in or sign-up form with the error, keeping
// the email typed (never the password).
func (d *Dashboard) authFailed(w http.ResponseWriter, r *http.Request, v *viewer, page string, err error) {
	status, msg := http.StatusInternalServerError, "Something went wrong on the server; try again."
	if e, ok := auth.IsAuthError(err); ok {
		status, msg = e.Status(), e.Msg
	} else {
		d.log.Error("dashboard: "+page, "err", err)
	}
	title := "Sign in"
	if page == "signup" {
		title = "Create an account"
	}
	d.render(w, r, v, status, page, view{Title: title, Section: page,
		Data: signInForm{Email: r.PostFormValue("email"), Error: msg, Next: localPath(r.PostFormValue("next"))}})
}

func (d *Dashboard) signIn(w http.ResponseWriter, r *http.Request, v *viewer) {
	s, err := d.cfg.Auth.SignIn(r.Context(), clientIP(r), r.PostFormValue("email"), r.PostFormValue("password"))
	if err != nil {
		d.authFailed(w, r, v, "signin", err)
		return
	}
	d.setSession(w, s)
	d.redirect(w, r, localPath(r.PostFormValue("next")), "")
}

// signInKey signs an admin in with the service key (or an admin key). The
// key itself is never stored in the cookie: a service token valid for
// adminKeyAge is.
func (d *Dashboard) signInKey(w http.ResponseWriter, r *http.Request, v *viewer) {
	key := strings.TrimSpace(r.PostFormValue("key"))
	p, err := d.resolve(r.Context(), key)
	if key == "" || err != nil || p.Kind != auth.Admin {
		d.render(w, r, v, http.StatusUnauthorized, "signin", view{Title: "Sign in", Section: "signin",
			Data: signInForm{Error: "That is not the service key nor an admin key of this server.", Next: localPath(r.PostFormValue("next"))}})
		return
	}
	tok, err := d.cfg.Auth.Keys().SignAPIKey("service_role", d.cfg.Now(), adminKeyAge)
	if err != nil {
		d.fail(w, r, v, http.StatusInternalServerError, "Could not sign you in", "Try again.")
		return
	}
	d.setCookie(w, accessCookie, tok, adminKeyAge)
	d.setCookie(w, refreshCookie, "", 0)
	next := localPath(r.PostFormValue("next"))
	if next == "/" {
		next = "/admin"
	}
	d.redirect(w, r, next, "")
}

func (d *Dashboard) signUp(w http.ResponseWriter, r *http.Request, v *viewer) {
	email, pw := r.PostFormValue("email"), r.PostFormValue("password")
	if pw != r.PostFormValue("confirm") {
		d.render(w, r, v, http.StatusBadRequest, "signup", view{Title: "Create an account", Section: "signup",
			Data: signInForm{Email: email, Error: "The two passwords differ; type the same password twice."}})
		return
	}
	s, err := d.cfg.Auth.SignUp(r.Context(), clientIP(r), auth.SignUpParams{Email: email, Password: pw})
	if err != nil {
		d.authFailed(w, r, v, "signup", err)
		return
	}
	d.setSession(w, s)
	d.redirect(w, r, "/", "Welcome! Your account is ready.")
}

// signOut ends this browser's session (scope local) and clears the cookies.
func (d *Dashboard) signOut(w http.ResponseWriter, r *http.Request, v *viewer) {
	if v.Kind == auth.User && v.Claims != nil {
		if err := d.cfg.Auth.Logout(r.Context(), v.Claims, "local"); err != nil {
			d.log.Error("dashboard: sign out", "err", err)
		}
	}
	d.clearSession(w)
	d.redirect(w, r, "/signin", "You are signed out.")
}

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

func (d *Dashboard) cancelJob(w http.ResponseWriter, r *http.Request, v *viewer) {
	if !v.SignedIn() {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	d.cancel(w, r, v, "/")
}

// cancel cancels the job in the path if the viewer may see it, then sends
// them back where the form said (a local path only).
func (d *Dashboard) cancel(w http.ResponseWriter, r *http.Request, v *viewer, back string) {
	j, ok := d.visibleJob(w, r, v)
	if !ok {
		return
	}
	if j.Terminal() {
		d.redirect(w, r, localPath(r.PostFormValue("back")), "Job "+j.ID+" had already ended ("+string(j.Status)+").")
		return
	}
	if _, err := d.cfg.Engine.Cancel(r.Context(), j.ID); err != nil {
		d.log.Error("dashboard: cancel", "err", err)
		d.fail(w, r, v, http.StatusInternalServerError, "The job could not be cancelled", "Try again in a moment.")
		return
	}
	if b := r.PostFormValue("back"); b != "" {
		back = localPath(b)
	}
	d.redirect(w, r, back, "Job "+j.ID+" is cancelled.")
}

// live forwards a live stream or a read of the viewer's job to the API
// with the session's token, so the browser's EventSource (which cannot
// send headers) sees exactly what the API shows that user.
func (d *Dashboard) live(apiPath string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := d.viewer(w, r)
		if !v.SignedIn() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":"unauthorized","message":"sign in first"}` + "\n"))
			return
		}
		tok := v.token
		if v.Admin && v.Kind == auth.User && r.PathValue("id") != "" {
			// An admin user looks at someone's job: the API shows it to
			// the service role only.
			tok = d.serviceToken()
		}
		d.forward(w, r, strings.ReplaceAll(apiPath, "{id}", r.PathValue("id")), tok)
	}
}

// liveAll streams every job's changes to an admin (the admin jobs page).
func (d *Dashboard) liveAll(w http.ResponseWriter, r *http.Request, v *viewer) {
	d.forward(w, r, "/v1/jobs/stream", d.serviceToken())
}

// serviceToken is a service-role token that lives long enough to open a
// stream: the API checks it once, at the start.
func (d *Dashboard) serviceToken() string {
	tok, err := d.cfg.Auth.Keys().SignAPIKey("service_role", d.cfg.Now(), time.Minute)
	if err != nil {
		d.log.Error("dashboard: sign a service token", "err", err)
	}
	return tok
}

// forward serves the request with the API at path, as the bearer of tok.
func (d *Dashboard) forward(w http.ResponseWriter, r *http.Request, path, tok string) {
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = path, ""
	r2.Header.Del("Cookie")
	r2.Header.Set("Authorization", "Bearer "+tok)
	d.cfg.API.ServeHTTP(w, r2)
}
