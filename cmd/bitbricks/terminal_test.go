package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile is what anyone may put in a display name or a token comment:
// a window title, a screen clear, a C1 control sequence, bidi overrides, and
// 5,000 characters of padding.
var hostile = "\x1b]0;owned\x07\x1b[2J\u202eevil\u2066" + strings.Repeat("x", 5000) + "\u009b31m\u200f\x07end"

// dirty returns why out is unsafe for a terminal, or "".
func dirty(out string) string {
	switch {
	case strings.ContainsRune(out, 0x1b):
		return "ESC"
	case strings.ContainsRune(out, 0x07):
		return "BEL"
	case !utf8.ValidString(out):
		return "invalid UTF-8"
	}
	for _, r := range out {
		switch {
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f:
			return "a bidi control"
		case r >= 0x80 && r < 0xa0:
			return "a C1 control"
		}
	}
	return ""
}

// poison gives the demo organisation hostile names: every Databricks user's
// display name, every token comment, one service principal's name, every
// Bitbucket account's display name.
func (o *testOrg) poison() (spName string) {
	o.org.Mu.Lock()
	defer o.org.Mu.Unlock()
	for _, u := range o.org.DB.Users {
		u.DisplayName = u.UserName + hostile
	}
	for _, t := range o.org.DB.Tokens {
		t.Comment += hostile
	}
	for _, sp := range o.org.DB.ServicePrincipals {
		if sp.DisplayName == "reporting-bot" {
			sp.DisplayName = "reporting-bot" + hostile
			spName = sp.DisplayName
		}
	}
	for _, u := range o.org.BB.Users {
		u.DisplayName += hostile
	}
	return spName
}

// spToken is the value of a token of the service principal called name.
func (o *testOrg) spToken(t *testing.T, name string) string {
	t.Helper()
	o.org.Mu.Lock()
	defer o.org.Mu.Unlock()
	for _, sp := range o.org.DB.ServicePrincipals {
		if sp.DisplayName != name {
			continue
		}
		for _, tok := range o.org.DB.Tokens {
			if tok.OwnerID == sp.ID {
				return tok.Value
			}
		}
	}
	t.Fatalf("no token of %q", name)
	return ""
}

func TestHostileNamesNeverReachTheTerminal(t *testing.T) {
	o := newTestOrg(t)
	sp := o.poison()
	if sp == "" {
		t.Fatal("the demo has no reporting-bot")
	}
	leaked := o.spToken(t, sp)
	env := o.env
	c := []string{"--config", o.cfg}
	runs := []struct {
		stdin string
		args  []string
	}{
		{"", append([]string{"sync"}, c...)},
		{"", append([]string{"sync", "--output", "json"}, c...)},
		{"", append([]string{"tokens"}, c...)},
		{"", append([]string{"tokens", "--output", "json", "--owner", "reporting"}, c...)},
		{"", append([]string{"revoke", "--owner", "nobody" + hostile, "--yes"}, c...)},
		{"", append([]string{"rotate", "--due", "--yes"}, c...)},
		{"", append([]string{"rotate", "etl-prod", "--yes"}, c...)},
		{leaked + "\n", append([]string{"revoke", "--leaked", "--yes"}, c...)},
		{"", append([]string{"revoke", "--owner", sp, "--yes"}, c...)},
		{"", append([]string{"sync", "--apply", "--yes", "--max-changes", "100"}, c...)},
		{"", append([]string{"sync", "--apply", "--yes", "--output", "json", "--max-changes", "100"}, c...)},
		{"", append([]string{"audit", "verify"}, c...)},
		{"", append([]string{"config", "validate"}, c...)},
		{"", []string{"sync", "--config", filepath.Join(t.TempDir(), "x"+hostile+".yaml")}},
		{"", append([]string{"sync", "--output", hostile}, c...)},
	}
	ran := 0
	for _, r := range runs {
		res := runCLI(t, env, r.stdin, r.args...)
		name := strings.Join(r.args[:min(2, len(r.args))], " ")
		for stream, out := range map[string]string{"stdout": res.out, "stderr": res.err} {
			if why := dirty(out); why != "" {
				t.Errorf("%s: %s carries %s (exit %d)", name, stream, why, res.code)
			}
		}
		if res.out+res.err == "" {
			t.Errorf("%s: no output at all", name)
		}
		ran++
	}
	// The names did reach the commands: the sanitised form is printed.
	res := runCLI(t, env, "", append([]string{"tokens"}, c...)...)
	if !strings.Contains(res.out, "0;ownedevil") && !strings.Contains(res.out, "evil") {
		t.Errorf("the hostile comment is not in the listing at all:\n%.2000s", res.out)
	}
	t.Logf("%d commands, hostile names of %d characters", ran, utf8.RuneCountInString(hostile))
}

// Every command on the demo with every debug switch on: no output and no
// file holds any credential value the organisation holds, and no argument
// that looks like one is echoed.
func TestNoSecretInAnyOutputWithDebug(t *testing.T) {
	o := newTestOrg(t)
	t.Setenv("DATABRICKS_DEBUG_HEADERS", "true")
	t.Setenv("DATABRICKS_DEBUG_TRUNCATE_BYTES", "100000")
	env := map[string]string{"BITBRICKS_DEBUG": "1"}
	for k, v := range o.env {
		env[k] = v
	}
	// A second token of a user, pasted as a leak.
	leaked := leakedValue(t, o)
	c := []string{"--config", o.cfg}
	runs := []struct {
		stdin string
		args  []string
	}{
		{"", append([]string{"sync"}, c...)},
		{"", append([]string{"sync", "--output", "json"}, c...)},
		{"", append([]string{"tokens"}, c...)},
		{"", append([]string{"tokens", "--output", "json"}, c...)},
		{"", append([]string{"rotate", "ml-prod", "--yes"}, c...)}, // an OAuth secret binding
		{"", append([]string{"rotate", "etl-prod", "--yes"}, c...)},
		{"", append([]string{"rotate", "--due", "--yes"}, c...)},
		{leaked + "\n", append([]string{"revoke", "--leaked", "--yes"}, c...)},
		{"", append([]string{"revoke", "--owner", "reporting-bot", "--yes"}, c...)},
		{"", append([]string{"sync", "--apply", "--yes", "--max-changes", "100"}, c...)},
		{"", append([]string{"sync", "--apply", "--yes", "--output", "json", "--max-changes", "100"}, c...)},
		{"", append([]string{"audit", "verify"}, c...)},
		{"", append([]string{"config", "validate"}, c...)},
	}
	var outputs []string
	for _, r := range runs {
		res := runCLI(t, env, r.stdin, r.args...)
		outputs = append(outputs, res.out, res.err)
		if !strings.Contains(res.err, "[DEBUG]") && r.args[0] != "audit" && r.args[0] != "config" {
			t.Errorf("%v: no SDK debug output, so the test proves little:\n%.500s", r.args, res.err)
		}
	}
	// Values typed where a name belongs are refused, never echoed.
	for _, secret := range []string{leaked, o.org.Creds.BitbucketAPIToken, o.org.Creds.AtlassianAdminKey} {
		for _, args := range [][]string{
			{"revoke", "--token-id", secret},
			{"revoke", "--owner", secret},
			{"revoke", "--leaked=" + secret},
			{"rotate", secret},
			{"tokens", "--owner", secret},
			{"sync", "--config", secret},
		} {
			res := runCLI(t, env, "", append(args, c...)...)
			if res.code != 1 {
				t.Errorf("%s …: exit %d, want 1", args[0], res.code)
			}
			if strings.Contains(args[1], "--leaked=") && !strings.Contains(res.err, "pipe the token in") {
				t.Errorf("--leaked=VALUE: no stdin hint: %q", res.err)
			}
			outputs = append(outputs, res.out, res.err)
		}
	}
	// Every file the runs wrote: the audit log, the config directory.
	var files int
	filepath.WalkDir(o.root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			outputs = append(outputs, string(b))
			files++
		}
		return nil
	})
	secrets := o.secrets()
	assertNoSecrets(t, o, outputs...)
	// Nor a long piece of one (a debug dump cut short).
	for _, s := range secrets {
		if len(s) < 24 {
			continue
		}
		for _, out := range outputs {
			if strings.Contains(out, s[:20]) {
				t.Fatalf("the first 20 characters of a credential (%s…) appear in the output", s[:4])
			}
		}
	}
	t.Logf("%d outputs and %d files searched for %d credential values: 0 hits", len(outputs)-files, files, len(secrets))
}
