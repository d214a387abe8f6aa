package tui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
	"github.com/bitbricks/bitbricks/sync"
	"github.com/charmbracelet/x/exp/teatest"
)

// engineEnv is the console's real backend: sync.Service over the real SDK
// clients, against the emulator's demo organisation on loopback. The config
// is on disk (re-map rewrites it), with the audit log beside it.
type engineEnv struct {
	org  *emulator.Org
	svc  *sync.Service
	b    *EngineBackend
	path string
	// gate, when set, holds every Databricks SCIM and token write until it
	// receives (the write lease is not held).
	gate chan struct{}
	// changes is the size of the plan the console first loads.
	changes int
}

// drift is the header's drift count after n of the first plan's changes.
func (e *engineEnv) drift(n int) string { return fmt.Sprintf("drift %d ", e.changes-n) }

// newEngineEnv serves the demo; configEdits are old, new pairs replaced in its
// config.
func newEngineEnv(t testing.TB, gated bool, configEdits ...string) *engineEnv {
	t.Helper()
	e := &engineEnv{org: emulator.Demo(testNow)}
	if gated {
		e.gate = make(chan struct{})
	}
	h := emulator.New(e.org, emulator.Options{}).Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g := e.gate; g != nil && r.Method != http.MethodGet && (strings.Contains(r.URL.Path, "/scim/") || strings.Contains(r.URL.Path, "/token")) &&
			!strings.HasPrefix(r.URL.Path, "/oidc/") { // signing in changes nothing
			select {
			case <-g:
			case <-r.Context().Done():
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	if e.gate != nil { // runs before hs.Close, which waits for held requests
		t.Cleanup(func() {
			defer func() { _ = recover() }() // the test closed it already
			close(e.gate)
		})
	}
	dir := t.TempDir()
	e.path = filepath.Join(dir, "bitbricks.yaml")
	src := append(emulator.DemoConfig(e.org, hs.URL), []byte("audit:\n  file: "+filepath.Join(dir, "audit.jsonl")+"\n")...)
	src = []byte(strings.NewReplacer(configEdits...).Replace(string(src)))
	if err := os.WriteFile(e.path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(e.path)
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := sync.NewSources(cfg, sync.SourceOptions{
		Env: sync.MapEnv(map[string]string{
			"BITBUCKET_USERNAME":      e.org.Creds.BitbucketUsername,
			"BITBUCKET_API_TOKEN":     e.org.Creds.BitbucketAPIToken,
			"ATLASSIAN_ADMIN_API_KEY": e.org.Creds.AtlassianAdminKey,
		}),
		Databricks: sync.DatabricksOptions{Host: hs.URL, Token: e.org.Creds.DatabricksToken, RateLimit: 1000,
			AccountClientID: e.org.Creds.AccountClientID, AccountClientSecret: e.org.Creds.AccountClientSecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = sync.NewService(srcs, cfg, sync.ServiceOptions{Now: func() time.Time { return testNow }, StateDir: t.TempDir()})
	e.b = NewEngineBackend(e.svc)
	return e
}

// engineConsole starts the console on the real engine in a w×h terminal and
// waits for the first load.
func engineConsole(t *testing.T, w, h int, readOnly bool) (*teatest.TestModel, *engineEnv) {
	t.Helper()
	return startConsole(t, newEngineEnv(t, false), w, h, readOnly)
}

func startConsole(t *testing.T, e *engineEnv, w, h int, readOnly bool) (*teatest.TestModel, *engineEnv) {
	t.Helper()
	_, plan, err := e.svc.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.changes = len(plan.Changes)
	tm := teatest.NewTestModel(t, NewModel(e.b, testOptions(readOnly)), teatest.WithInitialTermSize(w, h))
	waitFor(t, tm, "data-engineers", e.drift(0))
	return tm, e
}

// member reports whether the emulator's Databricks group holds the user.
func (e *engineEnv) member(group, userName string) bool {
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	uid := ""
	for id, u := range e.org.DB.Users {
		if u.UserName == userName {
			uid = id
		}
	}
	for _, g := range e.org.DB.Groups {
		if g.DisplayName == group {
			return slices.ContainsFunc(g.Members, func(m emulator.DBMember) bool { return m.Value == uid })
		}
	}
	return false
}

// group reports whether the emulator has a Databricks group called name.
func (e *engineEnv) group(name string) bool {
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	for _, g := range e.org.DB.Groups {
		if g.DisplayName == name {
			return true
		}
	}
	return false
}

// tokens are the emulator's tokens of the user, or service principal, named owner.
func (e *engineEnv) tokens(owner string) []*emulator.DBToken {
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	ids := map[string]bool{}
	for id, u := range e.org.DB.Users {
		if u.UserName == owner {
			ids[id] = true
		}
	}
	for id, sp := range e.org.DB.ServicePrincipals {
		if sp.DisplayName == owner {
			ids[id] = true
		}
	}
	var out []*emulator.DBToken
	for _, t := range e.org.DB.Tokens {
		if ids[t.OwnerID] {
			c := *t
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *emulator.DBToken) int { return a.Created.Compare(b.Created) })
	return out
}

// audit is the audit log's outcomes, oldest first, as "action target result"
// (the intent lines written before each change are left out).
func (e *engineEnv) audit(t *testing.T) []string {
	t.Helper()
	evs, err := e.svc.Audit(-1)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Result != "intent" {
			out = append(out, evs[i].Action+" "+evs[i].Target+" "+evs[i].Result)
		}
	}
	return out
}
