package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
	bbsync "github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/tui"
)

// testNow is the clock every CLI test runs on.
var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// cliRun runs the command line in-process with its own streams and env.
type cliRun struct {
	code     int
	out, err string
}

func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) cliRun {
	t.Helper()
	return runCLIOn(t, false, env, stdin, args...)
}

// runCLIOn is runCLI with stdin and stdout on a terminal or not.
func runCLIOn(t *testing.T, terminal bool, env map[string]string, stdin string, args ...string) cliRun {
	t.Helper()
	var out, errb bytes.Buffer
	s := &ioStreams{
		In: strings.NewReader(stdin), Out: &out, Err: &errb,
		Getenv:     func(k string) string { return env[k] },
		Now:        func() time.Time { return testNow },
		IsTerminal: terminal,
		retryUnit:  time.Millisecond,
	}
	// No deadline: a slow machine only makes the run slower (a hang is
	// go test -timeout's to report). Cancelled on return, as the process's
	// end would stop what the run left going.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := run(ctx, s, args)
	return cliRun{code: code, out: out.String(), err: errb.String()}
}

// isolate keeps the user's Databricks env and ~/.databrickscfg out of a test.
func isolate(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, k := range []string{"DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET",
		"DATABRICKS_ACCOUNT_ID", "DATABRICKS_AUTH_TYPE", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CONFIG_FILE",
		"BITBUCKET_API_BASE_URL", "BITBUCKET_USERNAME", "BITBUCKET_API_TOKEN", "BITBUCKET_ACCESS_TOKEN",
		"ATLASSIAN_API_BASE_URL", "ATLASSIAN_ADMIN_API_KEY", "BITBRICKS_CONFIG"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("DATABRICKS_CONFIG_FILE", filepath.Join(home, "no-databrickscfg"))
}

// testOrg serves the demo seed on loopback and writes its config. The
// returned env holds the seed's credentials, as `bitbricks emulate` prints them.
type testOrg struct {
	org  *emulator.Org
	srv  *emulator.Server
	url  string
	cfg  string
	env  map[string]string
	root string
	hold *requestHold
}

// unpaced lifts the Databricks SDK's client-side pacing (15 requests a
// second by default) in the config at path to databricks.rate_limit's
// maximum: against the loopback emulator the pacing only makes each apply
// take seconds, and no CLI test is about it (sync's rate limit tests are).
func unpaced(t *testing.T, path string) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Replace(string(src), "\ndatabricks:\n", fmt.Sprintf("\ndatabricks:\n  rate_limit: %d\n", config.MaxRateLimit), 1)
	if out == string(src) {
		t.Fatalf("%s has no databricks section to unpace", path)
	}
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
}

// requestHold keeps the requests it matches from reaching the emulator until
// released, so a test can stop a run (another process's too) at a chosen
// step and act while it is there, instead of hoping a slowed run is still
// there.
type requestHold struct {
	mu      gosync.Mutex
	match   func(*http.Request) bool
	held    chan struct{} // closed when the first request is held
	release chan struct{}
}

func (h *requestHold) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		var release chan struct{}
		if h.match != nil && h.match(r) {
			release = h.release
			select {
			case <-h.held:
			default:
				close(h.held)
			}
		}
		h.mu.Unlock()
		if release != nil {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			if r.Context().Err() != nil {
				return // the caller is gone (killed): the request never arrives
			}
		}
		next.ServeHTTP(w, r)
	})
}

// holdRequests holds every request match accepts: held is closed when the
// first arrives; release lets them (and later ones) through.
func (o *testOrg) holdRequests(t *testing.T, match func(*http.Request) bool) (held <-chan struct{}, release func()) {
	t.Helper()
	h := o.hold
	if h == nil {
		t.Fatal("this organisation's server holds no requests (newTestOrg's does)")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.match, h.held, h.release = match, make(chan struct{}), make(chan struct{})
	ch := h.release
	var once gosync.Once
	release = func() {
		once.Do(func() {
			h.mu.Lock()
			h.match = nil
			h.mu.Unlock()
			close(ch)
		})
	}
	t.Cleanup(release)
	return h.held, release
}

func newTestOrg(t *testing.T) *testOrg {
	t.Helper()
	isolate(t)
	org := emulator.Demo(testNow)
	srv := emulator.New(org, emulator.Options{})
	hold := &requestHold{}
	hs := httptest.NewServer(hold.wrap(srv.Handler()))
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	path := filepath.Join(dir, "bitbricks.yaml")
	if err := writeDemoConfig(org, hs.URL, path); err != nil {
		t.Fatal(err)
	}
	unpaced(t, path)
	env := demoEnv(org, hs.URL)
	// The SDK reads DATABRICKS_HOST/TOKEN from the process environment.
	t.Setenv("DATABRICKS_HOST", env["DATABRICKS_HOST"])
	t.Setenv("DATABRICKS_TOKEN", env["DATABRICKS_TOKEN"])
	for _, k := range []string{"DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_AUTH_TYPE"} {
		t.Setenv(k, env[k]) // the account's OAuth secret, beside the workspace token
	}
	return &testOrg{org: org, srv: srv, url: hs.URL, cfg: path, env: env, root: dir, hold: hold}
}

// secrets are every credential value the organisation holds.
func (o *testOrg) secrets() []string {
	o.org.Mu.Lock()
	defer o.org.Mu.Unlock()
	var out []string
	for v := range o.org.DB.TokensByValue {
		out = append(out, v)
	}
	for _, st := range o.org.Workspaces {
		for v := range st.TokensByValue {
			out = append(out, v)
		}
	}
	for _, s := range o.org.DB.Secrets {
		out = append(out, s.Secret)
	}
	out = append(out, o.org.Creds.BitbucketAPIToken, o.org.Creds.AtlassianAdminKey, o.org.Creds.BitbucketBearer)
	return out
}

func assertNoSecrets(t *testing.T, o *testOrg, texts ...string) {
	t.Helper()
	for _, s := range o.secrets() {
		if s == "" {
			continue
		}
		for _, text := range texts {
			if strings.Contains(text, s) {
				t.Fatalf("a credential value (%s…) appears in the output", s[:4])
			}
		}
	}
}

func planOf(t *testing.T, js string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("plan JSON: %v\n%s", err, js)
	}
	return doc
}

func changesOf(doc map[string]any) []map[string]any {
	var out []map[string]any
	for _, c := range doc["changes"].([]any) {
		out = append(out, c.(map[string]any))
	}
	return out
}

func TestDemoHeadlessPrintsPlan(t *testing.T) {
	isolate(t)
	r := runCLI(t, nil, "", "demo", "--headless")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	for _, want := range []string{"Databricks group de-team", "+ bob@acme.com", "create group ml-team", "Findings", "Plan:"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("demo plan lacks %q:\n%s", want, r.out)
		}
	}
}

func TestDemoHeadlessJSONMatchesSchema(t *testing.T) {
	isolate(t)
	r := runCLI(t, nil, "", "demo", "--headless", "--output", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(filepath.Join("..", "..", "schema", "plan.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(r.out))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("demo plan does not match schema/plan.schema.json: %v", err)
	}
	// Both kinds of group are changed, each change carrying its group_kind.
	kinds := map[string]int{}
	for _, ch := range changesOf(planOf(t, r.out)) {
		if k, ok := ch["group_kind"].(string); ok {
			kinds[k]++
		}
		// One workspace: every change names it, after its host.
		if ws, _ := ch["workspace"].(string); !strings.HasPrefix(ws, "127.0.0.1:") {
			t.Errorf("change %v: workspace %q, want the emulator's host", ch["id"], ws)
		}
	}
	if kinds["workspace"] == 0 || kinds["account"] == 0 {
		t.Fatalf("want changes to workspace and account groups, got %v", kinds)
	}
}

func TestSyncApplyThenInSync(t *testing.T) {
	o := newTestOrg(t)
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--detailed-exitcode")
	if r.code != 2 {
		t.Fatalf("plan with pending changes: want exit 2, got %d: %s", r.code, r.err)
	}
	r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--output", "json")
	if r.code != 0 {
		t.Fatalf("apply: exit %d\nstdout: %s\nstderr: %s", r.code, r.out, r.err)
	}
	doc := planOf(t, r.out)
	results := doc["results"].([]any)
	if len(results) == 0 || len(results) != len(doc["changes"].([]any)) {
		t.Fatalf("want one result per change, got %d results for %d changes", len(results), len(doc["changes"].([]any)))
	}
	for _, res := range results {
		if st := res.(map[string]any)["status"]; st != "applied" {
			t.Errorf("result %v", res)
		}
	}
	assertNoSecrets(t, o, r.out, r.err)

	r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--detailed-exitcode", "--output", "json")
	if r.code != 0 {
		t.Fatalf("second plan: want exit 0 (in sync), got %d: %s", r.code, r.out)
	}
	if n := len(changesOf(planOf(t, r.out))); n != 0 {
		t.Fatalf("second plan has %d changes, want 0:\n%s", n, r.out)
	}

	// The audit log has one line per applied change, and its chain holds.
	r = runCLI(t, o.env, "", "audit", "verify", "--config", o.cfg)
	if r.code != 0 {
		t.Fatalf("audit verify: exit %d: %s", r.code, r.err)
	}
	audit, err := os.ReadFile(filepath.Join(o.root, "bitbricks-audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// Exactly one intent and one outcome line per change; the rotation also
	// records each protocol step (create, verify, write, record, revoke
	// older), without a change id.
	perChange, intents := map[string]int{}, map[string]int{}
	steps := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(audit)), "\n") {
		var ev struct {
			ChangeID string `json:"change_id"`
			Action   string `json:"action"`
			Result   string `json:"result"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		switch {
		case ev.ChangeID != "" && ev.Result == bbsync.ResultIntent:
			intents[ev.ChangeID]++
		case ev.ChangeID != "":
			perChange[ev.ChangeID]++
		default:
			steps[ev.Action] = true
		}
	}
	for _, res := range results {
		if id := res.(map[string]any)["id"].(string); perChange[id] != 1 || intents[id] != 1 {
			t.Errorf("change %s has %d intent and %d outcome audit lines, want 1 of each", id, intents[id], perChange[id])
		}
	}
	if len(perChange) != len(results) {
		t.Errorf("audit names %d changes, the apply made %d", len(perChange), len(results))
	}
	for _, step := range []string{"create_credential", "verify_credential", "write_variable", "record_credential_id"} {
		if !steps[step] {
			t.Errorf("the rotation step %s is not audited (steps: %v)", step, steps)
		}
	}
	assertNoSecrets(t, o, string(audit))
}

func TestSyncMaxChangesGuardChangesNothing(t *testing.T) {
	o := newTestOrg(t)
	o.srv.ResetStats()
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--max-changes", "3")
	if r.code != 3 {
		t.Fatalf("want exit 3, got %d: %s", r.code, r.err)
	}
	if !strings.Contains(r.err, "max_changes") || strings.Count(strings.TrimSpace(lastLine(r.err)), "\n") != 0 {
		t.Fatalf("want one line naming max_changes, got %q", r.err)
	}
	for route, n := range o.srv.Stats().Routes {
		if n > 0 && !isRead(route) {
			t.Errorf("guard refused the plan but %s was called %d times", route, n)
		}
	}
}

func TestSyncApplyWithoutTerminalNeedsYes(t *testing.T) {
	o := newTestOrg(t)
	o.srv.ResetStats()
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply")
	if r.code != 3 || !strings.Contains(r.err, "--yes") {
		t.Fatalf("want exit 3 pointing at --yes, got %d: %s", r.code, r.err)
	}
	for route, n := range o.srv.Stats().Routes {
		if n > 0 && !isRead(route) {
			t.Errorf("nothing confirmed, but %s was called %d times", route, n)
		}
	}
}

// isRead tells a read route from a write in the emulator's stats keys
// ("databricks GET /api/...").
func isRead(route string) bool {
	f := strings.Fields(route)
	return len(f) < 2 || f[1] == "GET" || strings.HasSuffix(route, "/search") || route == "databricks unmatched" || isLease(route) || isSignIn(route)
}

// isSignIn tells an OAuth token request (the account credential signing
// in: it changes nothing).
func isSignIn(route string) bool { return strings.HasSuffix(route, "/v1/token") }

// isLease tells the write lease's requests (workspace files: bitbricks' own
// bookkeeping, no change to what it manages).
func isLease(route string) bool { return strings.Contains(route, " /api/2.0/workspace/") }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestWrongCredentialsOneLine(t *testing.T) {
	o := newTestOrg(t)
	t.Setenv("DATABRICKS_TOKEN", "dapi"+strings.Repeat("0", 32))
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg)
	if r.code != 1 {
		t.Fatalf("want exit 1, got %d", r.code)
	}
	msg := lastLine(r.err)
	if !strings.HasPrefix(msg, "bitbricks: databricks:") || !strings.Contains(msg, "check") {
		t.Fatalf("want one line naming databricks and what to check, got %q", msg)
	}
	if strings.Contains(r.err, strings.Repeat("0", 32)) {
		t.Fatal("the token value appears in the error")
	}

	env := map[string]string{}
	for k, v := range o.env {
		env[k] = v
	}
	env["BITBUCKET_API_TOKEN"] = "wrong"
	t.Setenv("DATABRICKS_TOKEN", o.env["DATABRICKS_TOKEN"])
	r = runCLI(t, env, "", "sync", "--config", o.cfg)
	if msg := lastLine(r.err); r.code != 1 || !strings.HasPrefix(msg, "bitbricks: bitbucket:") {
		t.Fatalf("want exit 1 and one line naming bitbucket, got %d %q", r.code, msg)
	}
}

func TestUnreachableHostOneLine(t *testing.T) {
	o := newTestOrg(t)
	ln := httptest.NewServer(http.NotFoundHandler())
	dead := ln.URL
	ln.Close() // nothing listens there now
	t.Setenv("DATABRICKS_HOST", dead)
	o.env["DATABRICKS_HOST"] = dead
	cfg := strings.ReplaceAll(readFile(t, o.cfg), "host: \""+o.url+"\"", "host: \""+dead+"\"")
	if err := os.WriteFile(o.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// The first call's timeout is an option: a short one keeps this test fast.
	var out, errb bytes.Buffer
	s := &ioStreams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(k string) string { return o.env[k] },
		Now: func() time.Time { return testNow }, probeTimeout: 100 * time.Millisecond}
	start := time.Now()
	r := cliRun{code: run(context.Background(), s, []string{"sync", "--config", o.cfg}), out: out.String(), err: errb.String()}
	if r.code != 1 || !strings.HasPrefix(lastLine(r.err), "bitbricks: databricks:") {
		t.Fatalf("want exit 1 and one line naming databricks, got %d %q", r.code, lastLine(r.err))
	}
	t.Logf("unreachable Databricks host reported in %s: %s", time.Since(start).Round(time.Millisecond), lastLine(r.err))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBadConfigOneLineWithPosition(t *testing.T) {
	isolate(t)
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("bitbucket:\n  workspace: acme\n  colour: blue\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, "", "config", "validate", "--config", path)
	if r.code != 1 {
		t.Fatalf("want exit 1, got %d", r.code)
	}
	if !strings.Contains(r.err, path+":3:3:") || strings.Count(strings.TrimSpace(r.err), "\n") != 0 {
		t.Fatalf("want one line with %s:3:3:, got %q", path, r.err)
	}
}

// The emulator's printed environment and written config work from another
// process's point of view: config validate passes and every API answers.
func TestEmulateWriteConfigAndEnv(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "emu.yaml")
	out, errb := newSyncBuffer(), newSyncBuffer()
	s := &ioStreams{In: strings.NewReader(""), Out: out, Err: errb, Getenv: func(string) string { return "" }, Now: func() time.Time { return testNow }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- run(ctx, s, []string{"emulate", "--listen", "127.0.0.1:0", "--write-config", cfgPath}) }()
	// Wait for the export lines as they are written (however slow the
	// machine), or for emulate to end without them.
	env := map[string]string{}
	code, ended := 0, false
	for len(env) < 12 && !ended {
		select {
		case <-out.wrote:
		case code = <-done:
			ended = true
		}
		env = map[string]string{}
		for _, line := range strings.Split(out.String(), "\n") {
			if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok && strings.HasPrefix(line, "export ") {
				env[k] = v
			}
		}
	}
	if len(env) != 12 {
		cancel()
		t.Fatalf("want 12 export lines, got %v (emulate ended %v, exit %d; stderr %s)", env, ended, code, errb.String())
	}
	r := runCLI(t, env, "", "config", "validate", "--config", cfgPath)
	if r.code != 0 {
		t.Fatalf("config validate of the written config: %d %s", r.code, r.err)
	}
	// The config over both of the demo's workspaces, with a profile each.
	multi := filepath.Join(dir, "emu.workspaces.yaml")
	r = runCLI(t, env, "", "sync", "--config", multi, "--detailed-exitcode")
	if r.code != 2 || !strings.Contains(r.out, "== Workspace dev ==") {
		t.Errorf("sync over both workspaces: exit %d, want 2 with a dev section: %s", r.code, r.err)
	}
	// `workspaces: all` over the same account: the account lists prod and
	// dev, BITBRICKS_WORKSPACE_HOSTS gives their hosts, the profiles their
	// credentials (the account's: the prod admin's profile).
	src, err := os.ReadFile(multi)
	if err != nil {
		t.Fatal(err)
	}
	all := filepath.Join(dir, "emu.all.yaml")
	list := regexp.MustCompile(`(?m)^  workspaces:.*\n(    - .*\n)+`)
	if err := os.WriteFile(all, list.ReplaceAll(src, []byte("  workspaces: all\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	allEnv := maps.Clone(env)
	allEnv["DATABRICKS_CONFIG_PROFILE"] = "bitbricks-demo-prod"
	r = runCLI(t, allEnv, "", "sync", "--config", all, "--detailed-exitcode")
	if r.code != 2 || !strings.Contains(r.out, "== Workspace dev ==") || !strings.Contains(r.out, "== Workspace prod ==") {
		t.Errorf("sync over workspaces: all: exit %d, want 2 with dev and prod sections (%s): %s", r.code, env["BITBRICKS_WORKSPACE_HOSTS"], r.err)
	}
	get := func(method, url, body string, set func(*http.Request)) int {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		set(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	basic := func(r *http.Request) { r.SetBasicAuth(env["BITBUCKET_USERNAME"], env["BITBUCKET_API_TOKEN"]) }
	if c := get("GET", env["DATABRICKS_HOST"]+"/api/2.0/preview/scim/v2/Me", "", bearer(env["DATABRICKS_TOKEN"])); c != 200 {
		t.Errorf("Databricks Me: %d", c)
	}
	if c := get("GET", env["BITBUCKET_API_BASE_URL"]+"/user", "", basic); c != 200 {
		t.Errorf("Bitbucket /2.0/user: %d", c)
	}
	if c := get("POST", env["ATLASSIAN_API_BASE_URL"]+"/admin/v2/orgs/"+orgIDOf(t, cfgPath)+"/directories/-/users/search", "{}", func(r *http.Request) {
		bearer(env["ATLASSIAN_ADMIN_API_KEY"])(r)
		r.Header.Set("Content-Type", "application/json")
	}); c != 200 {
		t.Errorf("Atlassian users/search: %d", c)
	}
	cancel()
	if !ended {
		code = <-done
	}
	if code != 0 {
		t.Fatalf("emulate exited %d: %s", code, errb.String())
	}
}

func orgIDOf(t *testing.T, cfgPath string) string {
	var doc struct {
		Atlassian struct {
			OrgID string `yaml:"org_id"`
		} `yaml:"atlassian_admin"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, cfgPath)), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Atlassian.OrgID
}

func TestPipelinesExampleIsYAML(t *testing.T) {
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join("..", "..", "docs", "bitbucket-pipelines.yml"))), &doc); err != nil {
		t.Fatalf("docs/bitbucket-pipelines.yml: %v", err)
	}
	custom, _ := doc["pipelines"].(map[string]any)["custom"].(map[string]any)
	for _, name := range []string{"bitbricks-sync", "bitbricks-rotate"} {
		if _, ok := custom[name]; !ok {
			t.Errorf("no custom pipeline %s", name)
		}
	}
	text := readFile(t, filepath.Join("..", "..", "docs", "bitbucket-pipelines.yml"))
	for _, want := range []string{"sync --apply --yes", "rotate --due --yes",
		"--out plan.json", "--plan plan.json", "sha256sum --check", "BITBRICKS_VERSION=", "bin/bitbricks version", "audit verify"} {
		if !strings.Contains(text, want) {
			t.Errorf("pipelines example lacks %q", want)
		}
	}
	if strings.Contains(text, "@latest") {
		t.Error("pipelines example installs an unpinned version (@latest)")
	}
}

func TestVersion(t *testing.T) {
	r := runCLI(t, nil, "", "version")
	if r.code != 0 || !strings.HasPrefix(r.out, "bitbricks ") {
		t.Fatalf("version: %d %q", r.code, r.out)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader
// goroutine; wrote is signalled after every write.
type syncBuffer struct {
	mu    gosync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{wrote: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	select {
	case b.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMain(m *testing.M) {
	if os.Getenv(benchChildEnv) != "" {
		// `bitbricks bench` re-runs its own executable as the emulator;
		// under test that executable is this binary: be bitbricks.
		main()
		return
	}
	quietSDK()
	os.Exit(m.Run())
}

func TestRevokeLeakedFromStdin(t *testing.T) {
	o := newTestOrg(t)
	// A token of a user: the value a user might paste after a leak.
	var value, owner string
	o.org.Mu.Lock()
	for v, tok := range o.org.DB.TokensByValue {
		if u := o.org.DB.Users[tok.OwnerID]; u != nil && u.UserName == "hana@acme.com" {
			value, owner = v, u.UserName
			break
		}
	}
	o.org.Mu.Unlock()
	if value == "" {
		t.Fatal("the demo seed has no token of hana@acme.com")
	}
	me := func() int {
		req, _ := http.NewRequest("GET", o.url+"/api/2.0/preview/scim/v2/Me", nil)
		req.Header.Set("Authorization", "Bearer "+value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := me(); c != 200 {
		t.Fatalf("the token does not authenticate before the revocation: %d", c)
	}

	// Off a terminal without --yes: refused, nothing revoked.
	r := runCLI(t, o.env, value+"\n", "revoke", "--leaked", "--config", o.cfg)
	if r.code != 3 || me() != 200 {
		t.Fatalf("without --yes: want exit 3 and the token alive, got %d: %s", r.code, r.err)
	}
	assertNoSecrets(t, o, r.out, r.err)

	r = runCLI(t, o.env, value+"\n", "revoke", "--leaked", "--yes", "--config", o.cfg, "--output", "json")
	if r.code != 0 {
		t.Fatalf("revoke --leaked: exit %d: %s", r.code, r.err)
	}
	// Databricks answers a revoked token with 403 "Invalid access token."
	if c := me(); c != 401 && c != 403 {
		t.Fatalf("the leaked token still authenticates: %d", c)
	}
	if !strings.Contains(r.err, owner) || !strings.Contains(r.err, value[:4]+"…"+value[len(value)-4:]) {
		t.Errorf("stderr should name the owner and the redacted value:\n%s", r.err)
	}
	var rep revokeReport
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Revoked) == 0 || len(rep.Failed) != 0 {
		t.Fatalf("report: %+v", rep)
	}
	for _, c := range rep.Revoked {
		if c.Owner != owner {
			t.Errorf("revoked a credential of %s, not of the owner %s", c.Owner, owner)
		}
	}
	audit := readFile(t, filepath.Join(o.root, "bitbricks-audit.jsonl"))
	if !strings.Contains(audit, "lookup_leaked_token") {
		t.Error("the leak lookup is not audited")
	}
	// Every place the value could end up: stdout, stderr, the audit log.
	for name, text := range map[string]string{"stdout": r.out, "stderr": r.err, "audit": audit} {
		if strings.Contains(text, value) || strings.Contains(text, value[4:]) {
			t.Errorf("the leaked value appears in %s", name)
		}
	}
}

func TestRevokeNeedsExactlyOneMode(t *testing.T) {
	isolate(t)
	r := runCLI(t, nil, "", "revoke", "--token-id", "a", "--owner", "b")
	if r.code != 1 || !strings.Contains(r.err, "exactly one") {
		t.Fatalf("want exit 1 asking for exactly one mode, got %d %q", r.code, r.err)
	}
	r = runCLI(t, nil, "", "revoke", "--leaked")
	if r.code != 1 || !strings.Contains(r.err, "stdin") {
		t.Fatalf("--leaked with empty stdin: want exit 1 pointing at stdin, got %d %q", r.code, r.err)
	}
}

func TestRotateBindingFromCLI(t *testing.T) {
	o := newTestOrg(t)
	r := runCLI(t, o.env, "", "rotate", "etl-prod", "--yes", "--config", o.cfg, "--output", "json")
	if r.code != 0 {
		t.Fatalf("rotate: exit %d: %s", r.code, r.err)
	}
	var rep struct {
		Rotations []rotationOutcome `json:"rotations"`
	}
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatalf("rotate JSON: %v\n%s", err, r.out)
	}
	if len(rep.Rotations) != 1 || rep.Rotations[0].Status != "applied" || rep.Rotations[0].NewID == "" || len(rep.Rotations[0].Revoked) == 0 {
		t.Fatalf("rotation report %+v", rep.Rotations)
	}
	// The secured variable holds a live token of the service principal, the
	// companion records its id.
	o.org.Mu.Lock()
	var value, recorded string
	for _, repo := range o.org.BB.Repos {
		for _, v := range repo.Variables {
			switch v.Key {
			case "DATABRICKS_TOKEN":
				value = v.Value
			case "DATABRICKS_TOKEN_ID":
				recorded = v.Value
			}
		}
	}
	tok := o.org.DB.TokensByValue[value]
	owner := ""
	if tok != nil && o.org.DB.ServicePrincipals[tok.OwnerID] != nil {
		owner = o.org.DB.ServicePrincipals[tok.OwnerID].DisplayName
	}
	o.org.Mu.Unlock()
	if tok == nil || tok.ID != rep.Rotations[0].NewID || recorded != tok.ID || owner != "etl-deployer" {
		t.Fatalf("after rotation: variable token %v, recorded %q, owner %q", tok != nil, recorded, owner)
	}
	assertNoSecrets(t, o, r.out, r.err)

	// Nothing is due any more.
	r = runCLI(t, o.env, "", "rotate", "--due", "--yes", "--config", o.cfg, "--output", "json")
	if r.code != 0 || !strings.Contains(r.out, `"rotations": []`) {
		t.Fatalf("rotate --due after a rotation: %d %s %s", r.code, r.out, r.err)
	}
}

func TestTokensJSONFromCLI(t *testing.T) {
	o := newTestOrg(t)
	r := runCLI(t, o.env, "", "tokens", "--config", o.cfg, "--output", "json", "--status", "over_age")
	if r.code != 0 {
		t.Fatalf("tokens: exit %d: %s", r.code, r.err)
	}
	var doc struct {
		FormatVersion string `json:"format_version"`
		Credentials   []struct {
			ID, Kind, Owner string
			AgeDays         int      `json:"age_days"`
			Flags           []string `json:"flags"`
		} `json:"credentials"`
	}
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
		t.Fatalf("tokens JSON: %v\n%s", err, r.out)
	}
	if doc.FormatVersion != "1" || len(doc.Credentials) == 0 {
		t.Fatalf("tokens JSON: %+v", doc)
	}
	for i, c := range doc.Credentials {
		if c.AgeDays < 90 || !slices.Contains(c.Flags, "over_age") {
			t.Errorf("--status over_age listed %s (%d days, %v)", c.ID, c.AgeDays, c.Flags)
		}
		if i > 0 && c.AgeDays > doc.Credentials[i-1].AgeDays {
			t.Errorf("not sorted by age: %d after %d", c.AgeDays, doc.Credentials[i-1].AgeDays)
		}
	}
	assertNoSecrets(t, o, r.out, r.err)
}

func TestRevokeOwnerWarnsAboutBoundPipelines(t *testing.T) {
	o := newTestOrg(t)
	// Off a terminal without --yes: the list and the warning, then a refusal.
	r := runCLI(t, o.env, "", "revoke", "--owner", "etl-deployer", "--config", o.cfg)
	if r.code != 3 {
		t.Fatalf("want exit 3 without --yes, got %d: %s", r.code, r.err)
	}
	if !strings.Contains(r.err, "etl-deployer holds") || !strings.Contains(r.err, "pipeline binding etl-prod") {
		t.Fatalf("want the credentials listed and the bound pipeline named:\n%s", r.err)
	}
	assertNoSecrets(t, o, r.out, r.err)
}

// leakedValue is the value of one of hana@acme.com's tokens in the seed.
func leakedValue(t *testing.T, o *testOrg) string {
	t.Helper()
	o.org.Mu.Lock()
	defer o.org.Mu.Unlock()
	for v, tok := range o.org.DB.TokensByValue {
		if u := o.org.DB.Users[tok.OwnerID]; u != nil && u.UserName == "hana@acme.com" {
			return v
		}
	}
	t.Fatal("the demo seed has no token of hana@acme.com")
	return ""
}

// On a terminal, the value and then the typed owner's name come from one
// stdin: the confirmation must see the line after the value.
func TestRevokeLeakedOnTerminalConfirmsByName(t *testing.T) {
	o := newTestOrg(t)
	value := leakedValue(t, o)
	alive := func() bool {
		o.org.Mu.Lock()
		defer o.org.Mu.Unlock()
		return o.org.DB.TokensByValue[value] != nil
	}

	hanas := func(o *testOrg) int {
		o.org.Mu.Lock()
		defer o.org.Mu.Unlock()
		n := 0
		for _, tok := range o.org.DB.Tokens {
			if u := o.org.DB.Users[tok.OwnerID]; u != nil && u.UserName == "hana@acme.com" {
				n++
			}
		}
		return n
	}
	n := hanas(o)
	r := runCLIOn(t, true, o.env, value+"\n\n", "revoke", "--leaked", "--config", o.cfg)
	if r.code != 1 || !strings.Contains(r.err, "Cancelled") || !alive() {
		t.Fatalf("no to the leaked token: want cancelled with the token alive, got %d: %s", r.code, r.err)
	}
	// Yes to the leaked token, then the owner's name for the rest.
	r = runCLIOn(t, true, o.env, value+"\ny\nhana@acme.com\n", "revoke", "--leaked", "--config", o.cfg)
	if r.code != 0 || alive() || hanas(o) != 0 {
		t.Fatalf("the owner's name typed: want every token of hana revoked, got %d (alive %v, %d left of %d): %s", r.code, alive(), hanas(o), n, r.err)
	}
	if !strings.Contains(r.out, "no longer authenticates") {
		t.Errorf("the final check is not reported:\n%s", r.out)
	}

	// Only the leaked token is mandatory: a wrong name keeps the rest.
	o2 := newTestOrg(t)
	value2 := leakedValue(t, o2)
	r = runCLIOn(t, true, o2.env, value2+"\ny\nhana\n", "revoke", "--leaked", "--config", o2.cfg)
	if r.code != 0 || hanas(o2) != n-1 {
		t.Fatalf("the rest not confirmed: want only the leaked token gone (%d of %d left), got exit %d, %d left: %s\n%s", n-1, n, r.code, hanas(o2), r.err, r.out)
	}
	if !strings.Contains(r.out, "kept the other") {
		t.Errorf("the kept credentials are not reported:\n%s", r.out)
	}
	assertNoSecrets(t, o, r.out, r.err)
	if strings.Contains(r.out+r.err, value) {
		t.Fatal("the leaked value appears in the output")
	}
}

// Confirmations default to No: an empty answer changes nothing, and a
// declined confirmation exits 1.
func TestSyncApplyOnTerminalDefaultsToNo(t *testing.T) {
	o := newTestOrg(t)
	o.srv.ResetStats()
	r := runCLIOn(t, true, o.env, "\n", "sync", "--config", o.cfg, "--apply")
	if r.code != 1 || !strings.Contains(r.err, "[y/N]") || !strings.Contains(r.err, "nothing changed") {
		t.Fatalf("want a [y/N] question, then nothing changed: %d %s", r.code, r.err)
	}
	for route, n := range o.srv.Stats().Routes {
		if n > 0 && !isRead(route) {
			t.Errorf("the answer was no, but %s was called %d times", route, n)
		}
	}
}

func TestDemoWithoutTerminalPointsAtHeadless(t *testing.T) {
	isolate(t)
	r := runCLI(t, nil, "", "demo")
	if r.code != 1 || !strings.Contains(r.err, "demo --headless") || strings.Count(strings.TrimSpace(r.err), "\n") != 0 {
		t.Fatalf("want exit 1 and one line pointing at demo --headless, got %d %q", r.code, r.err)
	}
}

func TestAuditVerifyMissingLogSaysWhatToDo(t *testing.T) {
	isolate(t)
	path := filepath.Join(t.TempDir(), "none.jsonl")
	r := runCLI(t, nil, "", "audit", "verify", "--file", path)
	if r.code != 1 || !strings.Contains(r.err, "no audit log at "+path) || !strings.Contains(r.err, "audit.file") {
		t.Fatalf("want exit 1 naming the file and audit.file, got %d %q", r.code, r.err)
	}
}

// The console applies a rotation through the same audit as `sync --apply`:
// one line for the change and one per protocol step.
func TestConsoleApplyAuditsRotationSteps(t *testing.T) {
	o := newTestOrg(t)
	s := &ioStreams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard,
		Getenv: func(k string) string { return o.env[k] }, Now: func() time.Time { return testNow }}
	cfg, err := config.Load(o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEngine(s, cfg, engineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := tui.NewEngineBackend(e.svc)
	ctx := context.Background()
	_, plan, err := b.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rotations []bbsync.Change
	for _, c := range plan.Changes {
		if c.Action == bbsync.ActionRotateCredential {
			rotations = append(rotations, c)
		}
	}
	if len(rotations) == 0 {
		t.Fatal("the demo plan has no rotate_credential change")
	}
	results, err := b.Apply(ctx, bbsync.Plan{Changes: rotations}, nil)
	if err != nil || len(results) != len(rotations) || results[0].Status != bbsync.ResultApplied {
		t.Fatalf("apply: %v %+v", err, results)
	}
	audit := readFile(t, filepath.Join(o.root, "bitbricks-audit.jsonl"))
	for _, step := range []string{`"action":"rotate_credential"`, `"action":"create_credential"`, `"action":"verify_credential"`, `"action":"write_variable"`, `"action":"record_credential_id"`} {
		if !strings.Contains(audit, step) {
			t.Errorf("the console's rotation does not audit %s:\n%s", step, audit)
		}
	}
	assertNoSecrets(t, o, audit)
}

// A mistyped --status fails before any request instead of listing nothing.
func TestTokensUnknownStatusSaysWhichExist(t *testing.T) {
	isolate(t)
	r := runCLI(t, nil, "", "tokens", "--status", "stal")
	if r.code != 1 || !strings.Contains(r.err, `--status "stal"`) || !strings.Contains(r.err, "stale") {
		t.Fatalf("want exit 1 listing the flags, got %d %q", r.code, r.err)
	}
}

// A refused apply with --output json still writes the plan, every change
// skipped with the reason, for the pipeline's artifact.
func TestSyncApplyRefusedJSONKeepsThePlan(t *testing.T) {
	o := newTestOrg(t)
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--max-changes", "3", "--output", "json")
	if r.code != 3 {
		t.Fatalf("want exit 3, got %d: %s", r.code, r.err)
	}
	doc := planOf(t, r.out)
	results := doc["results"].([]any)
	if len(results) == 0 || len(results) != len(changesOf(doc)) {
		t.Fatalf("want one result per change, got %d for %d", len(results), len(changesOf(doc)))
	}
	for _, res := range results {
		m := res.(map[string]any)
		if m["status"] != "skipped" || !strings.Contains(m["error"].(string), "max_changes") {
			t.Fatalf("result %v, want skipped naming max_changes", m)
		}
	}
}

// Questions go to the terminal (Prompt, /dev/tty in a real run), so they
// show even with stderr redirected; the plan stays on stdout.
func TestPromptsGoToTheTerminal(t *testing.T) {
	o := newTestOrg(t)
	var out, errb, tty bytes.Buffer
	s := &ioStreams{In: strings.NewReader("n\n"), Out: &out, Err: &errb, Prompt: &tty,
		Getenv: func(k string) string { return o.env[k] }, Now: func() time.Time { return testNow }, IsTerminal: true}
	code := run(context.Background(), s, []string{"sync", "--config", o.cfg, "--apply"})
	if code != 1 || !strings.Contains(tty.String(), "[y/N]") || !strings.Contains(tty.String(), "nothing changed") {
		t.Fatalf("exit %d, terminal %q", code, tty.String())
	}
	if strings.Contains(errb.String(), "[y/N]") || !strings.Contains(out.String(), "Plan:") {
		t.Errorf("the question reached stderr or the plan left stdout: stderr %q", errb.String())
	}
}
