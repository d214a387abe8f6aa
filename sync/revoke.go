package sync

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
	Status     int // the HTTP status of the refusal; 0 without one (no answer)
}

// RevokeToken revokes one token by id and returns it.
func (c *Credentials) RevokeToken(ctx context.Context, id string) (Credential, error) {
	t, err := c.lookupToken(ctx, id)
	if err != nil {
		return Credential{}, err
	}
	j := c.journal()
	return t, j.done(c.revoke(ctx, j, t))
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
			out.Failed = append(out.Failed, RevokeFailure{Credential: cr, Error: oneLine(err), Status: httpStatus(err)})
			errs = append(errs, err)
			continue
		}
		out.Revoked = append(out.Revoked, cr)
	}
	return out, j.done(errors.Join(errs...))
}
