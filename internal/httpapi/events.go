package httpapi

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

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
	if len(s.cfg.EventKeys) > 0 && !oneOf(key, s.cfg.EventKeys) {
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
