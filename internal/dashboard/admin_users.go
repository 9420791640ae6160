package dashboard

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/errand-dev/errand/internal/auth"
	"github.com/errand-dev/errand/internal/store"
)

// adminUsers is the users page's data.
type adminUsers struct {
	Users      []*userView
	Total      int
	Prev, Next string
}

// userView is a user's row.
type userView struct {
	ID, Email                         string
	CreatedAt, LastSignInAt, BannedAt int64
	Banned, Admin                     bool
}

func (d *Dashboard) usersPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = min(max(page, 1), 1_000_000)
	users, total, err := d.cfg.Auth.Users(r.Context(), (page-1)*adminPageSize, adminPageSize)
	if err != nil {
		d.internal(w, r, v, "users", err)
		return
	}
	now := d.cfg.Now().UnixMicro()
	data := adminUsers{Total: total}
	for _, u := range users {
		data.Users = append(data.Users, &userView{ID: u.ID, Email: u.Email, CreatedAt: u.CreatedAt, LastSignInAt: u.LastSignInAt,
			Banned: u.Banned(now), Admin: isAdminUser(u)})
	}
	if page > 1 {
		data.Prev = "/admin/users?page=" + strconv.Itoa(page-1)
	}
	if page*adminPageSize < total {
		data.Next = "/admin/users?page=" + strconv.Itoa(page+1)
	}
	d.render(w, r, v, http.StatusOK, "admin_users", view{Title: "Users", Section: "admin_users", Data: data})
}

// userAction bans, unbans, deletes, or grants or revokes admin rights.
func (d *Dashboard) userAction(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	u, err := d.cfg.Auth.User(ctx, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		d.fail(w, r, v, http.StatusNotFound, "No such user", "They may have been deleted already.")
		return
	}
	if err != nil {
		d.internal(w, r, v, "user", err)
		return
	}
	self := v.Kind == auth.User && v.UserID == u.ID
	var p auth.UpdateParams
	var msg string
	switch action := r.PathValue("action"); action {
	case "ban":
		p.BanDuration, msg = "876000h", u.Email+" is banned and signed out."
	case "unban":
		p.BanDuration, msg = "none", u.Email+" may sign in again."
	case "grant":
		p.AppMetadata, msg = json.RawMessage(`{"errand_admin": true}`), u.Email+" is an admin."
	case "revoke":
		p.AppMetadata, msg = json.RawMessage(`{"errand_admin": null}`), u.Email+" is no longer an admin."
	case "delete":
		msg = u.Email + " is deleted."
	default:
		d.fail(w, r, v, http.StatusNotFound, "No such action", "Users can be banned, unbanned, deleted, or made admins.")
		return
	}
	if self && r.PathValue("action") != "grant" {
		d.fail(w, r, v, http.StatusConflict, "You cannot do that to yourself", "Ask another admin, or use the service key.")
		return
	}
	if r.PathValue("action") == "delete" {
		err = d.cfg.Auth.DeleteUser(ctx, u.ID)
	} else {
		_, err = d.cfg.Auth.Update(ctx, u, p, true)
		if err == nil && p.BanDuration == "876000h" {
			err = d.cfg.Auth.SignOutEverywhere(ctx, u.ID)
		}
	}
	if err != nil {
		if e, ok := auth.IsAuthError(err); ok {
			d.fail(w, r, v, e.Status(), "That did not work", e.Msg)
			return
		}
		d.internal(w, r, v, "user", err)
		return
	}
	d.redirect(w, r, "/admin/users", msg)
}
