package dashboard

import (
	"net/http"
	"strings"

	"github.com/errand-dev/errand/internal/auth"
)

// signInForm is the sign-in and sign-up pages' data.
type signInForm struct {
	Email, Error, Next string
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
	if d.cfg.Auth.SignupDisabled() {
		d.fail(w, r, v, http.StatusForbidden, "Sign-up is off", "This server does not take new accounts; ask its admin for one.")
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
	s, err := d.cfg.Auth.SignIn(r.Context(), auth.ClientIP(r), r.PostFormValue("email"), r.PostFormValue("password"))
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
	if err := d.cfg.Auth.LimitAttempt(auth.ClientIP(r)); err != nil {
		d.authFailed(w, r, v, "signin", err)
		return
	}
	p, err := d.rv.Bearer(r.Context(), key)
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
	s, err := d.cfg.Auth.SignUp(r.Context(), auth.ClientIP(r), auth.SignUpParams{Email: email, Password: pw})
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
