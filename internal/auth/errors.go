package auth

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
)

// Error is a GoTrue-style error: a stable code and a message.
type Error struct {
	Code    string
	Msg     string
	Reasons []string // weak_password reasons
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

func errf(code, msg string) *Error { return &Error{Code: code, Msg: msg} }

// Status is the HTTP status the error is answered with.
func (e *Error) Status() int {
	if s := statusOf[e.Code]; s != 0 {
		return s
	}
	return http.StatusBadRequest
}

// statusOf maps every auth error code to its HTTP status, as GoTrue (and
// the Supabase gateway, for the API key) answer them.
var statusOf = map[string]int{
	"validation_failed":          http.StatusBadRequest,
	"bad_json":                   http.StatusBadRequest,
	"invalid_credentials":        http.StatusBadRequest,
	"unsupported_grant_type":     http.StatusBadRequest,
	"refresh_token_not_found":    http.StatusBadRequest,
	"refresh_token_already_used": http.StatusBadRequest,
	"user_banned":                http.StatusBadRequest,
	"no_authorization":           http.StatusUnauthorized,
	"no_api_key":                 http.StatusUnauthorized,
	"invalid_api_key":            http.StatusUnauthorized,
	"bad_jwt":                    http.StatusForbidden,
	"session_not_found":          http.StatusForbidden,
	"not_admin":                  http.StatusForbidden,
	"user_not_found":             http.StatusNotFound,
	"not_found":                  http.StatusNotFound,
	"method_not_allowed":         http.StatusMethodNotAllowed,
	"request_timeout":            http.StatusRequestTimeout,
	"request_too_large":          http.StatusRequestEntityTooLarge,
	"unsupported_media_type":     http.StatusUnsupportedMediaType,
	"user_already_exists":        http.StatusUnprocessableEntity,
	"email_exists":               http.StatusUnprocessableEntity,
	"weak_password":              http.StatusUnprocessableEntity,
	"signup_disabled":            http.StatusUnprocessableEntity,
	"over_request_rate_limit":    http.StatusTooManyRequests,
	"unexpected_failure":         http.StatusInternalServerError,
}

// APIVersionHeader is the header supabase-js sends and reads.
const APIVersionHeader = "X-Supabase-Api-Version"

// writeError answers with err in the shape the client asked for: with
// X-Supabase-Api-Version 2024-01-01, {code, message}; otherwise the legacy
// {code: <status>, error_code, msg}. Unexpected errors are logged once and
// shown as unexpected_failure.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *Error
	if !errors.As(err, &e) {
		log.Error("auth request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = errf("unexpected_failure", "Unexpected failure, please check server logs for more information")
	}
	status := e.Status()
	w.Header().Set("x-sb-error-code", e.Code)
	body := map[string]any{}
	if r.Header.Get(APIVersionHeader) != "" {
		w.Header().Set(APIVersionHeader, "2024-01-01")
		body["code"], body["message"] = e.Code, e.Msg
	} else {
		body["code"], body["error_code"], body["msg"] = status, e.Code, e.Msg
	}
	if e.Code == "weak_password" {
		body["weak_password"] = map[string]any{"reasons": e.Reasons, "message": e.Msg}
	}
	if e.Code == "over_request_rate_limit" {
		w.Header().Set("Retry-After", strconv.Itoa(60))
	}
	writeJSON(w, r, status, body)
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	if r.Header.Get(APIVersionHeader) != "" {
		w.Header().Set(APIVersionHeader, "2024-01-01")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
