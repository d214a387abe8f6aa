package sync

import (
	"slices"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
)

func TestInventory(t *testing.T) {
	snap, cfg := planFixture()
	cfg.Policy.TokenMaxAge, cfg.Policy.TokenWarnAge = planDays(90), planDays(60)
	cfg.Pipelines = []config.Binding{{Name: "etl-prod", ServicePrincipal: "etl-deployer"}, {Name: "unread", ServicePrincipal: "bi-sp"}}
	snap.MaxTokenDays = 100
	snap.Bindings["etl-prod"] = &BindingState{Name: "etl-prod", VariableFound: true, RecordedID: "t-etl", Known: true}
	snap.Bindings["unread"] = &BindingState{Name: "unread", Known: false}
	expiresIn := func(d int) func(*Credential) {
		return func(c *Credential) { c.Expiry = planNow.Add(time.Duration(d) * 24 * time.Hour) }
	}
	comment := func(s string) func(*Credential) { return func(c *Credential) { c.Comment = s } }
	tok := func(c Credential, mod ...func(*Credential)) Credential {
		for _, m := range mod {
			m(&c)
		}
		return c
	}
	snap.Credentials = []Credential{
		planToken("t-new", "alice", 1),
		planToken("t-warn", "alice", 70),
		planToken("t-over", "hal", 120, planNoExpiry, func(c *Credential) { c.LastUsed = planDaysAgo(85) }),
		planToken("t-never", "hal", 81, func(c *Credential) { c.LastUsed = time.Time{} }),
		planToken("t-soon", "bob", 5, expiresIn(3)),
		planToken("t-expired", "bob", 5, expiresIn(-1)),
		tok(planSPCred("t-etl", CredentialOBO, "etl", 10), comment("bitbricks:etl-prod:1764000000")),
		tok(planSPCred("t-etl-left", CredentialOBO, "etl", 12), comment("bitbricks:etl-prod:1763000000")),
		tok(planSPCred("t-gone", CredentialOBO, "etl", 13), comment("bitbricks:deleted:1763000000")),
		tok(planSPCred("t-unread", CredentialOBO, "bi", 14), comment("bitbricks:unread:1763000000")),
		planSPCred("s1", CredentialOAuthSecret, "bi", 20), planSPCred("s2", CredentialOAuthSecret, "bi", 21),
		planSPCred("s3", CredentialOAuthSecret, "bi", 22), planSPCred("s4", CredentialOAuthSecret, "bi", 23),
		planSPCred("s5", CredentialOAuthSecret, "etl", 200),
	}
	inv := Inventory(snap, cfg, planNow)
	want := []struct {
		id    string
		flags []string
	}{
		{"s5", []string{FlagOverAge}},
		{"t-over", []string{FlagOverAge, FlagNoExpiry, FlagStale, FlagOverWorkspaceMax}},
		{"t-never", []string{FlagWarnAge, FlagStale}},
		{"t-warn", []string{FlagWarnAge}},
		{"s4", []string{FlagSecretLimit}},
		{"s3", []string{FlagSecretLimit}},
		{"s2", []string{FlagSecretLimit}},
		{"s1", []string{FlagSecretLimit}},
		{"t-unread", []string{}},
		{"t-gone", []string{FlagOrphaned}},
		{"t-etl-left", []string{FlagOrphaned}},
		{"t-etl", []string{FlagBound}},
		{"t-expired", []string{}},
		{"t-soon", []string{FlagExpiring}},
		{"t-new", []string{}},
	}
	if len(inv) != len(want) {
		t.Fatalf("got %d credentials, want %d", len(inv), len(want))
	}
	for i, w := range want {
		if inv[i].ID != w.id || !slices.Equal(inv[i].Flags, w.flags) {
			t.Errorf("%d: got %s %q, want %s %q", i, inv[i].ID, inv[i].Flags, w.id, w.flags)
		}
	}
	if inv[1].Age != 120*24*time.Hour {
		t.Errorf("age %v", inv[1].Age)
	}

	filters := []struct {
		f    InventoryFilter
		want []string
	}{
		{InventoryFilter{}, []string{"s5", "t-over", "t-never", "t-warn", "s4", "s3", "s2", "s1", "t-unread", "t-gone", "t-etl-left", "t-etl", "t-expired", "t-soon", "t-new"}},
		{InventoryFilter{Owner: "HAL"}, []string{"t-over", "t-never"}},
		{InventoryFilter{OlderThan: 80 * 24 * time.Hour}, []string{"s5", "t-over", "t-never"}},
		{InventoryFilter{Flag: FlagStale}, []string{"t-over", "t-never"}},
		{InventoryFilter{Owner: "etl", OlderThan: 11 * 24 * time.Hour, Flag: FlagOrphaned}, []string{"t-gone", "t-etl-left"}},
		{InventoryFilter{Owner: "nobody"}, nil},
	}
	for _, tc := range filters {
		var got []string
		for _, s := range FilterInventory(inv, tc.f) {
			got = append(got, s.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%+v: got %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestInventoryEmpty(t *testing.T) {
	snap, cfg := planFixture()
	if inv := Inventory(snap, cfg, planNow); inv == nil || len(inv) != 0 {
		t.Errorf("got %v, want empty non-nil", inv)
	}
}
