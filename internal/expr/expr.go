// Package expr evaluates the CEL expressions functions are configured with:
// trigger filters (`event.data.plan == "pro"`), waitForEvent and cancel-on
// matches (`event.data.id == async.data.id`) and concurrency keys
// (`event.data.user_id`). Compiled programs are cached; every evaluation
// has a cost limit so a hostile expression cannot spin.
package expr

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// MaxLen is the longest expression accepted.
const MaxLen = 4096

// costLimit bounds the work of one evaluation.
const costLimit = 100_000

// maxCached bounds the compiled programs kept: expressions come from
// function configurations, so a few hundred is typical; past the bound,
// programs are compiled each time rather than held forever.
const maxCached = 10_000

var (
	envOnce sync.Once
	env     *cel.Env
	envErr  error
	cache   sync.Map // string → cel.Program
	cached  atomic.Int64
)

func celEnv() (*cel.Env, error) {
	envOnce.Do(func() {
		env, envErr = cel.NewEnv(
			cel.Variable("event", cel.DynType),
			cel.Variable("async", cel.DynType),
			cel.Variable("events", cel.ListType(cel.DynType)),
		)
	})
	return env, envErr
}

// Error is a compile error in an expression, for users to fix.
type Error struct {
	Expr string
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("invalid expression %q: %s", e.Expr, e.Msg) }

// Compile checks an expression and caches its program.
func Compile(src string) (cel.Program, error) {
	if p, ok := cache.Load(src); ok {
		return p.(cel.Program), nil
	}
	if len(src) > MaxLen {
		return nil, &Error{Expr: src[:64] + "…", Msg: fmt.Sprintf("longer than %d bytes", MaxLen)}
	}
	e, err := celEnv()
	if err != nil {
		return nil, err
	}
	ast, iss := e.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, &Error{Expr: src, Msg: iss.Err().Error()}
	}
	p, err := e.Program(ast, cel.CostLimit(costLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, &Error{Expr: src, Msg: err.Error()}
	}
	if cached.Load() < maxCached {
		if _, loaded := cache.LoadOrStore(src, p); !loaded {
			cached.Add(1)
		}
	}
	return p, nil
}

// Vars are the values an expression sees: event (the triggering event),
// async (the incoming event, for waits and cancel-on).
type Vars struct {
	Event json.RawMessage
	Async json.RawMessage
}

func decode(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return map[string]any{}, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("decode expression input: %w", err)
	}
	return v, nil
}

// Eval runs an expression and returns its value as a Go value.
func Eval(src string, vars Vars) (any, error) {
	p, err := Compile(src)
	if err != nil {
		return nil, err
	}
	ev, err := decode(vars.Event)
	if err != nil {
		return nil, err
	}
	as, err := decode(vars.Async)
	if err != nil {
		return nil, err
	}
	out, _, err := p.Eval(map[string]any{"event": ev, "async": as, "events": []any{}})
	if err != nil {
		return nil, fmt.Errorf("evaluate %q: %w", src, err)
	}
	return native(out), nil
}

func native(v ref.Val) any {
	if v.Type() == types.NullType {
		return nil
	}
	return v.Value()
}

// Match evaluates a boolean expression. An empty expression matches; an
// expression that errors at run time (a missing field) or yields a
// non-bool does not.
func Match(src string, vars Vars) (bool, error) {
	if src == "" {
		return true, nil
	}
	if _, err := Compile(src); err != nil {
		return false, err
	}
	v, err := Eval(src, vars)
	if err != nil {
		return false, nil
	}
	b, ok := v.(bool)
	return ok && b, nil
}

// Key evaluates a concurrency key expression to the string it partitions
// by. A missing field yields "" (its own partition).
func Key(src string, vars Vars) (string, error) {
	if _, err := Compile(src); err != nil {
		return "", err
	}
	v, err := Eval(src, vars)
	if err != nil || v == nil {
		return "", nil
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case float64, int64, uint64, bool:
		return fmt.Sprint(x), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v), nil
	}
	return string(b), nil
}
