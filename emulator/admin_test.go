package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

type adminPageResp[T any] struct {
	Data  []T
	Links struct{ Self, Prev, Next string }
}

type adminGroupResp struct {
	ID, Name, DirectoryID string
	ExternalSynced        bool
	ManagementAccess      struct{ Modifiable bool }
	Counts                *struct{ Users int }
}

type adminUserResp struct {
	AccountID, Name, Email, AccountStatus, Status, MembershipStatus string
	Groups                                                          []struct{ ID string }
}

func newAdminFixture(t *testing.T) (*bbFixture, []*AdminGroup) {
	t.Helper()
	f := newBBFixture(t, 14)
	var groups []*AdminGroup
	for i := range 25 {
		g := AdminGroup{Name: fmt.Sprintf("team-%02d", i), Members: []string{f.admin.AccountID}}
		if i == 3 {
			g.Members = append(g.Members, f.member.AccountID, f.guest.AccountID)
		}
		g.ExternalSynced = i == 4
		groups = append(groups, f.org.AddAdminGroup(g))
	}
	return f, groups
}

func (f *bbFixture) adminDo(t *testing.T, method, path, body string) (*http.Response, string) {
	t.Helper()
	return f.do(t, method, "/admin/v2/orgs/"+f.org.Admin.OrgID+"/directories/-"+path, "Bearer "+f.adminKey, body)
}

func TestAdminGroupsSearch(t *testing.T) {
	f, groups := newAdminFixture(t)

	// Default limit 20, then the cursor alone continues the search.
	resp, body := f.adminDo(t, "POST", "/groups/search", "")
	p1 := decodeJSON[adminPageResp[adminGroupResp]](t, body)
	if resp.StatusCode != http.StatusOK || len(p1.Data) != 20 || p1.Links.Next == "" || p1.Links.Prev != "" || p1.Data[0].Counts != nil ||
		p1.Data[0].DirectoryID != f.org.Admin.DirectoryID || p1.Data[4].ManagementAccess.Modifiable || !p1.Data[4].ExternalSynced {
		t.Fatalf("first page: %d %s", resp.StatusCode, body)
	}
	_, body = f.adminDo(t, "POST", "/groups/search", `{"cursor":"`+p1.Links.Next+`","searchTerm":"ignored"}`)
	p2 := decodeJSON[adminPageResp[adminGroupResp]](t, body)
	if len(p2.Data) != 5 || p2.Links.Next != "" || p2.Links.Prev == "" || p2.Data[4].ID != groups[24].ID {
		t.Fatalf("second page: %s", body)
	}

	for name, c := range map[string]struct {
		body string
		want []int // indexes into groups
	}{
		"names ignore case": {`{"groupNames":["TEAM-03","team-07"]}`, []int{3, 7}},
		"ids":               {`{"groupIds":["` + groups[9].ID + `"]}`, []int{9}},
		"member":            {`{"accountIds":["` + f.member.AccountID + `"]}`, []int{3}},
		"term with limit":   {`{"searchTerm":"m-2","limit":3}`, []int{20, 21, 22}},
	} {
		resp, body := f.adminDo(t, "POST", "/groups/search", c.body)
		var got []string
		for _, g := range decodeJSON[adminPageResp[adminGroupResp]](t, body).Data {
			got = append(got, g.ID)
		}
		var want []string
		for _, i := range c.want {
			want = append(want, groups[i].ID)
		}
		if resp.StatusCode != http.StatusOK || !slices.Equal(got, want) {
			t.Errorf("%s: %d %v, want %v", name, resp.StatusCode, got, want)
		}
	}
	_, body = f.adminDo(t, "POST", "/groups/search", `{"groupIds":["`+groups[3].ID+`"],"expand":["counts.users"]}`)
	if g := decodeJSON[adminPageResp[adminGroupResp]](t, body).Data; len(g) != 1 || g[0].Counts == nil || g[0].Counts.Users != 3 {
		t.Errorf("counts.users: %s", body)
	}
	for name, b := range map[string]string{
		"names and term": `{"groupNames":["a"],"searchTerm":"b"}`,
		"bad cursor":     `{"cursor":"not-a-cursor"}`,
		"limit":          `{"limit":1000}`,
	} {
		if resp, body := f.adminDo(t, "POST", "/groups/search", b); resp.StatusCode != http.StatusBadRequest ||
			len(decodeJSON[struct{ Errors []any }](t, body).Errors) != 1 {
			t.Errorf("%s: %d %s, want a 400 error list", name, resp.StatusCode, body)
		}
	}
}

func TestAdminUsersSearch(t *testing.T) {
	f, groups := newAdminFixture(t)

	// 16 directory users (the admin, 14 members, the departed user); the guest
	// has no email and is outside the directory.
	var all []adminUserResp
	cursor := ""
	for pages := 0; ; pages++ {
		body := `{"limit":6}`
		if cursor != "" {
			body = `{"cursor":"` + cursor + `"}`
		}
		_, out := f.adminDo(t, "POST", "/users/search", body)
		p := decodeJSON[adminPageResp[adminUserResp]](t, out)
		all = append(all, p.Data...)
		if cursor = p.Links.Next; cursor == "" || pages == 5 {
			break
		}
	}
	if len(all) != 16 || all[0].Email != "admin@acme.com" || all[15].Email != "fay@acme.com" ||
		slices.ContainsFunc(all, func(u adminUserResp) bool { return u.AccountID == f.guest.AccountID }) {
		t.Fatalf("paged users: %d %+v", len(all), all)
	}
	if u := all[0]; u.AccountStatus != "active" || u.Status != "active" || u.MembershipStatus != "active" || u.Name != "Alex Admin" {
		t.Errorf("user fields: %+v", u)
	}

	resp, body := f.adminDo(t, "POST", "/users/search", `{"accountIds":["`+f.member.AccountID+`","`+f.guest.AccountID+`"]}`)
	if us := decodeJSON[adminPageResp[adminUserResp]](t, body).Data; resp.StatusCode != http.StatusOK || len(us) != 1 || us[0].Email != f.member.Email {
		t.Errorf("by account ids: %d %s", resp.StatusCode, body)
	}
	_, body = f.adminDo(t, "POST", "/users/search", `{"emails":["M00@ACME.COM"],"expand":["groups"]}`)
	if us := decodeJSON[adminPageResp[adminUserResp]](t, body).Data; len(us) != 1 || len(us[0].Groups) != 1 || us[0].Groups[0].ID != groups[3].ID {
		t.Errorf("by email with groups: %s", body)
	}

	// Memberships: add, see it through groupIds, remove.
	inGroup := func(g *AdminGroup) []string {
		_, body := f.adminDo(t, "POST", "/users/search", `{"groupIds":["`+g.ID+`"]}`)
		var ids []string
		for _, u := range decodeJSON[adminPageResp[adminUserResp]](t, body).Data {
			ids = append(ids, u.AccountID)
		}
		return ids
	}
	other := f.org.BB.Users[5]
	g := groups[0]
	if resp, body := f.adminDo(t, "POST", "/groups/"+g.ID+"/memberships", `{"accountId":"`+other.AccountID+`"}`); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("add membership: %d %s", resp.StatusCode, body)
	}
	if ids := inGroup(g); !slices.Equal(ids, []string{f.admin.AccountID, other.AccountID}) {
		t.Errorf("after add: %v", ids)
	}
	if resp, _ := f.adminDo(t, "DELETE", "/groups/"+g.ID+"/memberships/"+url.PathEscape(other.AccountID), ""); resp.StatusCode != http.StatusNoContent {
		t.Errorf("remove membership: %d", resp.StatusCode)
	}
	if ids := inGroup(g); !slices.Equal(ids, []string{f.admin.AccountID}) {
		t.Errorf("after remove: %v", ids)
	}
	for name, c := range map[string]struct {
		method, path, body string
		status             int
	}{
		"synced group":  {"POST", "/groups/" + groups[4].ID + "/memberships", `{"accountId":"` + other.AccountID + `"}`, 403},
		"unknown group": {"POST", "/groups/nope/memberships", `{"accountId":"` + other.AccountID + `"}`, 404},
		"outside user":  {"POST", "/groups/" + g.ID + "/memberships", `{"accountId":"` + f.guest.AccountID + `"}`, 404},
		"no account":    {"POST", "/groups/" + g.ID + "/memberships", `{}`, 400},
	} {
		if resp, body := f.adminDo(t, c.method, c.path, c.body); resp.StatusCode != c.status {
			t.Errorf("%s: %d %s, want %d", name, resp.StatusCode, body, c.status)
		}
	}
}

func TestAdminAPITokens(t *testing.T) {
	f := newBBFixture(t, 3)
	o := f.org
	for i, u := range []*BBUser{f.admin, f.member, f.admin, f.departed, f.guest} {
		tok := AdminAPIToken{Label: fmt.Sprintf("token-%d", i), AccountID: u.AccountID, ExpiresAt: bbNow.AddDate(0, 6, 0)}
		if i == 2 {
			tok.Status, tok.LastActiveAt = "revoked", bbNow.Add(-time.Hour)
		}
		o.AddAdminAPIToken(tok)
	}
	path := "/admin/api-access/v1/orgs/" + o.Admin.OrgID + "/api-tokens"
	type token struct {
		ID, Label, Status, CreatedAt, ExpiresAt string
		LastActiveAt                            *string
		User                                    struct{ ID, OrgID, Name, Email string }
		Scopes                                  []string
	}
	var labels []string
	next := path + "?pageSize=2"
	for pages := 0; next != "" && pages < 5; pages++ {
		resp, body := f.do(t, "GET", next, "Bearer "+f.adminKey, "")
		p := decodeJSON[adminPageResp[token]](t, body)
		if resp.StatusCode != http.StatusOK || len(p.Data) > 2 {
			t.Fatalf("page: %d %s", resp.StatusCode, body)
		}
		for _, tk := range p.Data {
			labels = append(labels, tk.Label)
		}
		if pages == 0 {
			if tk := p.Data[0]; tk.User.Email != "admin@acme.com" || tk.User.OrgID != o.Admin.OrgID || tk.Scopes == nil || tk.Status != "ALLOWED" || tk.CreatedAt != "2026-11-26T12:00:00.000Z" || tk.LastActiveAt != nil {
				t.Errorf("token fields: %+v", tk)
			}
		}
		next = ""
		if p.Links.Next != "" {
			next = path + "?cursor=" + url.QueryEscape(p.Links.Next)
		}
	}
	if want := []string{"token-0", "token-1", "token-2", "token-3"}; !slices.Equal(labels, want) {
		t.Errorf("tokens %v, want %v (the guest's token is outside the org)", labels, want)
	}
	_, body := f.do(t, "GET", path+"?status=revoked", "Bearer "+f.adminKey, "")
	if p := decodeJSON[adminPageResp[token]](t, body); len(p.Data) != 1 || p.Data[0].Label != "token-2" || p.Data[0].LastActiveAt == nil {
		t.Errorf("status filter: %s", body)
	}
	_, body = f.do(t, "GET", path+"?status=ALLOWED", "Bearer "+f.adminKey, "")
	if p := decodeJSON[adminPageResp[token]](t, body); len(p.Data) != 3 {
		t.Errorf("status=ALLOWED: %s", body)
	}
	_, body = f.do(t, "GET", path+"?q="+url.QueryEscape("FAY@"), "Bearer "+f.adminKey, "")
	if p := decodeJSON[adminPageResp[token]](t, body); len(p.Data) != 1 || p.Data[0].Label != "token-3" {
		t.Errorf("q filter: %s", body)
	}
}

func TestAdminAuth(t *testing.T) {
	f := newBBFixture(t, 1)
	search := "/admin/v2/orgs/" + f.org.Admin.OrgID + "/directories/-/users/search"
	for name, auth := range map[string]string{"none": "", "wrong key": "Bearer nope", "basic": basic(f.admin)} {
		resp, body := f.do(t, "POST", search, auth, "{}")
		if e := decodeJSON[map[string]any](t, body); resp.StatusCode != http.StatusUnauthorized || e["code"] != float64(401) {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	for _, p := range []string{
		"/admin/v2/orgs/other/directories/-/users/search",
		"/admin/v2/orgs/" + f.org.Admin.OrgID + "/directories/other/users/search",
	} {
		if resp, _ := f.do(t, "POST", p, "Bearer "+f.adminKey, "{}"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	dir := "/admin/v2/orgs/" + f.org.Admin.OrgID + "/directories/" + f.org.Admin.DirectoryID + "/users/search"
	if resp, _ := f.do(t, "POST", dir, "Bearer "+f.adminKey, "{}"); resp.StatusCode != http.StatusOK {
		t.Errorf("explicit directory id: %d", resp.StatusCode)
	}
}
