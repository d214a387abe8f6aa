package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/iam"
)

// Credentials revokes Databricks credentials (by id, by owner, by a leaked
// value) and rotates pipeline bindings by the rotation protocol of DESIGN.md,
// through the Databricks and Bitbucket adapters. Every action is audited. No
// credential value ever reaches its errors, logs, results or the audit log;
// Redact is the only form in which one is shown.
type Credentials struct {
	Databricks *Databricks
	Bitbucket  *Bitbucket // rotation only
	Config     *config.Config
	AuditFile  string    // "" writes no audit log
	Audit      AuditSink // nil: the local log at AuditFile
	Operator   Operator
	Log        *slog.Logger     // nil: slog.Default()
	Now        func() time.Time // nil: time.Now

	// beforeStep, when set (tests), runs before each rotation step.
	beforeStep func(context.Context, RotationStep)
	// beforeFinish, when set (tests), runs before each step of a federation's phase 2.
	beforeFinish func(context.Context, FinishStep)
	// afterStep, when set (tests), runs after each step's calls, before its
	// outcome is audited.
	afterStep func(context.Context, RotationStep)
}

// Credentials is the revoke and rotate service over these sources for cfg,
// audited to cfg.Audit.File; the caller sets Operator, Now and Log.
func (s Sources) Credentials(cfg *config.Config) (*Credentials, error) {
	db, ok := s.Databricks.(*Databricks)
	if !ok {
		return nil, errors.New("the Databricks adapter cannot revoke or rotate")
	}
	bb, _ := s.Bitbucket.(*Bitbucket)
	return &Credentials{Databricks: db, Bitbucket: bb, Config: cfg, AuditFile: cfg.Audit.File, Audit: s.Audit}, nil
}

// Redact shows a credential value as its first and last four characters,
// "dapi…1a2b"; a value too short to hide anything becomes "…".
func Redact(value string) string {
	r := []rune(value)
	if len(r) < 16 {
		return "…"
	}
	return string(r[:4]) + "…" + string(r[len(r)-4:])
}

func (c *Credentials) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Credentials) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

// journal audits the actions of one operation. An audit log that cannot be
// written does not stop an operation half way: the first failure is kept
// and reported with the operation's outcome.
type journal struct {
	c   *Credentials
	err error
}

func (c *Credentials) journal() *journal { return &journal{c: c} }

func (j *journal) record(action, target string, err error) {
	if err != nil {
		j.write(action, target, ResultFailed, oneLine(err))
		return
	}
	j.write(action, target, ResultApplied, "")
}

// skip audits an action deliberately not taken, and why.
func (j *journal) skip(action, target, why string) { j.write(action, target, ResultSkipped, why) }

// intent audits an action about to be taken: no audit, no action, so an
// error means the action must not be taken.
func (j *journal) intent(ctx context.Context, action, target string) error {
	// No lease, no action either (see Apply).
	if err := confirmLease(ctx, ""); err != nil {
		return err
	}
	a := j.c.audit()
	if a == nil {
		return nil
	}
	ev := AuditEvent{Time: j.c.now().UTC(), Operator: j.c.Operator, Action: action, Target: j.c.auditTarget(target), Result: ResultIntent}
	if err := a.Append(ctx, ev); err != nil {
		return &AuditWriteError{Where: a.Where(), Err: err}
	}
	return nil
}

// audit is where the service's events go, or nil for nowhere.
func (c *Credentials) audit() AuditSink {
	if c.Audit != nil {
		return c.Audit
	}
	if c.AuditFile == "" {
		return nil
	}
	return &FileAudit{Path: c.AuditFile, Warn: func(msg string) { c.log().Warn(msg) }}
}

func (j *journal) write(action, target, result, msg string) {
	a := j.c.audit()
	if a == nil {
		return
	}
	ev := AuditEvent{Time: j.c.now().UTC(), Operator: j.c.Operator, Action: action, Target: j.c.auditTarget(target), Result: result, Error: msg}
	if aerr := a.Append(context.Background(), ev); aerr != nil {
		j.c.log().Error("audit log not written", "action", action, "target", target, "err", aerr)
		if j.err == nil {
			j.err = fmt.Errorf("write audit log: %w", aerr)
		}
	}
}

// done returns err with the journal's audit failure, if any, added.
func (j *journal) done(err error) error {
	if j.err == nil {
		return err
	}
	if err == nil {
		return j.err
	}
	return errors.Join(err, j.err)
}

// scrub keeps credential values out of an error: an error whose text shows
// one of values becomes its one-line text with the value redacted.
func scrub(err error, values ...string) error {
	if err == nil {
		return nil
	}
	msg, full, hit := oneLine(err), err.Error(), false
	for _, v := range values {
		if v != "" && (strings.Contains(msg, v) || strings.Contains(full, v)) {
			msg, hit = strings.ReplaceAll(msg, v, Redact(v)), true
		}
	}
	if !hit {
		return err
	}
	return errors.New(msg)
}

// probe calls SCIM Me with a client of its own, built from cfg's auth alone: no
// environment, profile or host metadata, and the admin client's timeouts.
// It checks a credential (a new one, or a leaked one) without touching the
// admin client's.
func (c *Credentials) probe(ctx context.Context, cfg *databricks.Config) (*iam.User, error) {
	base := c.Databricks.w.Config
	cfg.Host = base.Host
	cfg.RetryTimeoutSeconds, cfg.HTTPTimeoutSeconds = base.RetryTimeoutSeconds, base.HTTPTimeoutSeconds
	w, err := databricks.NewWorkspaceClient(isolate(cfg))
	if err != nil {
		return nil, err
	}
	return w.CurrentUser.Me(ctx)
}

// servicePrincipal finds a service principal by display name (ignoring
// case) or application id.
func (c *Credentials) servicePrincipal(ctx context.Context, name string) (*ServicePrincipal, error) {
	sp, err := c.findServicePrincipal(ctx, name)
	if err == nil && sp == nil {
		err = fmt.Errorf("no Databricks service principal %q in %s (check the display name or application id)", name, c.Databricks.Host())
	}
	return sp, err
}

// findServicePrincipal is servicePrincipal with nil, nil for none.
func (c *Credentials) findServicePrincipal(ctx context.Context, name string) (*ServicePrincipal, error) {
	sps, err := c.Databricks.ServicePrincipals(ctx)
	if err != nil {
		return nil, err
	}
	for _, sp := range sps {
		if sp.Named(name) {
			return sp, nil
		}
	}
	return nil, nil
}

// named reports whether a service principal is called name in a config:
// by display name (ignoring case) or application id.
func named(name, displayName, applicationID string) bool {
	return strings.EqualFold(name, displayName) || strings.EqualFold(name, applicationID)
}

// tokensOf lists the tokens owned by one principal, named owner.
func (c *Credentials) tokensOf(ctx context.Context, ownerID, owner string, ownerType PrincipalType) ([]Credential, error) {
	all, err := c.Databricks.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	var out []Credential
	for _, t := range all {
		if t.OwnerID == ownerID {
			t.Owner, t.OwnerType = owner, ownerType
			if ownerType == PrincipalServicePrincipal {
				t.Kind = CredentialOBO
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// secretsOf lists a service principal's OAuth secrets.
func (c *Credentials) secretsOf(ctx context.Context, sp *ServicePrincipal) ([]Credential, error) {
	ss, err := c.Databricks.Secrets(ctx, sp.ID)
	for i := range ss {
		ss[i].Owner = sp.DisplayName
	}
	return ss, err
}

// Principal is a credential owner: a user or a service principal.
type Principal struct {
	ID            string
	Name          string // userName, or the service principal's display name
	Type          PrincipalType
	ApplicationID string // service principals only
}

// principal reads the user or service principal with SCIM id id.
func (c *Credentials) principal(ctx context.Context, id string) (Principal, error) {
	w := c.Databricks.w
	sp, err := w.ServicePrincipalsV2.Get(ctx, iam.GetServicePrincipalRequest{Id: id})
	if err == nil {
		return Principal{ID: id, Name: sp.DisplayName, Type: PrincipalServicePrincipal, ApplicationID: sp.ApplicationId}, nil
	}
	if !apierr.IsMissing(err) {
		return Principal{}, fmt.Errorf("read principal %s: %w", id, err)
	}
	u, err := w.UsersV2.Get(ctx, iam.GetUserRequest{Id: id})
	if err != nil {
		return Principal{}, fmt.Errorf("read principal %s: %w", id, err)
	}
	return Principal{ID: id, Name: u.UserName, Type: PrincipalUser}, nil
}

// revoke revokes one token or OAuth secret (one already gone counts as
// revoked) and audits it.
func (c *Credentials) revoke(ctx context.Context, j *journal, cr Credential) error {
	if cr.Kind == CredentialAtlassianToken {
		// The Admin API only lists them; revocation is in Atlassian Administration.
		return fmt.Errorf("Atlassian API token %s of %s: bitbricks cannot revoke it; revoke it in Atlassian Administration (admin.atlassian.com → Security → API tokens)", cr.ID, cr.Owner)
	}
	ch := Change{Action: ActionRevokeToken, TokenID: cr.ID, Principal: cr.Owner, PrincipalID: cr.OwnerID}
	if cr.Kind == CredentialOAuthSecret {
		ch.Action = ActionRevokeSecret
	}
	action, target := ch.Action, ch.AuditTarget() // as a planned revocation is audited
	if err := j.intent(ctx, action.String(), target); err != nil {
		return err
	}
	var err error
	if cr.Kind == CredentialOAuthSecret {
		err = c.Databricks.RevokeSecret(ctx, ch)
	} else {
		err = c.Databricks.RevokeToken(ctx, ch)
	}
	j.record(action.String(), target, err)
	if err == nil {
		c.log().Info("credential revoked", "kind", cr.Kind, "id", cr.ID, "owner", cr.Owner)
	}
	return err
}
