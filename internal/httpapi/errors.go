package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/errand-dev/errand/internal/wire"
)

// Error is an error with a stable code that says what went wrong, and a
// message that says how to fix it.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(code, msg string) *Error { return &Error{Code: code, Message: msg} }

// statusOf is the one map from error code to HTTP status.
var statusOf = map[string]int{
	"invalid_json":           http.StatusBadRequest,
	"invalid_event":          http.StatusBadRequest,
	"invalid_parameter":      http.StatusBadRequest,
	"invalid_registration":   http.StatusBadRequest,
	"sync_failed":            http.StatusBadGateway,
	"refresh_token_in_event": http.StatusBadRequest,
	"invalid_user_token":     http.StatusUnauthorized,
	"event_key_missing":      http.StatusUnauthorized,
	"event_key_invalid":      http.StatusUnauthorized,
	"unauthorized":           http.StatusUnauthorized,
	"forbidden":              http.StatusForbidden,
	"session_not_found":      http.StatusForbidden,
	"user_banned":            http.StatusForbidden,
	"user_not_found":         http.StatusUnauthorized,
	"not_found":              http.StatusNotFound,
	"method_not_allowed":     http.StatusMethodNotAllowed,
	"request_too_large":      http.StatusRequestEntityTooLarge,
	"event_too_large":        http.StatusRequestEntityTooLarge,
	"too_many_events":        http.StatusRequestEntityTooLarge,
	"unsupported_media_type": http.StatusUnsupportedMediaType,
	"unavailable":            http.StatusServiceUnavailable,
	"internal":               http.StatusInternalServerError,
}

// writeError replies with err: an *Error as itself, anything else as
// "internal", logged once.
func writeError(w http.ResponseWriter, log *slog.Logger, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = errorf("internal", "internal error; the server log has the details")
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, wire.ErrorBody{Code: e.Code, Message: e.Message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
