package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/errand-dev/errand/internal/auth"
	"github.com/errand-dev/errand/internal/store"
	"github.com/errand-dev/errand/internal/wire"
)

func (s *Server) missingKey(w http.ResponseWriter, r *http.Request) {
	writeError(w, s.log, r, errorf("event_key_missing", "event key missing: post events to /e/{eventKey}"))
}

// postEvents accepts one event or an array: POST /e/{key}. The reply is
// Inngest's: {"ids": [...], "status": 200}.
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if len(s.cfg.EventKeys) > 0 && !auth.ConstantTimeIn(key, s.cfg.EventKeys) {
		writeError(w, s.log, r, errorf("event_key_invalid", "the event key in /e/{eventKey} is not valid for this server"))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "text/plain") {
			writeError(w, s.log, r, errorf("unsupported_media_type", "send events as application/json"))
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestSize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, s.log, r, errorf("request_too_large", "the request is larger than "+strconv.Itoa(MaxRequestSize>>20)+" MiB: send fewer events per request"))
			return
		}
		writeError(w, s.log, r, errorf("invalid_json", "could not read the body: "+err.Error()))
		return
	}
	events, err := DecodeEvents(body)
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	for i, ev := range events {
		if err := s.ownEvent(r, ev); err != nil {
			if len(events) > 1 {
				err.Message = "event " + strconv.Itoa(i) + ": " + err.Message
			}
			writeError(w, s.log, r, err)
			return
		}
	}
	if seeds := SeededIDs(r.Header.Get("X-Inngest-Event-Id-Seed"), len(events)); seeds != nil {
		for i, ev := range events {
			if ev.ID == "" {
				ev.ID = seeds[i]
			}
		}
	}
	res, err := s.cfg.Engine.Send(r.Context(), events)
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.EventsReceived(len(events))
	}
	writeJSON(w, http.StatusOK, map[string]any{"ids": res.IDs, "status": http.StatusOK})
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r)
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	evs, err := s.cfg.Store.ListEvents(r.Context(), store.EventFilter{Name: r.URL.Query().Get("name"), Before: r.URL.Query().Get("cursor"), Limit: limit})
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	out := struct {
		Events []*wire.Event `json:"events"`
		Next   string        `json:"next,omitempty"`
	}{Events: make([]*wire.Event, len(evs))}
	for i, e := range evs {
		out.Events[i] = wire.FromEvent(e)
	}
	if len(evs) == limit {
		out.Next = evs[len(evs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) {
	ev, err := s.cfg.Store.GetEvent(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		err = errorf("not_found", "no event with id "+strconv.Quote(r.PathValue("id")))
	}
	if err != nil {
		writeError(w, s.log, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.FromEvent(ev))
}

// secretKeys are field names that hold refresh tokens: never stored.
var secretKeys = []string{"refresh_token", "refreshToken"}

// ownEvent verifies the access token an event may carry in
// user.access_token, makes its user the event's owner, and removes the
// token before anything is stored. Refresh tokens are refused outright.
func (s *Server) ownEvent(r *http.Request, ev *store.Event) *Error {
	var data map[string]json.RawMessage
	if json.Unmarshal(ev.Data, &data) == nil {
		for _, k := range secretKeys {
			if _, ok := data[k]; ok {
				return errorf("refresh_token_in_event", "remove data."+k+" from the event: errand never stores refresh tokens; put the user's access token in user.access_token and the job runs as that user")
			}
		}
	}
	if len(ev.User) == 0 {
		return nil
	}
	var user map[string]json.RawMessage
	if err := json.Unmarshal(ev.User, &user); err != nil {
		return errorf("invalid_event", "user must be a JSON object")
	}
	for _, k := range secretKeys {
		if _, ok := user[k]; ok {
			return errorf("refresh_token_in_event", "remove user."+k+" from the event: errand never stores refresh tokens; user.access_token is enough")
		}
	}
	raw, ok := user["access_token"]
	if !ok {
		return nil
	}
	var tok string
	if json.Unmarshal(raw, &tok) != nil || tok == "" {
		return errorf("invalid_user_token", "user.access_token must be the user's access token (a string)")
	}
	if s.cfg.Auth == nil {
		return errorf("invalid_user_token", "this server has no accounts configured, so it cannot verify user.access_token")
	}
	p, err := s.rv.Token(r.Context(), tok)
	if err != nil {
		return errorf("invalid_user_token", "user.access_token is not valid (expired, logged out or not issued here): sign the user in again")
	}
	delete(user, "access_token")
	delete(user, "expires_at")
	ev.Owner = p.UserID
	if len(user) == 0 {
		ev.User = nil
	} else {
		ev.User, _ = json.Marshal(user)
	}
	return nil
}
