package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/errand-dev/errand"
)

var replayed = regexp.MustCompile(`Replayed as event (\w+): 1 job\(s\) started\.`)

func TestReplayAnEvent(t *testing.T) {
	s := newSite(t, "sqlite")
	ids, err := s.c.Send(context.Background(), errand.Event[Report]{Name: "app/report.requested", Data: Report{Title: "again", Gate: "open"}})
	if err != nil {
		t.Fatal(err)
	}
	s.gates.release("open/start")
	s.gates.release("open/finish")
	admin := newBrowser(t, s.url)
	admin.signInKey(s.svc)
	if p := admin.get("/admin/events"); !strings.Contains(p.body, ids[0]) || !strings.Contains(p.body, `&#34;title&#34;: &#34;again&#34;`) {
		t.Fatalf("the events page does not show the event and its payload:\n%s", p.body)
	}
	p := admin.post("/admin/events/"+ids[0]+"/replay", nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("replay: %d %s", p.status, p.body)
	}
	m := replayed.FindStringSubmatch(admin.get("/admin/events").body)
	if m == nil || m[1] == ids[0] {
		t.Fatalf("no replay message with a new event id")
	}
	jobs, err := s.c.JobsForEvent(context.Background(), m[1])
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs of the replayed event: %v %v", jobs, err)
	}
	// A user cannot replay.
	u := newBrowser(t, s.url)
	u.signUp("u@example.com")
	if p := u.post("/admin/events/"+ids[0]+"/replay", nil); p.status != http.StatusForbidden {
		t.Fatalf("user replay: %d", p.status)
	}
}

func TestResyncAnApp(t *testing.T) {
	s := newSite(t, "sqlite")
	var puts atomic.Int32
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			puts.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer app.Close()
	serve := app.URL + "/api/inngest"
	reg, _ := json.Marshal(map[string]any{"url": serve, "appName": "shop", "sdk": "js:v3.54.2", "v": "0.1", "framework": "express",
		"functions": []any{map[string]any{"id": "shop-send-receipt", "name": "Send receipt",
			"triggers": []any{map[string]any{"event": "shop/order.paid"}},
			"steps": map[string]any{"step": map[string]any{"id": "step", "name": "step",
				"runtime": map[string]any{"type": "http", "url": serve + "?fnId=shop-send-receipt&step=step"}}}}}})
	resp, err := http.Post(s.url+"/fn/register", "application/json", bytes.NewReader(reg))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("register: %d", resp.StatusCode)
	}
	// The API lists the app the same way: GET /v1/apps.
	req, _ := http.NewRequest(http.MethodGet, s.url+"/v1/apps", nil)
	req.Header.Set("Authorization", "Bearer "+s.svc)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var apps struct {
		Apps []struct {
			Name, URL string
			Functions []struct {
				ID       string
				Triggers []struct{ Event string }
			}
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&apps)
	resp.Body.Close()
	var shop bool
	for _, a := range apps.Apps {
		shop = shop || a.Name == "shop" && a.URL == serve && len(a.Functions) == 1 && a.Functions[0].ID == "shop-send-receipt" &&
			len(a.Functions[0].Triggers) == 1 && a.Functions[0].Triggers[0].Event == "shop/order.paid"
	}
	if !shop {
		t.Fatalf("GET /v1/apps: %+v", apps)
	}

	admin := newBrowser(t, s.url)
	admin.signInKey(s.svc)
	p := admin.get("/admin/functions")
	if !strings.Contains(p.body, "Send receipt") || !strings.Contains(p.body, `name="url" value="`+serve+`"`) || !strings.Contains(p.body, "shop/order.paid") {
		t.Fatalf("functions page:\n%s", p.body)
	}
	if p := admin.post("/admin/apps/sync", url.Values{"url": {serve}}); p.status != http.StatusSeeOther || puts.Load() != 1 {
		t.Fatalf("re-sync: %d, %d PUTs", p.status, puts.Load())
	}
	if !strings.Contains(admin.get("/admin/functions").body, "Synced "+serve) {
		t.Fatal("no confirmation")
	}
}
