package sync

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/config"
)

// Credential status flags, in the order Inventory reports them.
const (
	FlagOverAge          = "over_age"           // older than policy.token_max_age
	FlagWarnAge          = "warn_age"           // older than policy.token_warn_age, not yet over_age
	FlagNoExpiry         = "no_expiry"          // never expires
	FlagStale            = "stale"              // token unused for StaleAfter (never used: since creation)
	FlagExpiring         = "expiring"           // expires within ExpiringWithin
	FlagOverWorkspaceMax = "over_workspace_max" // token older than the workspace maxTokenLifetimeDays
	FlagSecretLimit      = "secret_limit"       // OAuth secret of a service principal holding 4 or 5
	FlagBound            = "bound"              // the credential a pipeline binding records
	FlagOrphaned         = "orphaned"           // made for a binding (comment marker) but not recorded by it
)

// AllFlags lists every credential status flag, e.g. for --status completion.
func AllFlags() []string {
	return []string{FlagOverAge, FlagWarnAge, FlagNoExpiry, FlagStale, FlagExpiring,
		FlagOverWorkspaceMax, FlagSecretLimit, FlagBound, FlagOrphaned}
}

// BindingMarker is the comment prefix of credentials created for a binding.
const BindingMarker = "bitbricks:"

// CredentialStatus is one credential with its age and policy status.
type CredentialStatus struct {
	Credential
	Age   time.Duration
	Flags []string
	// Workspace is the workspace of a token when the config lists several
	// (an account's service principal secret: the first workspace that
	// lists it); "" with one.
	Workspace string
}

// Has reports whether s carries flag.
func (s CredentialStatus) Has(flag string) bool { return slices.Contains(s.Flags, flag) }

// Inventory lists every credential of snap with its age and flags, oldest
// first (then by id).
func Inventory(snap *Snapshot, cfg *config.Config, now time.Time) []CredentialStatus {
	pol := cfg.Policy
	secrets := secretCounts(snap)
	recorded := map[string]bool{}
	for _, b := range snap.Bindings {
		if b.RecordedID != "" {
			recorded[b.RecordedID] = true
		}
	}
	out := make([]CredentialStatus, 0, len(snap.Credentials))
	for _, c := range snap.Credentials {
		s := CredentialStatus{Credential: c, Age: now.Sub(c.Created), Flags: []string{}}
		flag := func(on bool, f string) {
			if on {
				s.Flags = append(s.Flags, f)
			}
		}
		over := pol.TokenMaxAge > 0 && s.Age > pol.TokenMaxAge.Std()
		flag(over, FlagOverAge)
		flag(!over && pol.TokenWarnAge > 0 && s.Age > pol.TokenWarnAge.Std(), FlagWarnAge)
		flag(c.Expiry.IsZero(), FlagNoExpiry)
		idle, _ := idleFor(c, now)
		flag(isTokenKind(c.Kind) && idle >= StaleAfter, FlagStale)
		flag(!c.Expiry.IsZero() && c.Expiry.After(now) && c.Expiry.Sub(now) <= ExpiringWithin, FlagExpiring)
		flag(isTokenKind(c.Kind) && snap.MaxTokenDays > 0 && s.Age > time.Duration(snap.MaxTokenDays)*24*time.Hour, FlagOverWorkspaceMax)
		flag(c.Kind == CredentialOAuthSecret && secrets[c.OwnerID] >= SecretLimitFrom, FlagSecretLimit)
		flag(c.Kind != CredentialAtlassianToken && recorded[c.ID], FlagBound)
		flag(orphaned(snap, cfg, c), FlagOrphaned)
		out = append(out, s)
	}
	return sortedStable(out, func(i, j int) int {
		a, b := &out[i], &out[j]
		return cmp.Or(cmp.Compare(b.Age, a.Age), cmp.Compare(a.ID, b.ID))
	})
}

// orphaned reports whether c carries the marker of a binding that does not
// record it: left over from a rotation, or from a binding no longer
// configured. A binding whose variables could not be read decides nothing.
func orphaned(snap *Snapshot, cfg *config.Config, c Credential) bool {
	rest, ok := strings.CutPrefix(c.Comment, BindingMarker)
	if !ok {
		return false
	}
	name, _, ok := strings.Cut(rest, ":")
	if !ok || name == "" {
		return false
	}
	st := snap.Bindings[name]
	if st == nil {
		_, configured := cfg.BindingByName(name)
		return !configured
	}
	return st.Known && st.RecordedID != c.ID
}

// InventoryFilter selects credentials; zero fields match everything.
type InventoryFilter struct {
	Owner     string        // substring of the owner, ignoring case
	OlderThan time.Duration // age strictly greater
	Flag      string        // carries this flag
}

// Match reports whether s passes f.
func (f InventoryFilter) Match(s CredentialStatus) bool {
	return (f.Owner == "" || strings.Contains(strings.ToLower(s.Owner), strings.ToLower(f.Owner))) &&
		(f.OlderThan <= 0 || s.Age > f.OlderThan) &&
		(f.Flag == "" || s.Has(f.Flag))
}

// FilterInventory returns the statuses that pass f, in their order.
func FilterInventory(list []CredentialStatus, f InventoryFilter) []CredentialStatus {
	out := []CredentialStatus{}
	for _, s := range list {
		if f.Match(s) {
			out = append(out, s)
		}
	}
	return out
}
