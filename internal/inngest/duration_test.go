package inngest

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"1s": time.Second, "1h30m": 90 * time.Minute, "2d": 48 * time.Hour,
		"1w": 168 * time.Hour, "500ms": 500 * time.Millisecond, "1m1ms": time.Minute + time.Millisecond, "1500": 1500 * time.Millisecond} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "h", "1x", "1h-"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	f.Add("1h30m")
	f.Add("2024-01-01T00:00:00Z")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseTime(s, time.Unix(0, 0))
	})
}

func TestVerifySignature(t *testing.T) {
	key := "signkey-prod-abcdef"
	body := []byte(`{"a":1}`)
	now := time.Unix(1700000000, 0)
	good := Sign(body, key, now)
	if !verify(body, good, key, now.Add(time.Minute)) {
		t.Fatal("a good signature was refused")
	}
	for name, c := range map[string]struct {
		body []byte
		sig  string
		at   time.Time
	}{
		"tampered body": {[]byte(`{"a":2}`), good, now},
		"expired":       {body, good, now.Add(6 * time.Minute)},
		"other key":     {body, Sign(body, "signkey-prod-000000", now), now},
		"garbage":       {body, "t=x&s=y", now},
		"missing":       {body, "", now},
	} {
		if verify(c.body, c.sig, key, c.at) {
			t.Errorf("%s accepted", name)
		}
	}
}
