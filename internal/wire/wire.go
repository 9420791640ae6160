// Package wire defines the JSON shapes of errand's HTTP API, shared by the
// server and the Go SDK's remote client.
package wire

import (
	"encoding/json"
	"time"

	"github.com/errand-dev/errand/internal/store"
)

// Job is a job as the API shows it.
type Job struct {
	ID              string          `json:"id"`
	Function        string          `json:"function"`
	EventID         string          `json:"event_id,omitempty"`
	Owner           string          `json:"owner,omitempty"`
	Status          store.Status    `json:"status"`
	Attempt         int             `json:"attempt"`
	MaxAttempts     int             `json:"max_attempts"`
	Input           json.RawMessage `json:"input"`
	Output          json.RawMessage `json:"output,omitempty"`
	Error           *Error          `json:"error,omitempty"`
	Progress        float64         `json:"progress"`
	ProgressMessage string          `json:"progress_message,omitempty"`
	ParentJobID     string          `json:"parent_job_id,omitempty"`
	CreatedAt       time.Time       `json:"created_at"`
	StartedAt       *time.Time      `json:"started_at,omitempty"`
	EndedAt         *time.Time      `json:"ended_at,omitempty"`
	UpdatedAt       time.Time       `json:"updated_at"`
}

// Error is a stored error.
type Error struct {
	Name    string `json:"name"`
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}

// Step is a step as the API shows it.
type Step struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	Status    string          `json:"status"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     *Error          `json:"error,omitempty"`
	Attempts  int             `json:"attempts"`
	StartedAt time.Time       `json:"started_at"`
	EndedAt   *time.Time      `json:"ended_at,omitempty"`
	WakeAt    *time.Time      `json:"wake_at,omitempty"`
}

// Event is an event as the API shows it.
type Event struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Data       json.RawMessage `json:"data"`
	TS         int64           `json:"ts"`
	Owner      string          `json:"owner,omitempty"`
	ReceivedAt time.Time       `json:"received_at"`
}

// JobList is a page of jobs; Next is the cursor of the following page.
type JobList struct {
	Jobs []*Job `json:"jobs"`
	Next string `json:"next,omitempty"`
}

func micros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func microsPtr(v int64) *time.Time {
	if v == 0 {
		return nil
	}
	t := micros(v)
	return &t
}

func decodeError(raw json.RawMessage) *Error {
	if len(raw) == 0 {
		return nil
	}
	e := &Error{}
	if json.Unmarshal(raw, e) != nil {
		e.Message = string(raw)
	}
	return e
}

// FromJob converts a stored job.
func FromJob(j *store.Job) *Job {
	return &Job{ID: j.ID, Function: j.FunctionID, EventID: j.EventID, Owner: j.Owner, Status: j.Status,
		Attempt: j.Attempt, MaxAttempts: j.MaxAttempts, Input: j.Input, Output: j.Output, Error: decodeError(j.Error),
		Progress: j.Progress, ProgressMessage: j.ProgressMessage, ParentJobID: j.ParentJobID,
		CreatedAt: micros(j.CreatedAt), StartedAt: microsPtr(j.StartedAt), EndedAt: microsPtr(j.EndedAt), UpdatedAt: micros(j.UpdatedAt)}
}

// FromStep converts a stored step.
func FromStep(s *store.Step) *Step {
	return &Step{ID: s.ID, Name: s.Name, Kind: s.Kind, Status: string(s.Status), Output: s.Output, Error: decodeError(s.Error),
		Attempts: s.Attempts, StartedAt: micros(s.StartedAt), EndedAt: microsPtr(s.EndedAt), WakeAt: microsPtr(s.WakeAt)}
}

// FromEvent converts a stored event.
func FromEvent(e *store.Event) *Event {
	return &Event{ID: e.ID, Name: e.Name, Data: e.Data, TS: e.TS, Owner: e.Owner, ReceivedAt: micros(e.ReceivedAt)}
}

// ErrorBody is the body of every error reply.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
