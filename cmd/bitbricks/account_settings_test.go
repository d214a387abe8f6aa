package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// editFile replaces old by new in path, once; old must be there.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// lineOf is the 1-based line of the first line of path containing s.
func lineOf(t *testing.T, path, s string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q", path, s)
	return 0
}

// TestAccountSettingErrors: a wrong account setting is named as such, in
// one line, no secret in any output (debug logs included):
//   - databricks.account_profile naming no profile: a config error at its
//     file:line, exit 3, before any request of the account or a workspace;
//   - databricks.account_profile naming a profile that holds a personal
//     access token: says so, exit 3;
//   - a wrong account OAuth secret (in the profile, or in
//     DATABRICKS_CLIENT_SECRET): the token endpoint's 401 invalid_client is
//     reported as HTTP 401 naming the setting to fix, not as no answer;
//   - a workspace entry by host with no credential at all: a credential
//     problem saying what to set, exit 3, not an outage.
func TestAccountSettingErrors(t *testing.T) {
	accountProfileLine := "  account_profile: " + emulator.DemoAccountProfile

	t.Run("account_profile names no profile", func(t *testing.T) {
		o := newTwoWorkspaceOrg(t)
		o.env["BITBRICKS_DEBUG"] = "1"
		line := lineOf(t, o.cfg, accountProfileLine)
		editFile(t, o.cfg, accountProfileLine, "  account_profile: no-such-profile")
		o.srv.ResetStats()
		r := runCLI(t, o.env, "", "sync", "--config", o.cfg)
		last := lastLine(r.err)
		t.Logf("exit %d: %s", r.code, last)
		if r.code != 3 || !strings.Contains(last, fmt.Sprintf("%s:%d", o.cfg, line)) || !strings.Contains(last, `databricks.account_profile "no-such-profile"`) ||
			strings.Contains(r.err, "no HTTP answer") || strings.Contains(r.out, "could not be read") {
			t.Errorf("want exit 3 with one line at %s:%d naming the profile, got %d: %q\n%s", o.cfg, line, r.code, last, r.out)
		}
		st := o.srv.Stats()
		if n := st.Families["databricks"] - st.Routes["databricks GET /.well-known/databricks-config"]; n != 0 {
			t.Errorf("%d Databricks requests before refusing: %v", n, st.Routes)
		}
		assertNoSecrets(t, o, r.out, r.err)
	})

	t.Run("account_profile holds a token", func(t *testing.T) {
		o := newTwoWorkspaceOrg(t)
		o.env["BITBRICKS_DEBUG"] = "1"
		editFile(t, o.cfg, accountProfileLine, "  account_profile: bitbricks-demo-"+emulator.DemoWorkspace)
		r := runCLI(t, o.env, "", "sync", "--config", o.cfg)
		last := lastLine(r.err)
		t.Logf("exit %d: %s", r.code, last)
		if r.code != 3 || !strings.Contains(last, `databricks.account_profile "bitbricks-demo-`+emulator.DemoWorkspace+`" holds a personal access token`) {
			t.Errorf("want exit 3 saying the profile holds a personal access token, got %d: %q", r.code, last)
		}
		assertNoSecrets(t, o, r.out, r.err)
	})

	t.Run("wrong secret in the account profile", func(t *testing.T) {
		o := newTwoWorkspaceOrg(t)
		o.env["BITBRICKS_DEBUG"] = "1"
		wrong := "dose-wrong-account-secret-7f3a9c"
		editFile(t, o.env["DATABRICKS_CONFIG_FILE"], "client_secret = "+o.org.Creds.AccountClientSecret, "client_secret = "+wrong)
		r := runCLI(t, o.env, "", "sync", "--config", o.cfg)
		wantRefusedClient(t, r, wrong, `the client_id and client_secret of databricks.account_profile "`+emulator.DemoAccountProfile+`"`)
		assertNoSecrets(t, o, r.out, r.err)
	})

	t.Run("wrong DATABRICKS_CLIENT_SECRET", func(t *testing.T) {
		o := newTestOrg(t)
		o.env["BITBRICKS_DEBUG"] = "1"
		wrong := "dose-wrong-account-secret-5b1e0d"
		o.env["DATABRICKS_CLIENT_SECRET"] = wrong
		t.Setenv("DATABRICKS_CLIENT_SECRET", wrong)
		r := runCLI(t, o.env, "", "sync", "--config", o.cfg)
		wantRefusedClient(t, r, wrong, "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET")
		assertNoSecrets(t, o, r.out, r.err)
	})

	t.Run("workspace by host with no credential", func(t *testing.T) {
		o := newTwoWorkspaceOrg(t)
		o.env["BITBRICKS_DEBUG"] = "1"
		profiles, err := os.ReadFile(o.env["DATABRICKS_CONFIG_FILE"])
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`\[bitbricks-demo-` + emulator.DemoDevWorkspace + `\]\nhost = (\S+)`).FindSubmatch(profiles)
		if m == nil {
			t.Fatalf("no dev profile in %s", profiles)
		}
		editFile(t, o.cfg, "profile: bitbricks-demo-"+emulator.DemoDevWorkspace+"}", fmt.Sprintf("host: %q}", string(m[1])))
		o.srv.ResetStats()
		r := runCLI(t, o.env, "", "sync", "--apply", "--yes", "--config", o.cfg)
		all := r.out + r.err
		t.Logf("exit %d: %s", r.code, lastLine(r.err))
		if r.code != 3 || !strings.Contains(all, "has no credential bitbricks can use") || !strings.Contains(all, "DATABRICKS_TOKEN") ||
			strings.Contains(all, "not a credential problem") {
			t.Errorf("want exit 3 naming a missing credential and what to set, got %d:\n%s\n%s", r.code, r.err, r.out)
		}
		if n := writeRequests(o); n != 0 {
			t.Errorf("%d write requests: %v", n, o.srv.Stats().Routes)
		}
		assertNoSecrets(t, o, r.out, r.err)
	})
}

// wantRefusedClient checks a run whose account OAuth secret is wrong: the
// account read is reported as HTTP 401 with the setting to fix, never as
// no answer, and the wrong secret appears nowhere.
func wantRefusedClient(t *testing.T, r cliRun, wrong, setting string) {
	t.Helper()
	all := r.out + r.err
	var line string
	for _, l := range strings.Split(all, "\n") {
		if strings.Contains(l, "invalid_client") && !strings.Contains(l, "DEBUG") && !strings.HasPrefix(strings.TrimSpace(l), "<") {
			line = l
			break
		}
	}
	if r.code == 0 || !strings.Contains(line, "HTTP 401") || !strings.Contains(line, "check "+setting) || strings.Contains(line, "no HTTP answer") {
		t.Errorf("want the account read reported as HTTP 401 naming %q, got exit %d, line %q\n%s", setting, r.code, line, r.out)
	}
	if strings.Contains(all, wrong) {
		t.Errorf("the wrong account secret appears in the output")
	}
}
