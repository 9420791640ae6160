package dashboard

import (
	"encoding/json"

	"github.com/errand-dev/errand/internal/store"
)

// jobView is a job as the pages show it.
type jobView struct {
	ID, Function, Status, Owner, EventID, ParentJobID string
	Attempt, MaxAttempts                              int
	Progress                                          float64
	Message                                           string
	CreatedAt, StartedAt, EndedAt                     int64
	// Duration is the run time so far (running) or in all (ended), µs.
	Duration      int64
	Input, Output string
	// OutputLine is the output on one line, cut short, for lists.
	OutputLine string
	Error      *errorView
	Terminal   bool
	OwnerEmail string // filled by admin pages
}

// errorView is a stored error as {name, message}, or the raw JSON.
type errorView struct{ Name, Message string }

func decodeError(raw json.RawMessage) *errorView {
	if len(raw) == 0 {
		return nil
	}
	var e struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &e) != nil || (e.Name == "" && e.Message == "") {
		return &errorView{Message: string(raw)}
	}
	return &errorView{Name: e.Name, Message: e.Message}
}

func newJobView(j *store.Job, now int64) *jobView {
	v := &jobView{ID: j.ID, Function: j.FunctionID, Status: string(j.Status), Owner: j.Owner, EventID: j.EventID,
		ParentJobID: j.ParentJobID, Attempt: j.Attempt, MaxAttempts: j.MaxAttempts, Progress: j.Progress,
		Message: j.ProgressMessage, CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, EndedAt: j.EndedAt,
		Input: prettyJSON(j.Input), Output: prettyJSON(j.Output), OutputLine: oneLine(j.Output), Error: decodeError(j.Error), Terminal: j.Terminal()}
	switch {
	case j.StartedAt > 0 && j.EndedAt > 0:
		v.Duration = j.EndedAt - j.StartedAt
	case j.StartedAt > 0:
		v.Duration = now - j.StartedAt
	}
	return v
}

// stepView is a step as the job page's timeline shows it.
type stepView struct {
	ID, Name, Kind, Status string
	Attempts               int
	StartedAt, WakeAt      int64
	Duration               int64
	Output                 string
	Error                  *errorView
}

func newStepView(s *store.Step, now int64) *stepView {
	v := &stepView{ID: s.ID, Name: s.Name, Kind: s.Kind, Status: string(s.Status), Attempts: s.Attempts,
		StartedAt: s.StartedAt, WakeAt: s.WakeAt, Output: prettyJSON(s.Output), Error: decodeError(s.Error)}
	if v.Name == "" {
		v.Name = s.ID
	}
	if s.EndedAt > 0 {
		v.Duration = s.EndedAt - s.StartedAt
	} else if s.StartedAt > 0 {
		v.Duration = now - s.StartedAt
	}
	return v
}
