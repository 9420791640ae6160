package expr

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestMatch(t *testing.T) {
	ev := json.RawMessage(`{"name":"app/signup","data":{"plan":"pro","user_id":"u1","n":3}}`)
	as := json.RawMessage(`{"name":"app/cancel","data":{"user_id":"u1"}}`)
	cases := []struct {
		src  string
		want bool
	}{
		{"", true},
		{`event.data.plan == "pro"`, true},
		{`event.data.plan == "free"`, false},
		{`event.data.missing == "x"`, false},
		{`event.data.n > 2`, true},
		{`event.data.user_id == async.data.user_id`, true},
		{`"x"`, false},
	}
	for _, c := range cases {
		got, err := Match(c.src, Vars{Event: ev, Async: as})
		if err != nil || got != c.want {
			t.Errorf("Match(%q) = %v, %v; want %v", c.src, got, err, c.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, src := range []string{`event.data.plan ==`, `unknown_var == 1`, string(make([]byte, MaxLen+1))} {
		_, err := Match(src, Vars{})
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Match(%.20q): err = %v, want *Error", src, err)
		}
	}
}

func TestKey(t *testing.T) {
	ev := json.RawMessage(`{"data":{"user_id":"u1","n":3,"o":{"a":1}}}`)
	for src, want := range map[string]string{`event.data.user_id`: "u1", `event.data.n`: "3", `event.data.nope`: "", `event.data.o`: `{"a":1}`} {
		got, err := Key(src, Vars{Event: ev})
		if err != nil || got != want {
			t.Errorf("Key(%q) = %q, %v; want %q", src, got, err, want)
		}
	}
}

func TestCostLimit(t *testing.T) {
	src := `[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, a+b+c+d+e > 0)))))`
	got, err := Match(src, Vars{})
	if err != nil || got {
		t.Fatalf("expensive expression: %v %v (want false: cost limit exceeded)", got, err)
	}
}

func FuzzEval(f *testing.F) {
	f.Add(`event.data.plan == "pro"`, `{"data":{"plan":"pro"}}`)
	f.Add(`event.data.a.b[0] + 1 > async.data.x`, `{"data":{"a":{"b":[1]}}}`)
	f.Add(`size(event.data) == 0`, `[]`)
	f.Fuzz(func(t *testing.T, src, data string) {
		// Never a panic; errors are fine.
		_, _ = Match(src, Vars{Event: json.RawMessage(data), Async: json.RawMessage(data)})
		_, _ = Key(src, Vars{Event: json.RawMessage(data)})
	})
}
