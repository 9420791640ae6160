package dashboard

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/errand-dev/errand/internal/store"
)

// adminEvents is the events page's data.
type adminEvents struct {
	Name   string
	Events []*eventView
	Next   string
}

// eventView is an event as the events page shows it.
type eventView struct {
	ID, Name, Owner, OwnerEmail, Data, User string
	ReceivedAt                              int64
}

func (d *Dashboard) eventsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	data := adminEvents{Name: strings.TrimSpace(q.Get("name"))}
	evs, err := d.cfg.Store.ListEvents(r.Context(), store.EventFilter{Name: data.Name, Before: q.Get("before"), Limit: adminPageSize})
	if err != nil {
		d.internal(w, r, v, "events", err)
		return
	}
	emails := emailCache{}
	for _, e := range evs {
		data.Events = append(data.Events, &eventView{ID: e.ID, Name: e.Name, Owner: e.Owner, OwnerEmail: d.email(r, emails, e.Owner),
			Data: prettyJSON(e.Data), User: prettyJSON(e.User), ReceivedAt: e.ReceivedAt})
	}
	if len(evs) == adminPageSize {
		nq := r.URL.Query()
		nq.Set("before", evs[len(evs)-1].ID)
		data.Next = "/admin/events?" + nq.Encode()
	}
	d.render(w, r, v, http.StatusOK, "admin_events", view{Title: "Events", Section: "admin_events", Data: data})
}

// replayEvent sends a copy of a stored event (a new id, the same name,
// data and owner), which runs every function it triggers again.
func (d *Dashboard) replayEvent(w http.ResponseWriter, r *http.Request, v *viewer) {
	e, err := d.cfg.Store.GetEvent(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		d.fail(w, r, v, http.StatusNotFound, "No such event", "It may have been deleted.")
		return
	}
	if err != nil {
		d.internal(w, r, v, "event", err)
		return
	}
	res, err := d.cfg.Engine.Send(r.Context(), []*store.Event{{Name: e.Name, Data: e.Data, User: e.User, Owner: e.Owner}})
	if err != nil {
		d.internal(w, r, v, "event", err)
		return
	}
	d.redirect(w, r, "/admin/events", "Replayed as event "+res.IDs[0]+": "+strconv.Itoa(len(res.Jobs))+" job(s) started.")
}
