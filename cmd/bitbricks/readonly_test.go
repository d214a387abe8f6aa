package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// TestReadOnlyRefusesEveryMutatingCommand: with --read-only or
// BITBRICKS_READ_ONLY=1, every command that writes exits 3 and sends no
// request at all (the emulator counts none, so certainly no write).
func TestReadOnlyRefusesEveryMutatingCommand(t *testing.T) {
	o := newTestOrg(t)
	cmds := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"sync --apply", "", []string{"sync", "--apply", "--yes"}},
		{"--apply", "", []string{"--apply", "--yes"}},
		{"revoke --token-id", "", []string{"revoke", "--token-id", "0e9c80442d063f7ed17a7d7831813344", "--yes"}},
		{"revoke --owner", "", []string{"revoke", "--owner", "hana@acme.com", "--yes"}},
		{"revoke --secret-id", "", []string{"revoke", "--secret-id", "s1", "--service-principal", "ml-deployer", "--yes"}},
		{"revoke --leaked", o.org.Creds.DatabricksToken + "\n", []string{"revoke", "--leaked", "--yes"}},
		{"rotate BINDING", "", []string{"rotate", "etl-prod", "--yes"}},
		{"rotate --due", "", []string{"rotate", "--due", "--yes"}},
		{"federate", "", []string{"federate", "etl-prod", "--yes"}},
		{"federate --finish", "", []string{"federate", "etl-prod", "--finish", "--yes"}},
	}
	for _, how := range []struct {
		name string
		env  map[string]string
		flag []string
	}{
		{"flag", o.env, []string{"--read-only"}},
		{"env", withEnv(o.env, "BITBRICKS_READ_ONLY", "1"), nil},
	} {
		for _, c := range cmds {
			t.Run(how.name+"/"+c.name, func(t *testing.T) {
				o.srv.ResetStats()
				args := append(append(slices.Clone(c.args), "--config", o.cfg), how.flag...)
				r := runCLI(t, how.env, c.stdin, args...)
				if r.code != 3 || !strings.Contains(r.err, "read-only") {
					t.Fatalf("exit %d, want 3 with a read-only refusal: %s", r.code, r.err)
				}
				if st := o.srv.Stats(); st.Total != 0 {
					t.Errorf("%d requests in read-only mode: %v", st.Total, st.Routes)
				}
				if lines := strings.Count(strings.TrimSpace(r.err), "\n") + 1; lines != 1 {
					t.Errorf("refusal is %d lines: %q", lines, r.err)
				}
				assertNoSecrets(t, o, r.out, r.err)
			})
		}
	}

	// Plans and listings still run in read-only mode.
	o.srv.ResetStats()
	if r := runCLI(t, o.env, "", "sync", "--read-only", "--config", o.cfg); r.code != 0 {
		t.Errorf("sync (plan) in read-only mode: exit %d: %s", r.code, r.err)
	}
	if r := runCLI(t, o.env, "", "tokens", "--read-only", "--config", o.cfg); r.code != 0 {
		t.Errorf("tokens in read-only mode: exit %d: %s", r.code, r.err)
	}
	if n := writeRequests(o); n != 0 {
		t.Errorf("plan and listing sent %d write requests: %v", n, o.srv.Stats().Routes)
	}
}

// TestEveryCommandDeclaresWhetherItWrites: a command that changes Databricks
// or Bitbucket carries the mutates annotation (the read-only guard reads it);
// the others are listed here. A new command must be one or the other.
func TestEveryCommandDeclaresWhetherItWrites(t *testing.T) {
	readOnly := []string{"tokens", "emulate", "config", "audit", "version", "completion", "help", "bench", "pipelines"}
	root := newRootCmd(&ioStreams{Getenv: func(string) string { return "" }})
	for _, c := range root.Commands() {
		if _, ok := c.Annotations[mutatesKey]; ok || slices.Contains(readOnly, c.Name()) {
			continue
		}
		t.Errorf("command %q neither carries the %s annotation nor is listed as read-only", c.Name(), mutatesKey)
	}
}

func withEnv(env map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for key, val := range env {
		out[key] = val
	}
	return out
}

// TestEmptyWorkspaceMembersRevokeNobody is the failure end to end: the
// Bitbucket workspace member list answers empty, and `sync --apply --yes`
// must not take eve's token (she is still a member) nor anyone's as
// departed. Once the list reads true again, the departed (fay, gus) lose
// theirs and eve keeps hers.
func TestEmptyWorkspaceMembersRevokeNobody(t *testing.T) {
	o := newTestOrg(t)
	tokensOf := func(nick string) []string {
		o.org.Mu.Lock()
		defer o.org.Mu.Unlock()
		var ids []string
		for id, tok := range o.org.DB.Tokens {
			if u := o.org.DB.Users[tok.OwnerID]; u != nil && u.UserName == nick+"@acme.com" {
				ids = append(ids, id)
			}
		}
		return ids
	}
	eve, fay, gus := tokensOf("eve"), tokensOf("fay"), tokensOf("gus")
	if len(eve) == 0 || len(fay) != 2 || len(gus) != 1 {
		t.Fatalf("seed: eve %v, fay %v, gus %v", eve, fay, gus)
	}
	o.srv.SetFaults([]emulator.FaultRule{{Route: "/2.0/workspaces/{workspace}/members", Kind: emulator.FaultEmptyMembers}})
	r := runCLI(t, o.env, "", "sync", "--apply", "--yes", "--max-changes", "100", "--config", o.cfg)
	if r.code == 3 {
		t.Fatalf("refused: %s", r.err)
	}
	for _, who := range []struct {
		name string
		ids  []string
	}{{"eve", eve}, {"fay", fay}, {"gus", gus}} {
		if got := tokensOf(who.name); len(got) != len(who.ids) {
			t.Errorf("with an empty member list, %s's tokens went from %d to %d", who.name, len(who.ids), len(got))
		}
	}
	if !strings.Contains(r.out, "departed_unknown") || !strings.Contains(r.out, "implausible answer") {
		t.Errorf("the plan does not say why nobody is departed:\n%s", r.out)
	}
	if strings.Contains(r.out, "left the Bitbucket workspace") {
		t.Errorf("a token was revoked as departed:\n%s", r.out)
	}

	// The same organisation read true (a fresh one: the apply above removed
	// fay and gus from the mapped groups, the only place departure shows).
	o = newTestOrg(t)
	r = runCLI(t, o.env, "", "sync", "--apply", "--yes", "--max-changes", "100", "--config", o.cfg)
	if r.code != 0 {
		t.Fatalf("second apply: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	if len(tokensOf("fay")) != 0 || len(tokensOf("gus")) != 0 {
		t.Errorf("departed fay and gus keep tokens: %v %v\n%s", tokensOf("fay"), tokensOf("gus"), r.out)
	}
	if len(tokensOf("eve")) != len(eve) {
		t.Errorf("eve, still a member, lost a token:\n%s", r.out)
	}
}
