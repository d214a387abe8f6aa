package emulator

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// bbFixture is a small organisation for the Bitbucket and Admin tests.
type bbFixture struct {
	org                         *Org
	mu                          sync.Mutex
	seen                        bytes.Buffer // every response header and body served
	srv                         *httptest.Server
	admin, member, departed     *BBUser
	guest                       *BBUser // in the workspace, outside the Atlassian org
	repo                        *BBRepo
	prod                        *BBEnvironment
	secured, deploySecured      *BBVariable
	bearer, adminKey, secretVal string
}

var bbNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// newBBFixture builds the organisation and serves it; members counts the
// plain workspace members besides the admin.
func newBBFixture(t *testing.T, members int) *bbFixture {
	t.Helper()
	o := NewOrg(func() time.Time { return bbNow })
	o.BB.Workspace = BBWorkspace{UUID: "{" + uuidFrom("ws") + "}", Slug: "acme", Name: "Acme", CreatedOn: bbNow.AddDate(-2, 0, 0)}
	o.Admin.OrgID, o.Admin.DirectoryID = "org-"+secretFrom("org", 8), uuidFrom("directory")
	f := &bbFixture{org: o, bearer: secretFrom("bearer", 32), adminKey: secretFrom("admin-key", 40)}
	o.Admin.APIKeys = []string{f.adminKey}
	f.admin = o.AddBBUser(BBUser{DisplayName: "Alex Admin", Email: "admin@acme.com", APIToken: secretFrom("admin", 24),
		InWorkspace: true, Permission: "owner"})
	for i := range members {
		u := o.AddBBUser(BBUser{DisplayName: fmt.Sprintf("Member %02d", i), Email: fmt.Sprintf("m%02d@acme.com", i),
			APIToken: secretFrom(fmt.Sprintf("m%d", i), 24), InWorkspace: true})
		if i == 0 {
			f.member = u
		}
	}
	f.departed = o.AddBBUser(BBUser{DisplayName: "Fay Former", Email: "fay@acme.com", APIToken: secretFrom("fay", 24)})
	f.guest = o.AddBBUser(BBUser{DisplayName: "Dee Guest", Nickname: "dee", InWorkspace: true})
	o.BB.AccessTokens[f.bearer] = f.admin.AccountID

	f.secretVal = "dapi" + secretFrom("secured", 32)
	f.repo = o.AddRepo(BBRepo{Name: "ETL Jobs"})
	o.AddRepo(BBRepo{Name: "infra"})
	f.secured = o.AddVariable("etl-jobs", "", BBVariable{Key: "DATABRICKS_TOKEN", Value: f.secretVal, Secured: true})
	o.AddVariable("etl-jobs", "", BBVariable{Key: "DATABRICKS_TOKEN_ID", Value: "1234"})
	o.AddVariable("", "", BBVariable{Key: "WS_SECRET", Value: f.secretVal, Secured: true})
	o.AddVariable("", "", BBVariable{Key: "WS_PLAIN", Value: "plain"})
	o.AddEnvironment("etl-jobs", BBEnvironment{Name: "Test"})
	o.AddEnvironment("etl-jobs", BBEnvironment{Name: "Staging", Type: "Staging"})
	f.prod = o.AddEnvironment("etl-jobs", BBEnvironment{Name: "Production", Type: "Production"})
	f.deploySecured = o.AddVariable("etl-jobs", "Production", BBVariable{Key: "DEPLOY_TOKEN", Value: f.secretVal, Secured: true})

	o.AddBBGroup(BBGroup{Name: "Data Engineers", Permission: "write", Members: []string{f.admin.AccountID, f.member.AccountID}})
	o.AddBBGroup(BBGroup{Name: "Contractors", Members: []string{f.guest.AccountID}})

	h := New(o, Options{BitbucketHourlyBudget: -1, SCIMConcurrency: -1}).Handler()
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &teeWriter{ResponseWriter: w}
		h.ServeHTTP(tw, r)
		f.mu.Lock()
		defer f.mu.Unlock()
		_ = w.Header().Write(&f.seen)
		f.seen.Write(tw.body.Bytes())
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// do sends a request with the given Authorization header (empty: none) and
// returns the response and its body.
func (f *bbFixture) do(t *testing.T, method, path, auth, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// served is everything the server has sent so far.
func (f *bbFixture) served() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen.String()
}

type teeWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (t *teeWriter) Write(b []byte) (int, error) {
	t.body.Write(b)
	return t.ResponseWriter.Write(b)
}

func basic(u *BBUser) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(u.Email, u.APIToken)
	return r.Header.Get("Authorization")
}
