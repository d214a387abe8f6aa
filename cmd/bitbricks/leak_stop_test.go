package main

import (
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// The leaked value is the token a pipeline runs on, and the pipeline's
// rotation fails: the token is not revoked before its binding records a new
// one, so the search stops there; the output says the leak was not revoked,
// what was done (the other tokens, searched), what was not, and that
// `bitbricks rotate etl-prod` comes next; the failure is said once; exit 1.
func TestLeakOfAPipelineTokenWhoseRotationFails(t *testing.T) {
	o := newTestOrg(t)
	recorded := variableOf(o, "etl-prod", "DATABRICKS_TOKEN_ID")
	o.org.Mu.Lock()
	tok := o.org.DB.Tokens[recorded]
	value := ""
	if tok != nil {
		value = tok.Value
	}
	o.org.Mu.Unlock()
	if value == "" {
		t.Fatal("etl-prod records no live token")
	}
	o.srv.SetFaults([]emulator.FaultRule{{Route: "/2.0/repositories/**", Method: "PUT", Kind: emulator.Fault500}})
	r := runCLI(t, o.env, value+"\n", "revoke", "--leaked", "--yes", "--config", o.cfg)
	t.Logf("stdout:\n%s\nstderr:\n%s", r.out, r.err)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	if !alive(o, value) {
		t.Fatal("the pipeline's token was revoked although its rotation failed")
	}
	for _, want := range []string{
		"was not revoked: pipeline etl-prod runs on obo " + recorded,
		"  done: revoked 2 tokens of etl-deployer while searching",
		"  not done: the search stopped there: 1 token not tried (" + recorded + ")",
		"  next: bitbricks rotate etl-prod, then bitbricks revoke --leaked again",
		"✗ etl-prod was not rotated",
		"STILL AUTHENTICATES",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if n := strings.Count(r.out+r.err, "injected by the emulator"); n != 1 {
		t.Errorf("the rotation's failure is said %d times, want once", n)
	}
	assertNoSecrets(t, o, r.out, r.err)
}
