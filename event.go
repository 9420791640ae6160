package errand

import (
	"encoding/json"
	"fmt"

	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/store"
)

// Event is an event with typed data. Name is required; ID, if set, makes
// sending idempotent: an event whose id was seen before triggers nothing.
type Event[T any] struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Data T               `json:"data"`
	User json.RawMessage `json:"user,omitempty"`
	// TS is the event's time in Unix milliseconds; default now.
	TS int64 `json:"ts,omitempty"`
}

// Sendable is anything Send accepts: an Event of any data type.
type Sendable interface {
	storeEvent() (*store.Event, error)
}

func (e Event[T]) storeEvent() (*store.Event, error) {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("encode data of event %q: %w", e.Name, err)
	}
	if string(data) == "null" {
		data = []byte("{}")
	}
	return &store.Event{ID: e.ID, Name: e.Name, Data: data, User: e.User, TS: e.TS}, nil
}

func toStoreEvents(events []Sendable) ([]*store.Event, error) {
	out := make([]*store.Event, len(events))
	for i, e := range events {
		se, err := e.storeEvent()
		if err != nil {
			return nil, err
		}
		out[i] = se
	}
	return out, nil
}

// validEvents converts events and checks their names.
func validEvents(events []Sendable) ([]*store.Event, error) {
	evs, err := toStoreEvents(events)
	if err != nil {
		return nil, err
	}
	for _, ev := range evs {
		if err := engine.ValidEventName(ev.Name); err != nil {
			return nil, err
		}
	}
	return evs, nil
}

func decodeEvent[T any](raw json.RawMessage) (Event[T], error) {
	var ev Event[T]
	if err := json.Unmarshal(raw, &ev); err != nil {
		return ev, fmt.Errorf("decode event into %T: %w", ev.Data, err)
	}
	return ev, nil
}
