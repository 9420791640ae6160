package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/errand-dev/errand/internal/store"
)

// maxBody bounds every auth request body.
const maxBody = 1 << 20

// Handler serves the Supabase-Auth-compatible API; mount it under /auth/v1
// with http.StripPrefix.
type Handler struct {
	svc *Service
	rv  *Resolver
	mux *http.ServeMux
}

// NewHandler returns the /auth/v1 API.
func NewHandler(svc *Service, rv *Resolver) *Handler {
	h := &Handler{svc: svc, rv: rv, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /signup", h.withKey(h.signup))
	h.mux.HandleFunc("POST /token", h.withKey(h.token))
	h.mux.HandleFunc("GET /user", h.withKey(h.getUser))
	h.mux.HandleFunc("PUT /user", h.withKey(h.putUser))
	h.mux.HandleFunc("POST /logout", h.withKey(h.logout))
	h.mux.HandleFunc("GET /settings", h.withKey(h.settings))
	h.mux.HandleFunc("GET /health", h.health)
	h.mux.HandleFunc("GET /.well-known/jwks.json", h.jwks)
	h.mux.HandleFunc("GET /admin/users", h.withKey(h.admin(h.listUsers)))
	h.mux.HandleFunc("POST /admin/users", h.withKey(h.admin(h.createUser)))
	h.mux.HandleFunc("GET /admin/users/{id}", h.withKey(h.admin(h.getUserByID)))
	h.mux.HandleFunc("PUT /admin/users/{id}", h.withKey(h.admin(h.updateUserByID)))
	h.mux.HandleFunc("DELETE /admin/users/{id}", h.withKey(h.admin(h.deleteUser)))
	return h
}

// ServeHTTP routes, answering unknown routes in GoTrue's error shape.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		writeError(w, r, h.svc.log, errf("not_found", "no such endpoint: "+r.Method+" /auth/v1"+r.URL.Path))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// withKey requires the apikey header (or query parameter) the Supabase
// gateway requires: the anon or service key.
func (h *Handler) withKey(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("apikey")
		if key == "" {
			key = r.URL.Query().Get("apikey")
		}
		if key == "" {
			writeError(w, r, h.svc.log, errf("no_api_key", "No API key found in request: send the anon key in the apikey header"))
			return
		}
		c, err := h.svc.keys.Parse(r.Context(), key)
		if err != nil || c.External || (c.Role != "anon" && c.Role != "service_role") {
			writeError(w, r, h.svc.log, errf("invalid_api_key", "Invalid API key: use the anon or service key errand printed"))
			return
		}
		next(w, r)
	}
}

func (h *Handler) admin(next func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := h.principal(r)
		if err != nil {
			writeError(w, r, h.svc.log, err)
			return
		}
		if !p.IsAdmin() {
			writeError(w, r, h.svc.log, errf("not_admin", "User not allowed: this endpoint needs the service key"))
			return
		}
		next(w, r)
	}
}

// principal resolves the bearer token; no token is no_authorization.
func (h *Handler) principal(r *http.Request) (Principal, error) {
	if _, ok := BearerToken(r); !ok {
		return Principal{}, errf("no_authorization", "This endpoint requires a Bearer token")
	}
	return h.rv.Resolve(r)
}

// decode reads a JSON body into v.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errf("unsupported_media_type", "send the body as application/json")
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errf("request_too_large", fmt.Sprintf("the body is larger than %d bytes", maxBody))
		}
		return errf("bad_json", "Could not read the request body")
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		b = []byte("{}")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errf("bad_json", "Could not parse request body as JSON: "+err.Error())
	}
	return nil
}

// ClientIP is the request's client address, the key of per-address
// sign-in limits.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Handler) signup(w http.ResponseWriter, r *http.Request) {
	var p SignUpParams
	if err := decode(w, r, &p); err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	p.AppMetadata, p.Role, p.BanDuration = nil, "", "" // admin-only fields
	s, err := h.svc.SignUp(r.Context(), ClientIP(r), p)
	if err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	writeJSON(w, r, http.StatusOK, s)
}

func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	var p struct {
		Email        string `json:"email"`
		Password     string `json:"password"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := decode(w, r, &p); err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	var s *Session
	var err error
	switch gt := r.URL.Query().Get("grant_type"); gt {
	case "password":
		s, err = h.svc.SignIn(r.Context(), ClientIP(r), p.Email, p.Password)
	case "refresh_token":
		s, err = h.svc.Refresh(r.Context(), ClientIP(r), p.RefreshToken)
	case "":
		err = errf("validation_failed", "grant_type is required: password or refresh_token")
	default:
		err = errf("unsupported_grant_type", "unsupported grant_type "+strconv.Quote(gt)+": use password or refresh_token")
	}
	if err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	writeJSON(w, r, http.StatusOK, s)
}

// userPrincipal requires a signed-in user (not a key, not a job token).
func (h *Handler) userPrincipal(r *http.Request) (Principal, error) {
	p, err := h.principal(r)
	if err != nil {
		return p, err
	}
	if p.Kind != User {
		return p, errf("bad_jwt", "invalid claim: missing sub claim: this endpoint needs a user's access token")
	}
	return p, nil
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) {
	p, err := h.userPrincipal(r)
	if err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	writeJSON(w, r, http.StatusOK, ToJSON(p.User))
}

func (h *Handler) putUser(w http.ResponseWriter, r *http.Request) {
	p, err := h.userPrincipal(r)
	if err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	if p.Claims.JobID != "" {
		writeError(w, r, h.svc.log, errf("bad_jwt", "a job token cannot change its user"))
		return
	}
	var up UpdateParams
	if err := decode(w, r, &up); err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	u, err := h.svc.Update(r.Context(), p.User, up, false)
	if err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	writeJSON(w, r, http.StatusOK, ToJSON(u))
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	p, err := h.userPrincipal(r)
	if err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	if err := h.svc.Logout(r.Context(), p.Claims, r.URL.Query().Get("scope")); err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) settings(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, map[string]any{
		"external":           map[string]bool{"email": true, "phone": false, "anonymous_users": false},
		"disable_signup":     h.svc.cfg.DisableSignup,
		"mailer_autoconfirm": true,
		"phone_autoconfirm":  false,
		"sms_provider":       "",
		"saml_enabled":       false,
	})
}

func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, map[string]string{"name": "errand", "description": "errand's Supabase-Auth-compatible API"})
}

func (h *Handler) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=600")
	writeJSON(w, r, http.StatusOK, h.svc.keys.JWKS())
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) {
	page, perPage := 1, 50
	for name, dst := range map[string]*int{"page": &page, "per_page": &perPage} {
		if v := r.URL.Query().Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				writeError(w, r, h.svc.log, errf("validation_failed", name+" must be a whole number from 1 to 1000"))
				return
			}
			*dst = n
		}
	}
	users, total, err := h.svc.st.ListUsers(r.Context(), (page-1)*perPage, perPage)
	if err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	out := make([]*UserJSON, len(users))
	for i, u := range users {
		out[i] = ToJSON(u)
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	writeJSON(w, r, http.StatusOK, map[string]any{"users": out, "aud": Audience})
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) {
	var p SignUpParams
	if err := decode(w, r, &p); err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	u, err := h.svc.createUser(r.Context(), p, true)
	if err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	writeJSON(w, r, http.StatusOK, ToJSON(u))
}

func (h *Handler) userByID(w http.ResponseWriter, r *http.Request) (*store.User, bool) {
	u, err := h.svc.st.GetUser(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		err = errf("user_not_found", "User not found")
	}
	if err != nil {
		writeError(w, r, h.svc.log, err)
		return nil, false
	}
	return u, true
}

func (h *Handler) getUserByID(w http.ResponseWriter, r *http.Request) {
	if u, ok := h.userByID(w, r); ok {
		writeJSON(w, r, http.StatusOK, ToJSON(u))
	}
}

func (h *Handler) updateUserByID(w http.ResponseWriter, r *http.Request) {
	u, ok := h.userByID(w, r)
	if !ok {
		return
	}
	var p UpdateParams
	if err := decode(w, r, &p); err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	u, err := h.svc.Update(r.Context(), u, p, true)
	if err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	writeJSON(w, r, http.StatusOK, ToJSON(u))
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) {
	err := h.svc.st.DeleteUser(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		err = errf("user_not_found", "User not found")
	}
	if err != nil {
		writeError(w, r, h.svc.log, err)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{})
}
