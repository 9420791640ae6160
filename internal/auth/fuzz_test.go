package auth

import (
	"context"
	"strings"
	"testing"
	"time"
)

func FuzzParseToken(f *testing.F) {
	keys, err := NewKeys(KeyConfig{Secret: strings.Repeat("s", 32)})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := keys.SignAPIKey("anon", time.Now(), time.Hour)
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		// Only the one token signed here can verify: anything accepted
		// must carry exactly its claims.
		c, err := keys.Parse(context.Background(), raw)
		if err == nil && (c.Role != "anon" || c.Subject != "" || c.Issuer != "errand") {
			t.Fatalf("forged token accepted: %q → %+v", raw, c)
		}
	})
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ada@example.com", " A@B.CO ", "bób@x.com", "a@b", "@x.com", "a@@b.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, err := normalizeEmail(in)
		if err != nil {
			return
		}
		if strings.Count(e, "@") != 1 || e != strings.ToLower(e) || len(e) > 255 {
			t.Fatalf("accepted %q as %q", in, e)
		}
		for _, r := range e {
			if r <= ' ' || r >= 0x7f {
				t.Fatalf("accepted a non-printable or non-ASCII email %q", e)
			}
		}
	})
}
