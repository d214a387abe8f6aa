package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

// Leak is what a leaked token value gives away, found before anything
// changes. It never holds or shows the value.
//
// A token's value says nothing about its id, and Databricks has no lookup
// by value, so when the owner holds several tokens the leaked one is found
// by revoking them one at a time, each followed by SCIM Me with the leaked
// value, until it stops authenticating (Candidates is that order). The
// revocations go through the leaked value itself (the Token API's delete of
// its own tokens), so finding it never depends on bitbricks' own credential.
type Leak struct {
	Redacted string // the value, redacted
	Owner    Principal
	// Tokens are every token of the owner; Secrets its OAuth secrets (a
	// service principal's; nil when they could not be read, see Unknown).
	Tokens  []Credential
	Secrets []Credential
	Unknown string // what of the owner's credentials could not be listed
	// Candidates is the order in which tokens are revoked until the leaked
	// value stops authenticating: tokens no pipeline records first, those
	// bitbricks may be authenticating with last.
	Candidates []Credential
	// Bindings are the owner's pipeline bindings, rotated before what they
	// hold is revoked; Bound maps a credential id to the binding recording it.
	Bindings []config.Binding
	Bound    map[string]string
	// Self is true when the owner is the identity bitbricks is using; then
	// one of its tokens (or secrets) may be bitbricks' own credential, which
	// is revoked last. SelfIsLeak: the leaked value is that very credential.
	Self, SelfIsLeak bool
	// Protected is true when the owner is in policy.protected: the rest of
	// its credentials is revoked only with Force.
	Protected bool
	// Workspace is the Databricks workspace the value authenticates at,
	// with several ("" with one).
	Workspace string

	value  string     // the leaked value, kept only in memory for the revocation
	unread []string   // bindings whose variables could not be read
	state  *leakState // after the leaked token went, what RevokeLeakRest continues from
}

// mayHold reports whether cr could be what binding b's pipeline holds, when
// b's variables could not be read: a token carrying b's marker, or any OAuth
// secret for an OAuth-secret binding.
func mayHold(b config.Binding, cr Credential) bool {
	if b.Credential == config.CredentialOAuthSecret {
		return cr.Kind == CredentialOAuthSecret
	}
	return isTokenKind(cr.Kind) && strings.HasPrefix(cr.Comment, bindingMarker(b.Name))
}

// LeakOptions say how far RevokeLeaked goes past the leaked token.
type LeakOptions struct {
	// Rest revokes the owner's other credentials too (shown and confirmed
	// by the caller); without it only the leaked token is revoked.
	Rest bool
	// Force revokes the rest of a protected owner's credentials.
	Force bool
}

// LeakRevocation is what revoking a leak did.
type LeakRevocation struct {
	Revocation
	// Leaked is the token that was the leaked one ("" when it was not
	// found); Searched are the tokens revoked before it while finding it.
	Leaked   string
	Searched []Credential
	// Rotations are the bindings rotated before their credentials went;
	// Kept the credentials left alive on purpose, each with why.
	Rotations []RotationResult
	Kept      []KeptCredential
	// Broken are pipelines whose recorded credential was revoked (it was the
	// leak) and whose rotation did not record a new one.
	Broken []KeptCredential
	// Session names the credential bitbricks was using when it was revoked
	// ("" when it was not, or is not known).
	Session string
	// Stopped says why the search for the leaked token stopped before it
	// was found ("" when it was found or every candidate was tried); then
	// nothing past the search was done. NotTried are the candidates it did
	// not get to, and Next what to do now.
	Stopped  string
	NotTried []Credential
	Next     string
	// StillValid: the leaked value still authenticates at the end (it must
	// not); Checked: that was asked and answered (else CheckError says why).
	StillValid, Checked bool
	CheckError          string
}

// KeptCredential is a credential of the owner that was left alive, and why.
type KeptCredential struct {
	Credential Credential
	Why        string
	Command    string // what finishes the job, when something does
}

// FindLeaked learns whose token value is: SCIM Me with the value itself (a
// client of its own, isolated from any other configuration), then the
// owner's tokens through token management and the bindings that record
// them. value is never logged, returned or put in an error.
func (c *Credentials) FindLeaked(ctx context.Context, value string) (*Leak, error) {
	value = strings.TrimSpace(value)
	leak := &Leak{Redacted: Redact(value), value: value, Bound: map[string]string{}}
	j := c.journal()
	target := "token:" + leak.Redacted
	u, err := leak.me(ctx, c)
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
	o := leak.Owner
	me := c.Databricks.Caller()
	leak.Self = me.ID != "" && me.ID == o.ID
	leak.SelfIsLeak = leak.Self && me.PAT && c.Databricks.sessionToken() == value
	leak.Protected = c.Config.IsProtected(o.Name) || (o.ApplicationID != "" && c.Config.IsProtected(o.ApplicationID))
	if o.Type == PrincipalServicePrincipal {
		sp := &ServicePrincipal{ID: o.ID, DisplayName: o.Name, ApplicationID: o.ApplicationID}
		if ss, err := c.secretsOf(ctx, sp); err != nil {
			leak.Unknown = "OAuth secrets of " + o.Name + ": " + oneLine(err)
		} else {
			leak.Secrets = ss
		}
		for _, b := range c.Config.Pipelines {
			if !sp.Named(b.ServicePrincipal) {
				continue
			}
			leak.Bindings = append(leak.Bindings, b)
			vs, err := c.bindingVars(ctx, b)
			if err != nil {
				leak.Unknown = strings.TrimPrefix(leak.Unknown+"; ", "; ") + "variables of binding " + b.Name + ": " + oneLine(err)
				leak.unread = append(leak.unread, b.Name)
				continue
			}
			if id := strings.TrimSpace(vs.byKey[b.Variable+"_ID"].Value); id != "" {
				leak.Bound[id] = b.Name
			}
		}
	}
	leak.Candidates = leak.searchOrder(c.now())
	c.log().Info("leaked token traced", "token", leak.Redacted, "owner", o.Name, "tokens", len(leak.Tokens), "bindings", len(leak.Bindings), "self", leak.Self)
	return leak, j.done(nil)
}

// searchOrder is the order tokens are revoked in until the leaked value
// stops authenticating. Tokens a pipeline records come last (revoking one
// that is not the leak breaks a pipeline for nothing). Tokens used today
// come first: tracing the leak just used it (Databricks keeps the day of
// last use), so a token unused today is not it. Among those, the newest
// first, since bitbricks' own credential, used today too, is usually older.
func (l *Leak) searchOrder(now time.Time) []Credential {
	today := now.UTC().Truncate(24 * time.Hour)
	rank := func(c Credential) int {
		r := 0
		if l.Bound[c.ID] != "" {
			r += 2
		}
		if c.LastUsed.Before(today) {
			r++
		}
		return r
	}
	out := slices.Clone(l.Tokens)
	slices.SortStableFunc(out, func(a, b Credential) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), b.Created.Compare(a.Created))
	})
	return out
}

// me calls SCIM Me with the leaked value.
func (l *Leak) me(ctx context.Context, c *Credentials) (*iam.User, error) {
	u, err := c.probe(ctx, &databricks.Config{AuthType: "pat", Token: l.value})
	return u, scrub(err, l.value)
}

// revokeWithLeak revokes one of the owner's tokens through the leaked value
// itself (the Token API's delete of the caller's own tokens); where that is
// refused, through bitbricks' own credentials.
func (l *Leak) revokeWithLeak(ctx context.Context, c *Credentials, j *journal, t Credential) error {
	base := c.Databricks.w.Config
	w, err := databricks.NewWorkspaceClient(isolate(&databricks.Config{AuthType: "pat", Token: l.value, Host: base.Host,
		RetryTimeoutSeconds: base.RetryTimeoutSeconds, HTTPTimeoutSeconds: base.HTTPTimeoutSeconds}))
	if err == nil {
		err = w.Tokens.Delete(ctx, settings.RevokeTokenRequest{TokenId: t.ID})
		err = scrub(err, l.value)
	}
	if err == nil {
		j.record(ActionRevokeToken.String(), "token:"+t.ID+" owner:"+t.Owner+" through:leaked-token", nil)
		return nil
	}
	// Refused (the Token API disabled, or the value just died): the admin way.
	return c.revoke(ctx, j, t)
}

// sessionAlive reports whether bitbricks' own credentials still authenticate.
func (c *Credentials) sessionAlive(ctx context.Context) bool {
	_, err := c.Databricks.w.CurrentUser.Me(ctx)
	return err == nil || !isAuth(err)
}

// RevokeLeaked contains a traced leak, in this order:
//  1. the leaked token: the owner's tokens are revoked one at a time in
//     Candidates order until the leaked value stops authenticating; a token
//     a pipeline runs on goes only once its binding's rotation recorded a
//     new credential. Whatever cannot be done (a revocation refused, a
//     rotation stopped, the value's check unanswered) stops the search
//     there, and nothing more is revoked: the token left may be the leak
//     (Stopped, NotTried and Next say so);
//  2. with opts.Rest, each of the owner's other pipeline bindings is
//     rotated, and where a rotation fails its recorded credential is kept;
//  3. with opts.Rest, the owner's other credentials (a protected owner's
//     only with opts.Force), bitbricks' own credential last;
//  4. SCIM Me with the leaked value: it must no longer authenticate.
//
// Without opts.Rest, RevokeLeakRest can do steps 2 and 3 afterwards, once
// the leaked token is known to be dead.
func (c *Credentials) RevokeLeaked(ctx context.Context, leak *Leak, opts LeakOptions) (LeakRevocation, error) {
	var out LeakRevocation
	j := c.journal()
	st := &leakState{gone: map[string]bool{}, keep: map[string]bool{}, rotated: map[string]bool{}}
	errs := c.searchLeak(ctx, leak, j, st, &out)
	if opts.Rest && out.Stopped == "" {
		errs = append(errs, c.leakRest(ctx, leak, j, st, opts, &out)...)
	}

	// 4. The leaked value must be dead.
	switch _, err := leak.me(ctx, c); {
	case err == nil:
		out.Checked, out.StillValid = true, true
		errs = append(errs, fmt.Errorf("the leaked token %s still authenticates", leak.Redacted))
	case isAuth(err):
		out.Checked = true
	default:
		out.CheckError = oneLine(err)
		errs = append(errs, fmt.Errorf("check that the leaked token %s no longer authenticates: %s", leak.Redacted, oneLine(err)))
	}
	leak.value = ""
	if out.Leaked != "" && out.Checked && !out.StillValid && out.Stopped == "" {
		leak.state = st // the rest may follow (RevokeLeakRest)
	}
	return out, j.done(errors.Join(errs...))
}

// RevokeLeakRest is steps 2 and 3 of RevokeLeaked for a leak whose leaked
// token RevokeLeaked (without opts.Rest) revoked and checked dead: the
// owner's pipeline bindings rotated, then its other credentials revoked,
// bitbricks' own last. It refuses a leak whose token is not known dead.
func (c *Credentials) RevokeLeakRest(ctx context.Context, leak *Leak, opts LeakOptions) (LeakRevocation, error) {
	var out LeakRevocation
	st := leak.state
	if st == nil {
		return out, errors.New("revoke the rest of a leak: the leaked token is not known to be revoked; run bitbricks revoke --leaked")
	}
	leak.state = nil
	j := c.journal()
	errs := c.leakRest(ctx, leak, j, st, opts, &out)
	return out, j.done(errors.Join(errs...))
}

// leakState is what the steps of a leak's containment share: what is gone,
// what a pipeline now runs on, the bindings already rotated, and whether
// bitbricks' own credential was among the revoked.
type leakState struct {
	gone, keep, rotated map[string]bool
	sessionDead         bool
}

// revoked records cr as revoked (and whether it was bitbricks' own).
func (st *leakState) revoked(ctx context.Context, c *Credentials, leak *Leak, out *LeakRevocation, cr Credential) {
	st.gone[cr.ID] = true
	out.Revoked = append(out.Revoked, cr)
	if leak.Self && !st.sessionDead && !c.sessionAlive(ctx) {
		st.sessionDead, out.Session = true, cr.ID
	}
}

// rotation records what a binding's rotation revoked and created.
func (st *leakState) rotation(ctx context.Context, c *Credentials, leak *Leak, out *LeakRevocation, res RotationResult) {
	out.Rotations = append(out.Rotations, res)
	for _, id := range res.Revoked {
		if !st.gone[id] && id != res.NewID {
			st.revoked(ctx, c, leak, out, leak.credential(id))
		}
		st.gone[id] = true
	}
	if res.NewID != "" && res.Done >= StepWrite {
		st.keep[res.NewID] = true // the pipeline's new credential (or maybe, after a failed record)
	}
}

// holder is the binding whose pipeline may run on t: the one recording it,
// or one whose variables could not be read and whose credentials t is
// like.
func (l *Leak) holder(t Credential) (config.Binding, bool) {
	for _, b := range l.Bindings {
		if l.Bound[t.ID] == b.Name || (slices.Contains(l.unread, b.Name) && mayHold(b, t)) {
			return b, true
		}
	}
	return config.Binding{}, false
}

// rotationStopped says where a failed rotation stopped, in its own words.
func rotationStopped(err error) string {
	var re *RotationError
	if errors.As(err, &re) {
		return re.Step.String() + ": " + oneLine(re.Err)
	}
	return oneLine(err)
}

// searchLeak is step 1 of RevokeLeaked: the candidates revoked one at a
// time until the leaked value stops authenticating.
func (c *Credentials) searchLeak(ctx context.Context, leak *Leak, j *journal, st *leakState, out *LeakRevocation) []error {
	var errs []error
	notTried := func(from []Credential) {
		for _, t := range from {
			if !st.gone[t.ID] {
				out.NotTried = append(out.NotTried, t)
			}
		}
	}
	// dead checks the leaked value after a revocation: true once it no
	// longer authenticates; an unanswered check stops the search.
	dead := func(t Credential, rest []Credential) (bool, bool) {
		_, err := leak.me(ctx, c)
		switch {
		case isAuth(err):
			out.Leaked = t.ID
			return true, false
		case err != nil:
			out.Stopped = fmt.Sprintf("after %s was revoked, whether the leaked value still authenticates could not be checked (%s)", t.ID, oneLine(err))
			out.Next = "check the value again with bitbricks revoke --leaked (it stops at once if the value is dead)"
			notTried(rest)
			errs = append(errs, fmt.Errorf("check the leaked token %s: %s", leak.Redacted, oneLine(err)))
			return false, true
		}
		out.Searched = append(out.Searched, t)
		return false, false
	}
	for i, t := range leak.Candidates {
		if st.gone[t.ID] {
			continue // a rotation of this search revoked it, and the value was checked after
		}
		if b, held := leak.holder(t); held && !st.rotated[b.Name] {
			// The pipeline runs on t: it gets a new credential first.
			st.rotated[b.Name] = true
			res, err := c.RotateBinding(ctx, b)
			if !errors.As(err, new(*FederatedError)) {
				st.rotation(ctx, c, leak, out, res)
				if err != nil && res.Done < StepRecord {
					stopped := rotationStopped(err)
					out.Stopped = fmt.Sprintf("pipeline %s runs on %s %s and its rotation stopped (%s), so it was not revoked", b.Name, t.Kind, t.ID, stopped)
					out.Next = "bitbricks rotate " + b.Name + ", then bitbricks revoke --leaked again"
					notTried(leak.Candidates[i:])
					return append(errs, fmt.Errorf("binding %s was not rotated (%s)", b.Name, stopped))
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("binding %s: %s", b.Name, rotationStopped(err)))
				}
				if st.gone[t.ID] {
					if found, stop := dead(t, leak.Candidates[i+1:]); found || stop {
						return errs
					}
					continue
				}
			}
			// The binding records a new credential now (or authenticates by
			// OIDC): t is no longer what its pipeline runs on.
		}
		if err := leak.revokeWithLeak(ctx, c, j, t); err != nil {
			out.Failed = append(out.Failed, RevokeFailure{Credential: t, Error: oneLine(err), Status: httpStatus(err)})
			out.Stopped = fmt.Sprintf("revoking %s failed (%s); it may be the leaked one", t.ID, dropSubject(oneLine(err), t.ID))
			out.Next = fmt.Sprintf("revoke token %s by hand (workspace settings, Developer, Access tokens) or run bitbricks revoke --leaked again", t.ID)
			notTried(leak.Candidates[i+1:])
			return append(errs, err)
		}
		st.revoked(ctx, c, leak, out, t)
		if found, stop := dead(t, leak.Candidates[i+1:]); found || stop {
			return errs
		}
	}
	return errs
}

// leakRest is steps 2 and 3 of RevokeLeaked: the owner's bindings rotated,
// then its other credentials revoked, bitbricks' own last.
func (c *Credentials) leakRest(ctx context.Context, leak *Leak, j *journal, st *leakState, opts LeakOptions, out *LeakRevocation) []error {
	var errs []error
	for _, b := range leak.Bindings {
		if st.sessionDead {
			break
		}
		if st.rotated[b.Name] {
			continue // rotated while the leaked token was searched for
		}
		st.rotated[b.Name] = true
		res, err := c.RotateBinding(ctx, b)
		if errors.As(err, new(*FederatedError)) {
			continue // nothing stored to keep working: the pipeline authenticates by OIDC
		}
		st.rotation(ctx, c, leak, out, res)
		if err == nil {
			continue
		}
		// The rotation's own "nothing was changed" speaks of the rotation
		// alone: here other things were changed.
		stopped := rotationStopped(err)
		errs = append(errs, fmt.Errorf("binding %s was not rotated (%s)", b.Name, stopped))
		if slices.Contains(leak.unread, b.Name) {
			// What the pipeline holds is unknown: keep all it may hold.
			for _, cr := range append(slices.Clone(leak.Tokens), leak.Secrets...) {
				if mayHold(b, cr) && !st.gone[cr.ID] && !st.keep[cr.ID] {
					st.keep[cr.ID] = true
					out.Kept = append(out.Kept, KeptCredential{Credential: cr, Command: "bitbricks rotate " + b.Name,
						Why: fmt.Sprintf("pipeline %s may run on it (its variables could not be read) and its rotation stopped (%s)", b.Name, stopped)})
				}
			}
		}
		for id, name := range leak.Bound {
			if name != b.Name || (res.NewID != "" && res.Done >= StepWrite) {
				// Once the new credential is written, the pipeline
				// runs on it: the old one is neither what it holds
				// nor a reason to call it broken.
				continue
			}
			kc := KeptCredential{Credential: leak.credential(id), Command: "bitbricks rotate " + b.Name}
			if st.gone[id] {
				// Only the leaked token itself goes before its binding's
				// rotation (when it is not what the pipeline records).
				kc.Why = fmt.Sprintf("pipeline %s recorded it, it was the leaked token and is revoked, and its rotation stopped (%s): the pipeline fails until it is rotated", b.Name, stopped)
				out.Broken = append(out.Broken, kc)
				continue
			}
			st.keep[id] = true
			kc.Why = fmt.Sprintf("pipeline %s still runs on it: its rotation stopped (%s)", b.Name, stopped)
			out.Kept = append(out.Kept, kc)
		}
	}
	var rest []Credential
	for _, cr := range append(slices.Clone(leak.Tokens), leak.Secrets...) {
		if st.gone[cr.ID] || st.keep[cr.ID] {
			continue
		}
		if leak.Protected && !opts.Force {
			out.Kept = append(out.Kept, KeptCredential{Credential: cr, Command: "bitbricks revoke --owner " + leak.Owner.Name + " --force",
				Why: leak.Owner.Name + " is in policy.protected: kept without --force"})
			continue
		}
		rest = append(rest, cr)
	}
	// bitbricks' own credential is one of the owner's, unknown which:
	// the most recently used goes last, and the session is checked after each.
	slices.SortStableFunc(rest, func(a, b Credential) int { return a.LastUsed.Compare(b.LastUsed) })
	for i, cr := range rest {
		if st.sessionDead {
			for _, left := range rest[i:] {
				out.Kept = append(out.Kept, KeptCredential{Credential: left, Command: "bitbricks revoke --owner " + leak.Owner.Name,
					Why: "not revoked: bitbricks' own credential was revoked before it, so nothing more could be done with it"})
			}
			errs = append(errs, fmt.Errorf("%s of %s not revoked: bitbricks' own credential had to go first; finish with `bitbricks revoke --owner %s` under another credential",
				count(len(rest)-i, "credential", "credentials"), leak.Owner.Name, leak.Owner.Name))
			break
		}
		if err := c.revoke(ctx, j, cr); err != nil {
			out.Failed = append(out.Failed, RevokeFailure{Credential: cr, Error: oneLine(err), Status: httpStatus(err)})
			errs = append(errs, err)
			continue
		}
		st.revoked(ctx, c, leak, out, cr)
	}
	return errs
}

// credential is the owner's token or secret with id (a bare one if unknown).
func (l *Leak) credential(id string) Credential {
	for _, cr := range append(slices.Clone(l.Tokens), l.Secrets...) {
		if cr.ID == id {
			return cr
		}
	}
	return Credential{ID: id, Owner: l.Owner.Name, OwnerID: l.Owner.ID, OwnerType: l.Owner.Type}
}

// sessionToken is the personal access token bitbricks authenticates with,
// "" when it uses another kind of credential.
func (d *Databricks) sessionToken() string {
	if d.w.Config.AuthType != "pat" {
		return ""
	}
	return d.w.Config.Token
}
