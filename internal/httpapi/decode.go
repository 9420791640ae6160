package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"

	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/store"
)

// Limits on what POST /e/{key} accepts.
const (
	MaxEventSize     = 3 << 20  // bytes of one event's JSON
	MaxEventsPerCall = 5000     // events in one request
	MaxRequestSize   = 16 << 20 // bytes of one request body
)

// inEvent is an event as senders post it (the Inngest event shape).
type inEvent struct {
	ID   string          `json:"id"`
	Name string          `json:"name"`
	Data json.RawMessage `json:"data"`
	User json.RawMessage `json:"user"`
	TS   json.Number     `json:"ts"`
	V    string          `json:"v"`
}

// DecodeEvents parses the body of POST /e/{key}: one event object or an
// array of them. Every event is checked; the first problem is returned
// and nothing is accepted.
func DecodeEvents(body []byte) ([]*store.Event, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errorf("invalid_json", "the body is empty: send one event {\"name\": ..., \"data\": {...}} or an array of them")
	}
	if !utf8.Valid(body) {
		return nil, errorf("invalid_json", "the body is not valid UTF-8")
	}
	var raws []json.RawMessage
	if body[0] == '[' {
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, errorf("invalid_json", "the body is not a JSON array of events: "+err.Error())
		}
		if len(raws) == 0 {
			return nil, errorf("invalid_event", "the array holds no events: send at least one")
		}
	} else {
		raws = []json.RawMessage{body}
	}
	if len(raws) > MaxEventsPerCall {
		return nil, errorf("too_many_events", fmt.Sprintf("%d events in one request; send at most %d per request", len(raws), MaxEventsPerCall))
	}
	out := make([]*store.Event, len(raws))
	for i, raw := range raws {
		ev, err := decodeOne(raw, i, len(raws) > 1 || body[0] == '[')
		if err != nil {
			return nil, err
		}
		out[i] = ev
	}
	return out, nil
}

func decodeOne(raw json.RawMessage, i int, many bool) (*store.Event, error) {
	where := "the event"
	if many {
		where = fmt.Sprintf("event %d", i)
	}
	if len(raw) > MaxEventSize {
		return nil, errorf("event_too_large", fmt.Sprintf("%s is %d bytes; the limit is %d bytes (3 MiB) per event", where, len(raw), MaxEventSize))
	}
	var in inEvent
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return nil, errorf("invalid_json", fmt.Sprintf("%s is not a JSON object with name and data: %v", where, err))
	}
	if err := engine.ValidEventName(in.Name); err != nil {
		return nil, errorf("invalid_event", where+": "+err.Error())
	}
	data := bytes.TrimSpace(in.Data)
	if len(data) == 0 || string(data) == "null" {
		data = []byte("{}")
	} else if data[0] != '{' {
		return nil, errorf("invalid_event", where+": data must be a JSON object, like {\"user_id\": \"...\"}")
	}
	user := bytes.TrimSpace(in.User)
	if string(user) == "null" {
		user = nil
	} else if len(user) > 0 && user[0] != '{' {
		return nil, errorf("invalid_event", where+": user must be a JSON object")
	}
	if len(in.ID) > 256 {
		return nil, errorf("invalid_event", where+": id is longer than 256 bytes")
	}
	ev := &store.Event{ID: in.ID, Name: in.Name, Data: json.RawMessage(data), User: json.RawMessage(user)}
	if in.TS != "" {
		ts, err := in.TS.Int64()
		if err != nil || ts < 0 {
			return nil, errorf("invalid_event", where+": ts must be a non-negative integer of Unix milliseconds")
		}
		ev.TS = ts
	}
	return ev, nil
}

// SeededIDs derives event ids from an x-inngest-event-id-seed header
// ("<unix millis>,<base64 of 10 random bytes>"): event i gets the ULID with
// that time and the entropy plus i, so a retried request yields the same
// ids and its events are recognised as seen. A malformed header yields nil.
func SeededIDs(header string, n int) []string {
	ms, b64, ok := strings.Cut(header, ",")
	if !ok {
		return nil
	}
	t, err := strconv.ParseUint(strings.TrimSpace(ms), 10, 64)
	if err != nil || t > ulid.MaxTime() {
		return nil
	}
	entropy, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(entropy) != 10 {
		return nil
	}
	base := new(big.Int).SetBytes(entropy)
	mod := new(big.Int).Lsh(big.NewInt(1), 80)
	ids := make([]string, n)
	for i := range n {
		e := new(big.Int).Add(base, big.NewInt(int64(i)))
		e.Mod(e, mod)
		var buf [10]byte
		e.FillBytes(buf[:])
		var id ulid.ULID
		_ = id.SetTime(t)
		_ = id.SetEntropy(buf[:])
		ids[i] = id.String()
	}
	return ids
}
