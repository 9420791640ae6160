package dashboard

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzLocalPath: whatever "next" a sign-in form carries, the redirect
// stays on this site.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/", "/jobs/1", "//evil.example", "/\\evil", "https://x", "/%2F%2Fevil", "/\t/evil", " /x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		p := localPath(next)
		if p != "/" && p != next {
			t.Fatalf("localPath(%q) = %q: neither the input nor /", next, p)
		}
		u, err := url.Parse(p)
		if err != nil {
			if p != "/" {
				t.Fatalf("localPath(%q) = %q does not parse: %v", next, p, err)
			}
			return
		}
		if u.Host != "" || u.Scheme != "" || !strings.HasPrefix(p, "/") {
			t.Fatalf("localPath(%q) = %q leaves the site (host %q, scheme %q)", next, p, u.Host, u.Scheme)
		}
		// Browsers treat backslashes and tabs or newlines in URLs loosely.
		if strings.ContainsAny(p, "\\\t\r\n") || strings.HasPrefix(p, "//") {
			t.Fatalf("localPath(%q) = %q", next, p)
		}
	})
}
