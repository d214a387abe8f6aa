package sync

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bitbricks/bitbricks/config"
)

// RevokeCheck says why revoking one credential needs more than a yes: its
// owner is protected, it may be the credential bitbricks itself is using,
// or a pipeline binding holds it.
type RevokeCheck struct {
	Credential Credential
	Protected  bool   // the owner is in policy.protected
	Self       bool   // the owner is the identity bitbricks authenticates as
	Binding    string // the binding whose <VARIABLE>_ID records it
}

// NeedsForce reports whether the revocation needs --force (or, in the
// console, the explicit line of the dialog).
func (r RevokeCheck) NeedsForce() bool { return r.Protected || r.Self || r.Binding != "" }

// Lines says each reason in one line, with what to do instead.
func (r RevokeCheck) Lines() []string {
	c := r.Credential
	what := fmt.Sprintf("%s %s of %s", kindWord(c.Kind), c.ID, c.Owner)
	var out []string
	if r.Protected {
		out = append(out, fmt.Sprintf("%s: %s is protected by policy.protected", what, c.Owner))
	}
	if r.Self {
		out = append(out, fmt.Sprintf("%s: %s is the identity bitbricks is using, so this may be bitbricks' own credential (Databricks cannot say which of its tokens is in use): nothing more can be done after it", what, c.Owner))
	}
	if r.Binding != "" {
		out = append(out, fmt.Sprintf("%s: pipeline binding %s runs on it and breaks when it goes; `bitbricks rotate %s` replaces it without a break", what, r.Binding, r.Binding))
	}
	return out
}

func kindWord(k CredentialKind) string {
	if k == CredentialOAuthSecret {
		return "OAuth secret"
	}
	return "token"
}

// ForceError refuses a manual revocation that needs --force. Nothing was
// changed; it is a safety guard's refusal (exit code 3).
type ForceError struct{ Checks []RevokeCheck }

func (e *ForceError) Error() string {
	var lines []string
	for _, c := range e.Checks {
		lines = append(lines, c.Lines()...)
	}
	return "refused without --force: " + strings.Join(lines, "; ") + "; nothing was revoked"
}

// CheckRevocations says, for each of creds, what makes its revocation need
// --force. Only the credentials that need it are returned.
func (s *Service) CheckRevocations(ctx context.Context, creds []Credential) ([]RevokeCheck, error) {
	if len(s.parts) > 0 {
		return s.checkRevocationsParts(ctx, creds)
	}
	if s.parent != nil && slices.ContainsFunc(creds, func(c Credential) bool { return !isTokenKind(c.Kind) }) {
		// An OAuth secret is the account's: every workspace's bindings guard it.
		return s.parent.checkRevocationsParts(ctx, s.tagged(creds))
	}
	return s.checkRevocationsHere(ctx, creds)
}

// checkRevocationsHere is CheckRevocations with this service's bindings only.
func (s *Service) checkRevocationsHere(ctx context.Context, creds []Credential) ([]RevokeCheck, error) {
	c, err := s.credentials(ctx)
	if err != nil {
		return nil, err
	}
	return c.checkRevocations(ctx, creds)
}

func (c *Credentials) checkRevocations(ctx context.Context, creds []Credential) ([]RevokeCheck, error) {
	me := c.Databricks.Caller()
	bound := map[string]string{}
	read := false
	var out []RevokeCheck
	for _, cr := range creds {
		rc := RevokeCheck{Credential: cr}
		rc.Protected = c.Config.IsProtected(cr.Owner)
		rc.Self = me.ID != "" && cr.OwnerID == me.ID
		if cr.OwnerType == PrincipalServicePrincipal {
			if !read {
				read = true
				for _, b := range c.Config.Pipelines {
					vs, err := c.bindingVars(ctx, b)
					if err != nil {
						return nil, fmt.Errorf("read binding %s to see whether it holds the credential: %w", b.Name, err)
					}
					if id := strings.TrimSpace(vs.byKey[b.Variable+"_ID"].Value); id != "" {
						bound[id] = b.Name
					}
				}
			}
			rc.Binding = bound[cr.ID]
			if sp, err := c.findServicePrincipal(ctx, cr.Owner); err == nil && sp != nil {
				rc.Protected = rc.Protected || c.Config.IsProtected(sp.ApplicationID)
				rc.Self = rc.Self || (me.ID != "" && sp.ID == me.ID)
			}
		}
		if rc.NeedsForce() {
			out = append(out, rc)
		}
	}
	return out, nil
}

// LookupToken finds one token by id without revoking it, its owner named.
func (s *Service) LookupToken(ctx context.Context, id string) (Credential, error) {
	if len(s.parts) > 0 {
		return s.lookupTokenParts(ctx, id)
	}
	c, err := s.credentials(ctx)
	if err != nil {
		return Credential{}, err
	}
	return c.lookupToken(ctx, id)
}

func (c *Credentials) lookupToken(ctx context.Context, id string) (Credential, error) {
	ts, err := c.Databricks.Tokens(ctx)
	if err != nil {
		return Credential{}, err
	}
	for _, t := range ts {
		if t.ID != id {
			continue
		}
		if p, err := c.principal(ctx, t.OwnerID); err == nil {
			t.Owner, t.OwnerType = p.Name, p.Type
			if p.Type == PrincipalServicePrincipal {
				t.Kind = CredentialOBO
			}
		}
		return t, nil
	}
	return Credential{}, fmt.Errorf("no token %s in %s: already revoked or expired? (`bitbricks tokens` lists them)", id, c.Databricks.Host())
}

// LookupSecret finds one OAuth secret of a service principal without
// revoking it.
func (s *Service) LookupSecret(ctx context.Context, servicePrincipal, id string) (Credential, error) {
	if len(s.parts) > 0 {
		return s.lookupSecretParts(ctx, servicePrincipal, id)
	}
	c, err := s.credentials(ctx)
	if err != nil {
		return Credential{}, err
	}
	sp, err := c.servicePrincipal(ctx, servicePrincipal)
	if err != nil {
		return Credential{}, err
	}
	ss, err := c.secretsOf(ctx, sp)
	if err != nil {
		return Credential{}, err
	}
	for _, sec := range ss {
		if sec.ID == id {
			sec.OwnerID, sec.OwnerType = sp.ID, PrincipalServicePrincipal
			return sec, nil
		}
	}
	return Credential{}, fmt.Errorf("service principal %s has no OAuth secret %s", sp.DisplayName, id)
}

// RevokeChecksFrom is CheckRevocations from a snapshot already read (the
// console's): protected owners by policy.protected, the caller by
// snap.Caller, pipeline-held credentials by what each binding records.
func RevokeChecksFrom(snap *Snapshot, cfg *config.Config, creds []Credential) []RevokeCheck {
	if snap == nil || cfg == nil {
		return nil
	}
	bound := map[string]string{}
	for name, st := range snap.Bindings {
		if st != nil && st.RecordedID != "" {
			bound[st.RecordedID] = name
		}
	}
	var out []RevokeCheck
	for _, cr := range creds {
		rc := RevokeCheck{Credential: cr, Binding: bound[cr.ID]}
		names := []string{cr.Owner}
		if sp := snap.SPs[cr.OwnerID]; sp != nil {
			names = append(names, sp.DisplayName, sp.ApplicationID)
		}
		if u := snap.Users[cr.OwnerID]; u != nil {
			names = append(names, u.UserName)
		}
		for _, n := range names {
			if n == "" {
				continue
			}
			rc.Protected = rc.Protected || cfg.IsProtected(n)
			rc.Self = rc.Self || (snap.Caller != "" && strings.EqualFold(n, snap.Caller))
		}
		if rc.NeedsForce() {
			out = append(out, rc)
		}
	}
	return out
}
