package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/oauth2"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

// RotationStep is one step of the credential rotation protocol (DESIGN.md);
// 0 is the reading before the first.
type RotationStep int

const (
	StepCreate RotationStep = iota + 1 // create the new credential
	StepVerify                         // SCIM Me with it returns the service principal
	StepWrite                          // write it into the secured variable
	StepRecord                         // record its id in <VARIABLE>_ID
	StepRevoke                         // revoke the binding's older credentials
)

var stepNames = [...]string{"read the binding", "create the new credential", "verify the new credential",
	"write the secured variable", "record the credential id", "revoke older credentials"}

// stepActions name the audit events of steps 1 to 4 (step 5 audits each revocation).
var stepActions = [...]string{StepCreate: "create_credential", StepVerify: "verify_credential",
	StepWrite: "write_variable", StepRecord: "record_credential_id"}

// MarshalText makes a step its description in JSON.
func (s RotationStep) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s RotationStep) String() string {
	if s >= 0 && int(s) < len(stepNames) {
		return stepNames[s]
	}
	return "step " + strconv.Itoa(int(s))
}

// compensateTimeout bounds taking a new credential back after a failure,
// even when the failure was a cancelled context.
const compensateTimeout = 30 * time.Second

// RotationResult is what one rotation did. It holds no credential value.
type RotationResult struct {
	Binding          string
	ServicePrincipal string
	Kind             CredentialKind // CredentialOBO or CredentialOAuthSecret
	NewID            string         // the new credential (recorded in <VARIABLE>_ID once Done reaches StepRecord)
	Redacted         string         // the new value, redacted
	Done             RotationStep   // the last step completed
	Revoked          []string       // older credentials revoked, or the new one after a failure before StepWrite
	Deferred         string         // why older credentials were left for the next rotation; "" when none were
}

// RotationError is a rotation that stopped at Step. State says what it left
// behind: in every case the pipeline keeps a credential that works.
type RotationError struct {
	Binding string
	Step    RotationStep
	State   string
	Err     error
}

func (e *RotationError) Error() string {
	return fmt.Sprintf("rotate %s: %s: %s; %s", e.Binding, e.Step, oneLine(e.Err), e.State)
}

func (e *RotationError) Unwrap() error { return e.Err }

// SecretLimitError refuses to rotate a binding whose service principal
// already holds as many OAuth secrets as the service allows. Nothing changed.
type SecretLimitError struct {
	Binding, ServicePrincipal string
	Held                      int
	Oldest                    string // the oldest secret no binding records: a candidate to revoke
}

func (e *SecretLimitError) Error() string {
	return fmt.Sprintf("rotate %s: %s holds %d of %d OAuth secrets: revoke one with `bitbricks revoke --secret-id %s --service-principal %s`, then rotate again; nothing was changed",
		e.Binding, e.ServicePrincipal, e.Held, SecretLimit, cmp.Or(e.Oldest, "ID"), e.ServicePrincipal)
}

// DueBinding is a binding the plan rotates, and why.
type DueBinding struct {
	Binding config.Binding
	Reason  string
}

// DueBindings lists the bindings ComputePlan rotates: due by rotate_every,
// or with a missing variable, recorded id or credential.
func DueBindings(snap *Snapshot, cfg *config.Config, now time.Time) []DueBinding {
	var out []DueBinding
	for _, ch := range ComputePlan(snap, cfg, now).Changes {
		if ch.Action != ActionRotateCredential {
			continue
		}
		if b, ok := cfg.BindingByName(ch.Binding); ok {
			out = append(out, DueBinding{Binding: b, Reason: ch.Reason})
		}
	}
	return out
}

// RotateBinding rotates one pipeline binding's credential by the protocol:
// create, verify, write the secured variable, record the id, revoke the
// binding's older credentials. A failure before the write revokes the new
// credential; a later one leaves old and new working, and the next rotation
// cleans up: it rotates afresh and revokes only what predates its own new
// credential, so never anything newer than what it records.
func (c *Credentials) RotateBinding(ctx context.Context, b config.Binding) (RotationResult, error) {
	j := c.journal()
	target := "binding:" + b.Name + " service_principal:" + b.ServicePrincipal
	if err := j.intent(ctx, ActionRotateCredential.String(), target); err != nil {
		return RotationResult{Binding: b.Name, ServicePrincipal: b.ServicePrincipal}, err
	}
	res, err := c.rotate(ctx, j, b)
	if errors.As(err, new(*FederatedError)) {
		j.skip(ActionRotateCredential.String(), target, oneLine(err))
	} else {
		j.record(ActionRotateCredential.String(), target, err)
	}
	return res, j.done(err)
}

// Rotate implements Rotator for Apply, which audits the change itself.
func (c *Credentials) Rotate(ctx context.Context, ch Change) error {
	b, ok := c.Config.BindingByName(ch.Binding)
	if !ok {
		return fmt.Errorf("rotate %s: no such binding in the config", ch.Binding)
	}
	j := c.journal()
	_, err := c.rotate(ctx, j, b)
	return j.done(err)
}

// rotation is one run of the protocol for one binding.
type rotation struct {
	c   *Credentials
	j   *journal
	b   config.Binding
	sp  *ServicePrincipal
	vs  *pipelineVars
	old []Credential // the binding's credentials before this run, all older than its new one
	res RotationResult

	recordedAtStart *Credential  // the credential <VARIABLE>_ID recorded when this run began, if live
	leftover        []Credential // earlier runs' credentials the variable may hold: revoked once this run records
	comment         string       // the new OBO token's comment, bitbricks:<binding>:<unix>
}

func (c *Credentials) rotate(ctx context.Context, j *journal, b config.Binding) (RotationResult, error) {
	r := &rotation{c: c, j: j, b: b, res: RotationResult{Binding: b.Name, ServicePrincipal: b.ServicePrincipal, Kind: CredentialOBO}}
	if b.Credential == config.CredentialOAuthSecret {
		r.res.Kind = CredentialOAuthSecret
	}
	if err := r.prepare(ctx); err != nil {
		if errors.As(err, new(*SecretLimitError)) {
			return r.res, err
		}
		return r.res, &RotationError{Binding: b.Name, Err: err, State: "nothing was changed"}
	}
	if _, stored := r.vs.byKey[b.Variable]; !stored && c.Config.Databricks.AccountID != "" {
		// Nothing stored: a policy may trust the pipeline instead. Read the
		// whole federation state only when the service principal has one.
		if ps, err := c.Databricks.FederationPolicies(ctx, r.sp.ID); err == nil && len(ps) > 0 {
			if fs, err := c.readFederation(ctx, b); err == nil && fs.bf.Status == FederationFederated {
				return r.res, &FederatedError{Binding: b.Name}
			}
		}
	}
	var value string // the new credential; it goes nowhere but Databricks and the variable
	steps := []func(context.Context) error{
		StepCreate: func(ctx context.Context) (err error) {
			// The intent first, so a run killed before the id reaches the
			// log still leaves a trace (see leftovers.go).
			r.comment = bindingMarker(b.Name) + strconv.FormatInt(c.now().Unix(), 10)
			if err := r.j.intent(ctx, stepActions[StepCreate], r.target(StepCreate)+" service_principal:"+r.sp.DisplayName+" marker:"+r.comment); err != nil {
				return err
			}
			r.res.NewID, value, err = r.create(ctx)
			r.res.Redacted = Redact(value)
			return err
		},
		StepVerify: func(ctx context.Context) error { return r.verify(ctx, value) },
		StepWrite: func(ctx context.Context) error {
			// Logged before the write: a run killed during it may have left
			// the new credential in the variable.
			if err := r.j.intent(ctx, stepActions[StepWrite], r.target(StepWrite)); err != nil {
				return err
			}
			return r.vs.set(ctx, b.Variable, value, true)
		},
		StepRecord: func(ctx context.Context) error { return r.vs.set(ctx, b.Variable+"_ID", r.res.NewID, false) },
		StepRevoke: r.revokeOlder,
	}
	for step := StepCreate; step <= StepRevoke; step++ {
		if c.beforeStep != nil {
			c.beforeStep(ctx, step)
		}
		err := ctx.Err()
		if err == nil {
			err = steps[step](ctx)
		}
		if c.afterStep != nil {
			c.afterStep(ctx, step)
		}
		err = scrub(err, value)
		if step < StepRevoke {
			r.j.record(stepActions[step], r.target(step), err)
		}
		if err != nil {
			return r.res, r.fail(ctx, step, err)
		}
		r.res.Done = step
	}
	c.log().Info("binding rotated", "binding", b.Name, "credential", r.res.NewID, "revoked", r.res.Revoked, "deferred", r.res.Deferred != "")
	return r.res, nil
}

func (r *rotation) target(step RotationStep) string {
	t := "binding:" + r.b.Name + " " + string(r.res.Kind) + ":" + r.res.NewID
	variable := path.Join(r.b.Repository, r.b.Environment, r.b.Variable)
	switch step {
	case StepWrite:
		t += " variable:" + variable + " value:" + r.res.Redacted
	case StepRecord:
		t += " variable:" + variable + "_ID"
	}
	return t
}

// prepare reads what the rotation needs before it changes anything: the
// service principal, the binding's variables and its current credentials.
func (r *rotation) prepare(ctx context.Context) error {
	c, b := r.c, r.b
	var err error
	if r.sp, err = c.servicePrincipal(ctx, b.ServicePrincipal); err != nil {
		return err
	}
	if r.vs, err = c.bindingVars(ctx, b); err != nil {
		return err
	}
	if r.res.Kind == CredentialOBO {
		ts, err := c.tokensOf(ctx, r.sp.ID, r.sp.DisplayName, PrincipalServicePrincipal)
		if err != nil {
			return err
		}
		r.noteRecorded(ts)
		ts = r.cleanLeftovers(ctx, ts, func(string) bool { return false })
		for _, t := range ts {
			if strings.HasPrefix(t.Comment, bindingMarker(b.Name)) {
				r.old = append(r.old, t)
			}
		}
		r.old = addMissing(r.old, r.leftover)
		r.revokeSuperseded(ctx)
		return nil
	}
	ss, err := c.secretsOf(ctx, r.sp)
	if err != nil {
		return err
	}
	sh, err := r.sharing(ctx, ss)
	if err != nil {
		return err
	}
	r.noteRecorded(ss)
	ss = r.cleanLeftovers(ctx, ss, func(id string) bool { return slices.Contains(sh.recorded, id) })
	r.old = addMissing(r.ownSecrets(ss, sh), r.leftover)
	for _, id := range r.revokeSuperseded(ctx) {
		ss = slices.DeleteFunc(ss, func(cr Credential) bool { return cr.ID == id })
	}
	if len(ss) >= SecretLimit {
		e := &SecretLimitError{Binding: b.Name, ServicePrincipal: r.sp.DisplayName, Held: len(ss)}
		for _, s := range byAge(ss) {
			if e.Oldest == "" && s.ID != r.recorded() && !slices.Contains(sh.recorded, s.ID) {
				e.Oldest = s.ID
			}
		}
		return e
	}
	return nil
}

// revokeSuperseded revokes, before anything is created, the binding's
// credentials older than the one recorded when this run began: that one's
// write landed before it was recorded, so no variable holds them. Under the
// write lock only (without it they might be another run's, in flight). It
// returns what it revoked.
func (r *rotation) revokeSuperseded(ctx context.Context) []string {
	at := r.recordedAtStart
	if at == nil || !holdsWriteLock(ctx) {
		return nil
	}
	var done []string
	r.old = slices.DeleteFunc(r.old, func(cr Credential) bool {
		if cr.ID == at.ID || !cr.Created.Before(at.Created) {
			return false
		}
		if err := r.c.revoke(ctx, r.j, cr); err != nil {
			r.c.log().Warn("superseded credential not revoked yet; retried after the new one is recorded", "binding", r.b.Name, "credential", cr.ID, "err", oneLine(err))
			return false
		}
		done = append(done, cr.ID)
		r.res.Revoked = append(r.res.Revoked, cr.ID)
		return true
	})
	return done
}

// noteRecorded remembers the credential <VARIABLE>_ID records as this run
// begins, when it is live.
func (r *rotation) noteRecorded(creds []Credential) {
	for _, cr := range creds {
		if cr.ID != "" && cr.ID == r.recorded() {
			r.recordedAtStart = &cr
		}
	}
}

func addMissing(to, from []Credential) []Credential {
	for _, cr := range from {
		if !slices.ContainsFunc(to, func(o Credential) bool { return o.ID == cr.ID }) {
			to = append(to, cr)
		}
	}
	return to
}

func bindingMarker(binding string) string { return BindingMarker + binding + ":" }

func (r *rotation) recorded() string { return r.vs.byKey[r.b.Variable+"_ID"].Value }

// sharing is what the other bindings of a service principal record.
type sharing struct {
	recorded []string // secrets other bindings record
	unknown  bool     // another binding records none of the service principal's secrets
}

// sharing reads what the service principal's other bindings record. An
// OAuth secret is the account's: with several workspaces, the bindings of
// every workspace of the config share it, not only this workspace's.
func (r *rotation) sharing(ctx context.Context, ss []Credential) (sharing, error) {
	var sh sharing
	for _, o := range r.c.Config.Whole().Pipelines {
		if o.Name == r.b.Name || o.Credential != config.CredentialOAuthSecret || !r.sp.Named(o.ServicePrincipal) {
			continue
		}
		vs, err := r.c.bindingVars(ctx, o)
		if err != nil {
			return sh, fmt.Errorf("read binding %s, which shares service principal %s: %w", o.Name, r.sp.DisplayName, err)
		}
		id := vs.byKey[o.Variable+"_ID"].Value
		if slices.ContainsFunc(ss, func(s Credential) bool { return s.ID == id }) {
			sh.recorded = append(sh.recorded, id)
		} else {
			sh.unknown = true
		}
	}
	return sh, nil
}

// ownSecrets picks the service principal's secrets this binding may revoke
// once it records a new one: all of them, unless other bindings use the same
// service principal. Then a secret another binding records is kept, and so
// is any newer than the oldest of those (that binding's variable may hold
// one it has not recorded yet, after a crash); this binding's own recorded
// secret always goes.
func (r *rotation) ownSecrets(ss []Credential, sh sharing) []Credential {
	shared := sh.unknown || len(sh.recorded) > 0
	var cutoff time.Time
	for _, s := range ss {
		if slices.Contains(sh.recorded, s.ID) && (cutoff.IsZero() || s.Created.Before(cutoff)) {
			cutoff = s.Created
		}
	}
	var out []Credential
	for _, s := range ss {
		if !slices.Contains(sh.recorded, s.ID) &&
			(!shared || s.ID == r.recorded() || !sh.unknown && s.Created.Before(cutoff)) {
			out = append(out, s)
		}
	}
	return out
}

func byAge(cs []Credential) []Credential {
	return slices.SortedStableFunc(slices.Values(cs), func(a, b Credential) int { return a.Created.Compare(b.Created) })
}

// create makes the new credential: an on-behalf-of token carrying the
// binding's marker, or an OAuth secret, with the binding's lifetime.
func (r *rotation) create(ctx context.Context) (id, value string, err error) {
	d, seconds := r.c.Databricks, int64(r.b.Lifetime.Std()/time.Second)
	if r.res.Kind == CredentialOBO {
		t, err := d.w.TokenManagement.CreateOboToken(ctx, settings.CreateOboTokenRequest{ApplicationId: r.sp.ApplicationID,
			Comment: r.comment, LifetimeSeconds: seconds})
		if err != nil {
			return "", "", fmt.Errorf("create an on-behalf-of token for %s: %w", r.sp.DisplayName, err)
		}
		if t.TokenInfo == nil || t.TokenValue == "" {
			return "", "", fmt.Errorf("create an on-behalf-of token for %s: the answer holds no token", r.sp.DisplayName)
		}
		return t.TokenInfo.TokenId, t.TokenValue, nil
	}
	if d.a == nil {
		return "", "", fmt.Errorf("create an OAuth secret for %s: %w", r.sp.DisplayName, d.accErr)
	}
	req := oauth2.CreateServicePrincipalSecretRequest{ServicePrincipalId: r.sp.ID}
	if seconds > 0 {
		req.Lifetime = strconv.FormatInt(seconds, 10) + "s"
	}
	s, err := d.a.ServicePrincipalSecrets.Create(ctx, req)
	if err != nil {
		return "", "", fmt.Errorf("create an OAuth secret for %s: %w", r.sp.DisplayName, err)
	}
	if s.Id == "" || s.Secret == "" {
		return "", "", fmt.Errorf("create an OAuth secret for %s: the answer holds no secret", r.sp.DisplayName)
	}
	return s.Id, s.Secret, nil
}

// verify checks that the new credential authenticates as the service
// principal: SCIM Me with the token, or with the token an OAuth secret gets
// at the workspace's token endpoint.
func (r *rotation) verify(ctx context.Context, value string) error {
	auth := &databricks.Config{AuthType: "pat", Token: value}
	if r.res.Kind == CredentialOAuthSecret {
		auth = &databricks.Config{AuthType: "oauth-m2m", ClientID: r.sp.ApplicationID, ClientSecret: value}
	}
	me, err := r.c.probe(ctx, auth)
	if err != nil {
		return fmt.Errorf("authenticate with the new credential: %w", err)
	}
	if me.Id != r.sp.ID && !strings.EqualFold(me.UserName, r.sp.ApplicationID) {
		return fmt.Errorf("the new credential authenticates as %s, not as service principal %s", me.UserName, r.sp.DisplayName)
	}
	return nil
}

// revokeOlder revokes the binding's credentials that predate the new one.
// It re-reads <VARIABLE>_ID first: when it no longer records this rotation's
// credential, another rotation of the binding (a second pipeline, or an
// admin) recorded its own meanwhile. The credentials read before this one
// began may include that rotation's, which the variable may now hold, so
// none is revoked and the next rotation cleans up (audited as skipped).
func (r *rotation) revokeOlder(ctx context.Context) error {
	if err := r.vs.reload(ctx); err != nil {
		return fmt.Errorf("re-read %s_ID before revoking: %w", r.b.Variable, err)
	}
	if rec := r.recorded(); rec != r.res.NewID {
		r.res.Deferred = fmt.Sprintf("%s_ID now records %s, not %s: another rotation of %s recorded a credential meanwhile; older credentials are left for the next rotation",
			r.b.Variable, cmp.Or(rec, "nothing"), r.res.NewID, r.b.Name)
		r.j.skip("revoke_older_credentials", r.target(StepRevoke), r.res.Deferred)
		r.c.log().Warn("older credentials left for the next rotation", "binding", r.b.Name, "credential", r.res.NewID, "recorded", rec)
		return nil
	}
	old := r.old
	if !holdsWriteLock(ctx) {
		// Without the write lock another rotation of the binding may be
		// under way, its credential created but not yet written: revoke only
		// what the variable held when this run began, and older.
		if err := r.stillLive(ctx); err != nil {
			return err
		}
		if at := r.recordedAtStart; at != nil {
			old = slices.DeleteFunc(slices.Clone(old), func(cr Credential) bool { return cr.ID != at.ID && at.Created.Before(cr.Created) })
		}
	}
	var errs []error
	for _, cr := range old {
		if err := r.c.revoke(ctx, r.j, cr); err != nil {
			errs = append(errs, err)
			continue
		}
		r.res.Revoked = append(r.res.Revoked, cr.ID)
	}
	return errors.Join(errs...)
}

// errRecordedGone is a rotation whose new credential was revoked by another
// run after this one created it: the variable holds a dead credential.
var errRecordedGone = errors.New("the new credential was revoked by another run after it was created")

// stillLive checks that the credential this run recorded still exists.
func (r *rotation) stillLive(ctx context.Context) error {
	var creds []Credential
	var err error
	if r.res.Kind == CredentialOBO {
		creds, err = r.c.tokensOf(ctx, r.sp.ID, r.sp.DisplayName, PrincipalServicePrincipal)
	} else {
		creds, err = r.c.secretsOf(ctx, r.sp)
	}
	if err != nil {
		return fmt.Errorf("check the new credential before revoking: %w", err)
	}
	if !slices.ContainsFunc(creds, func(cr Credential) bool { return cr.ID == r.res.NewID }) {
		return errRecordedGone
	}
	return nil
}

// fail says what a stopped rotation left behind; before the write it takes
// the new credential back, which no pipeline has seen.
func (r *rotation) fail(ctx context.Context, step RotationStep, err error) error {
	e := &RotationError{Binding: r.b.Name, Step: step, Err: err}
	id := r.res.NewID
	switch {
	case step == StepCreate:
		e.State = "no new credential is in use; the old one still works"
	case step < StepWrite:
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), compensateTimeout)
		defer cancel()
		cr := Credential{ID: id, Kind: r.res.Kind, OwnerID: r.sp.ID, Owner: r.sp.DisplayName, OwnerType: PrincipalServicePrincipal}
		if rerr := r.c.revoke(ctx, r.j, cr); rerr != nil {
			e.State = fmt.Sprintf("the new credential %s is unused but could not be revoked (%s); the old one still works and the next rotation revokes the new one", id, oneLine(rerr))
		} else {
			r.res.Revoked = append(r.res.Revoked, id)
			e.State = "the new credential was revoked; the old one still works"
		}
	case step == StepWrite:
		e.State = fmt.Sprintf("%s may hold the old or the new credential (%s), so both are left working; the next rotation cleans up", r.b.Variable, id)
	case errors.Is(err, errRecordedGone):
		e.State = fmt.Sprintf("%s holds %s, which no longer works: rotate %s again now (`bitbricks rotate %s`)", r.b.Variable, id, r.b.Name, r.b.Name)
	case step == StepRecord:
		e.State = fmt.Sprintf("%s holds the new credential %s but %s_ID still records the old one; both are left working and the next rotation cleans up", r.b.Variable, id, r.b.Variable)
	default:
		e.State = fmt.Sprintf("the new credential %s is in place and recorded; older ones are left for the next rotation", id)
	}
	r.c.log().Warn("rotation stopped", "binding", r.b.Name, "step", step.String(), "err", oneLine(err))
	return e
}
