package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/errand-dev/errand/internal/store"
)

// allStatuses are the job statuses in their order of life.
var allStatuses = []store.Status{store.StatusWaiting, store.StatusRunning, store.StatusFinished, store.StatusFailed, store.StatusCancelled}

// pageTemplate is one page: the layout plus the page's own blocks.
type pageTemplate struct{ t *template.Template }

var funcs = template.FuncMap{
	"pct":      func(f float64) int { return int(f*100 + 0.5) },
	"add1":     func(n int) int { return n + 1 },
	"triggers": triggers,
	"micros":   formatMicros,
	"time":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"duration": formatDuration,
	"json":     prettyJSON,
	"row": func(j *jobView, csrf string, admin bool) map[string]any {
		return map[string]any{"J": j, "CSRF": csrf, "Admin": admin}
	},
	"statuses": func() []store.Status { return allStatuses },
}

func mustParsePages() map[string]*pageTemplate {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*pageTemplate{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || strings.HasPrefix(base, "_") {
			continue
		}
		t, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html", n)
		if err != nil {
			panic(fmt.Sprintf("dashboard template %s: %v", n, err))
		}
		out[base] = &pageTemplate{t: t}
	}
	return out
}

// view is what every page's template gets.
type view struct {
	Title string
	V     *viewer
	CSRF  string
	Flash string
	// Section marks the current item of the navigation.
	Section string
	// SignupOff hides the links to sign up.
	SignupOff bool
	Data      any
}

// render writes a page with the status. It renders into a buffer first so
// a template error is a clean 500, never half a page.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, v *viewer, status int, name string, vw view) {
	pt, ok := pages[name]
	if !ok {
		d.log.Error("dashboard: no template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	vw.V = v
	if vw.V == nil {
		vw.V = &viewer{}
	}
	vw.CSRF = d.csrfToken(w, r)
	vw.SignupOff = d.cfg.Auth.SignupDisabled()
	if f := d.cookie(r, flashCookie); f != "" && vw.Flash == "" {
		vw.Flash = f
		d.setCookie(w, flashCookie, "", 0)
	}
	var buf bytes.Buffer
	if err := pt.t.ExecuteTemplate(&buf, "layout", vw); err != nil {
		d.log.Error("dashboard: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// problem is the body of the error page.
type problem struct{ Title, Hint string }

// fail answers with the error page: a title saying what went wrong and a
// hint saying how to fix it.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, v *viewer, status int, title, hint string) {
	d.render(w, r, v, status, "error", view{Title: title, Data: problem{title, hint}})
}

// redirect answers a form with 303 to the page to show next, with a
// one-time message for it.
func (d *Dashboard) redirect(w http.ResponseWriter, r *http.Request, to, flash string) {
	if flash != "" {
		d.setCookie(w, flashCookie, flash, time.Minute)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func formatMicros(us int64) string {
	if us == 0 {
		return ""
	}
	return time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05")
}

// formatDuration shows a duration in µs the way people read them.
func formatDuration(us int64) string {
	d := time.Duration(us) * time.Microsecond
	switch {
	case us <= 0:
		return ""
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
}

// prettyJSON indents stored JSON for display, cut at 64 KiB.
func prettyJSON(raw json.RawMessage) string { return showJSON(raw, "  ", 64<<10) }

// oneLine shows stored JSON on one line, cut at 200 bytes, for lists.
func oneLine(raw json.RawMessage) string { return showJSON(raw, "", 200) }

// showJSON re-encodes stored JSON for people: indented or on one line,
// with strings as written (Go's encoder stores "<" as \u003c, which reads
// badly; the template escapes what it shows anyway), cut at max bytes.
func showJSON(raw json.RawMessage, indent string, max int) string {
	if len(raw) == 0 {
		return ""
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if dec.Decode(&v) != nil || enc.Encode(v) != nil {
		b.Reset()
		b.Write(raw)
	}
	out := strings.TrimRight(b.String(), "\n")
	if len(out) > max {
		return strings.ToValidUTF8(out[:max], "") + "…"
	}
	return out
}
