package sync

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bitbricks/bitbricks/config"
	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/iam"
)

// Revocation is what revoking several credentials did.
type Revocation struct {
	Revoked []Credential
	Failed  []RevokeFailure
}

// RevokeFailure is a credential that could not be revoked.
type RevokeFailure struct {
	Credential Credential
	Error      string
}

// RevokeToken revokes one token by id and returns it.
func (c *Credentials) RevokeToken(ctx context.Context, id string) (Credential, error) {
	j := c.journal()
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
		return t, j.done(c.revoke(ctx, j, t))
	}
	return Credential{}, fmt.Errorf("no token %s in %s: already revoked or expired? (`bitbricks tokens` lists them)", id, c.Databricks.Host())
}

// RevokeSecret revokes one OAuth secret of a service principal (by display
// name or application id) and returns it.
func (c *Credentials) RevokeSecret(ctx context.Context, servicePrincipal, id string) (Credential, error) {
	j := c.journal()
	sp, err := c.servicePrincipal(ctx, servicePrincipal)
	if err != nil {
		return Credential{}, err
	}
	ss, err := c.secretsOf(ctx, sp)
	if err != nil {
		return Credential{}, err
	}
	var ids []string
	for _, s := range ss {
		if s.ID == id {
			return s, j.done(c.revoke(ctx, j, s))
		}
		ids = append(ids, s.ID)
	}
	return Credential{}, fmt.Errorf("service principal %s has no OAuth secret %s (it has: %s)", sp.DisplayName, id, strings.Join(ids, ", "))
}

// Owned is every credential of one principal, listed before any is revoked
// so that they can be shown and counted first.
type Owned struct {
	Principal   Principal
	Credentials []Credential
	// Unknown says what could not be listed ("" when the list is complete).
	Unknown string
	// Problems are the lists that could not be read: the run exits 1.
	Problems []Problem
}

// OwnerCredentials lists every credential of the user (by userName) or
// service principal (by display name or application id) called name: its
// tokens and, for a service principal, its OAuth secrets.
func (c *Credentials) OwnerCredentials(ctx context.Context, name string) (Owned, error) {
	var o Owned
	sp, err := c.findServicePrincipal(ctx, name)
	switch {
	case err != nil:
		return o, err
	case sp != nil:
		o.Principal = Principal{ID: sp.ID, Name: sp.DisplayName, Type: PrincipalServicePrincipal, ApplicationID: sp.ApplicationID}
	default:
		us, err := c.Databricks.w.UsersV2.ListAll(ctx, iam.ListUsersRequest{Filter: fmt.Sprintf("userName eq %q", name), Attributes: "id,userName"})
		if err != nil {
			return o, fmt.Errorf("find user %s: %w", name, err)
		}
		if len(us) != 1 {
			return o, fmt.Errorf("no Databricks user or service principal %q in %s (users by userName, service principals by display name or application id)", name, c.Databricks.Host())
		}
		o.Principal = Principal{ID: us[0].Id, Name: us[0].UserName, Type: PrincipalUser}
	}
	p := o.Principal
	ts, err := c.tokensOf(ctx, p.ID, p.Name, p.Type)
	if err != nil {
		return o, err
	}
	o.Credentials = ts
	if sp != nil {
		ss, err := c.secretsOf(ctx, sp)
		if err != nil {
			o.Unknown = "OAuth secrets: " + oneLine(err)
			o.Problems = append(o.Problems, Problem{System: SystemDatabricks, What: "OAuth secrets of " + sp.DisplayName, Status: httpStatus(err), Detail: oneLine(err)})
		}
		o.Credentials = append(o.Credentials, ss...)
	}
	return o, nil
}

// RevokeCredentials revokes each of creds (tokens and OAuth secrets), going
// on past failures, which the error joins.
func (c *Credentials) RevokeCredentials(ctx context.Context, creds []Credential) (Revocation, error) {
	j := c.journal()
	var out Revocation
	var errs []error
	for _, cr := range creds {
		if err := c.revoke(ctx, j, cr); err != nil {
			out.Failed = append(out.Failed, RevokeFailure{Credential: cr, Error: oneLine(err)})
			errs = append(errs, err)
			continue
		}
		out.Revoked = append(out.Revoked, cr)
	}
	return out, j.done(errors.Join(errs...))
}

// Leak is what a leaked token value gives away, found before anything
// changes. It never holds or shows the value.
type Leak struct {
	Redacted string // the value, redacted
	Owner    Principal
	Tokens   []Credential     // every token of the owner: all are revoked
	Bindings []config.Binding // the owner's token bindings, rotated first so pipelines keep working

	stillValid func(context.Context) error // SCIM Me with the leaked value
}

// LeakRevocation is what revoking a leak did.
type LeakRevocation struct {
	Revocation
	Rotations []RotationResult
	// StillValid is true when the leaked value authenticates even after
	// everything was revoked (it should not).
	StillValid bool
}

// FindLeaked learns whose token value is: SCIM Me with the value itself (a
// client of its own, isolated from any other configuration), then the
// owner's tokens through token management. value is never logged, returned
// or put in an error.
func (c *Credentials) FindLeaked(ctx context.Context, value string) (*Leak, error) {
	value = strings.TrimSpace(value)
	me := func(ctx context.Context) (*iam.User, error) {
		u, err := c.probe(ctx, &databricks.Config{AuthType: "pat", Token: value})
		return u, scrub(err, value)
	}
	leak := &Leak{Redacted: Redact(value), stillValid: func(ctx context.Context) error {
		_, err := me(ctx)
		return err
	}}
	j := c.journal()
	target := "token:" + leak.Redacted
	u, err := me(ctx)
	switch {
	case isAuth(err):
		err = fmt.Errorf("the token %s does not authenticate at %s: already revoked, expired, or not of this workspace", leak.Redacted, c.Databricks.Host())
	case err != nil:
		err = fmt.Errorf("look up the owner of token %s: %w", leak.Redacted, err)
	default:
		if leak.Owner, err = c.principal(ctx, u.Id); err == nil {
			target += " owner:" + leak.Owner.Name
			leak.Tokens, err = c.tokensOf(ctx, leak.Owner.ID, leak.Owner.Name, leak.Owner.Type)
		}
	}
	j.record("lookup_leaked_token", target, err)
	if err != nil {
		return nil, j.done(err)
	}
	if o := leak.Owner; o.Type == PrincipalServicePrincipal {
		for _, b := range c.Config.Pipelines {
			if b.Credential == config.CredentialPAT && named(b.ServicePrincipal, o.Name, o.ApplicationID) {
				leak.Bindings = append(leak.Bindings, b)
			}
		}
	}
	c.log().Info("leaked token traced", "token", leak.Redacted, "owner", leak.Owner.Name, "tokens", len(leak.Tokens), "bindings", len(leak.Bindings))
	return leak, j.done(nil)
}

// RevokeLeaked rotates the leak's bindings first, then revokes every other
// token of the owner, then checks that the leaked value no longer
// authenticates. A binding that fails to rotate does not stop the
// revocation: containing the leak comes first, and the error says which
// pipeline needs attention.
func (c *Credentials) RevokeLeaked(ctx context.Context, leak *Leak) (LeakRevocation, error) {
	var out LeakRevocation
	var errs []error
	gone := map[string]bool{}
	for _, b := range leak.Bindings {
		res, err := c.RotateBinding(ctx, b)
		if errors.As(err, new(*FederatedError)) {
			continue // nothing stored to keep working: the pipeline authenticates by OIDC
		}
		out.Rotations = append(out.Rotations, res)
		errs = append(errs, err)
		for _, id := range res.Revoked {
			gone[id] = true
		}
	}
	var rest []Credential
	for _, t := range leak.Tokens {
		if gone[t.ID] {
			out.Revoked = append(out.Revoked, t)
		} else {
			rest = append(rest, t)
		}
	}
	rev, err := c.RevokeCredentials(ctx, rest)
	out.Revoked, out.Failed = append(out.Revoked, rev.Revoked...), rev.Failed
	errs = append(errs, err)
	if leak.stillValid != nil {
		switch err := leak.stillValid(ctx); {
		case err == nil:
			out.StillValid = true
			errs = append(errs, fmt.Errorf("the leaked token %s still authenticates after every token of %s was revoked", leak.Redacted, leak.Owner.Name))
		case !isAuth(err):
			errs = append(errs, fmt.Errorf("check that the leaked token %s no longer authenticates: %s", leak.Redacted, oneLine(err)))
		}
	}
	return out, errors.Join(errs...)
}
