package inngest

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"
)

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		`{"b": 1, "a": [1.0, 2.50, 1e21, 0.0000001, -0], "c": "é<>&\u2028\n"}`: `{"a":[1,2.5,1e+21,1e-7,0],"b":1,"c":"é<>&` + "\u2028" + `\n"}`,
		`{"\u20ac":1,"\r":2,"1":3,"\ud83d\ude00":4,"\u0080":5}`:                `{"\r":2,"1":3,"` + "\u0080" + `":5,"€":1,"` + "😀" + `":4}`,
		`[null,true,false,"a\"b\\c"]`:                                          `[null,true,false,"a\"b\\c"]`,
	} {
		got, err := Canonical([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("Canonical(%s) = %s, %v\n want %s", in, got, err, want)
		}
	}
}

func TestSignAndHash(t *testing.T) {
	key := "signkey-test-12345678"
	if got := Sign([]byte(`{"a":1}`), key, unix(1700000000)); got[:13] != "t=1700000000&" || len(got) != 13+2+64 {
		t.Fatalf("signature %s", got)
	}
	h, err := HashedSigningKey("signkey-prod-0a0b")
	if err != nil || h != "signkey-prod-"+sha256hex([]byte{0x0a, 0x0b}) {
		t.Fatalf("hashed key %s %v", h, err)
	}
}

func unix(s int64) time.Time { return time.Unix(s, 0) }

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func FuzzCanonical(f *testing.F) {
	f.Add([]byte(`{"b":1,"a":[1.5,"x",null,true]}`))
	f.Add([]byte(`"\u2028"`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Canonical(in)
		if err != nil {
			return
		}
		// Canonical output is canonical.
		again, err := Canonical(out)
		if err != nil || string(again) != string(out) {
			t.Fatalf("not idempotent: %s → %s (%v)", out, again, err)
		}
	})
}
