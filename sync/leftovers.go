package sync

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/config"
)

// Crash leftovers. A rotation audits its intent (binding, kind, the OBO
// token's comment) before it creates anything, the new credential's id right
// after the create and before any other step, and its intent before writing
// the secured variable. A credential a rotation created and never recorded
// (the run was killed, or another rotation recorded its own) is then found
// by the next run that holds the write lock: by the audit log, by the
// binding's marker in an OBO token's comment, or, for an OAuth secret whose
// id never reached the log, by its creation right after an intent.
//
// The secured variable cannot be read, so the log also says which leftovers
// the variable may still hold: one whose write was begun and not overwritten
// by a later write that landed. Those go only after a rotation has recorded a
// newer credential; every other leftover is revoked at once.

// LeftoverReason is why a leftover is revoked.
const LeftoverReason = "left by an interrupted rotation"

// pendingWindow is how long after a create intent an OAuth secret of the
// service principal that no log line names counts as that create's (its id
// was lost with the run).
const pendingWindow = 5 * time.Minute

// Leftover is a credential a rotation of Binding created and never recorded.
type Leftover struct {
	Binding    string
	Credential Credential
	// InVariable is true when the binding's secured variable may still hold
	// it: it goes only once a rotation has recorded a newer credential.
	InVariable bool
}

// rotationLog is what the audit log says about each binding's rotations.
type rotationLog map[string]*rotationHistory

type rotationHistory struct {
	created map[string]bool // credential ids a rotation created
	written map[string]bool // credentials the variable may hold after the logged writes
	pending []pendingCreate // create intents whose id was never logged
}

// pendingCreate is a create intent: when, and the OBO token's comment.
type pendingCreate struct {
	at     time.Time
	marker string
}

func (l rotationLog) of(binding string) *rotationHistory {
	h := l[binding]
	if h == nil {
		h = &rotationHistory{created: map[string]bool{}, written: map[string]bool{}}
		l[binding] = h
	}
	return h
}

// attributed reports whether any binding's rotation created id.
func (l rotationLog) attributed(id string) bool {
	for _, h := range l {
		if h.created[id] {
			return true
		}
	}
	return false
}

// parseRotationLog reads the rotation steps out of audit events, in order.
func parseRotationLog(events []AuditEvent) rotationLog {
	log := rotationLog{}
	for _, ev := range events {
		if ev.Action != stepActions[StepCreate] && ev.Action != stepActions[StepWrite] {
			continue
		}
		f := strings.Fields(ev.Target)
		if len(f) < 2 || !strings.HasPrefix(f[0], "binding:") {
			continue
		}
		h := log.of(strings.TrimPrefix(f[0], "binding:"))
		_, id, _ := strings.Cut(f[1], ":")
		switch {
		case ev.Action == stepActions[StepCreate] && ev.Result == ResultIntent:
			p := pendingCreate{at: ev.Time}
			for _, x := range f[2:] {
				if m, ok := strings.CutPrefix(x, "marker:"); ok {
					p.marker = m
				}
			}
			h.pending = append(h.pending, p)
		case ev.Action == stepActions[StepCreate] && ev.Result == ResultApplied && id != "":
			h.created[id] = true
			if n := len(h.pending); n > 0 {
				h.pending = h.pending[:n-1]
			}
		case ev.Action == stepActions[StepWrite] && ev.Result == ResultIntent && id != "":
			h.written[id] = true
		case ev.Action == stepActions[StepWrite] && ev.Result == ResultApplied && id != "":
			h.written = map[string]bool{id: true}
		}
	}
	return log
}

// readRotationLog parses the local audit log at path; a log that is not
// there or not readable (one on a volume) tells nothing.
func readRotationLog(path string) rotationLog {
	f, err := os.Open(path)
	if err != nil {
		return rotationLog{}
	}
	defer f.Close()
	var events []AuditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(stepActions[StepCreate])) && !bytes.Contains(line, []byte(stepActions[StepWrite])) {
			continue // only rotation steps matter; most lines are other changes
		}
		var ev AuditEvent
		if json.Unmarshal(line, &ev) == nil {
			events = append(events, ev)
		}
	}
	return parseRotationLog(events)
}

// bindingLeftovers finds binding b's leftovers among creds, the credentials
// of b's service principal of b's kind. recorded is what b records;
// elsewhere reports an id another binding records.
func bindingLeftovers(b config.Binding, log rotationLog, creds []Credential, recorded string, elsewhere func(string) bool) []Leftover {
	h := log.of(b.Name)
	var rec *Credential
	for i := range creds {
		if creds[i].ID == recorded {
			rec = &creds[i]
		}
	}
	var out []Leftover
	for _, c := range creds {
		if c.ID == recorded || elsewhere(c.ID) {
			continue
		}
		switch {
		case h.created[c.ID]:
			// The log knows every write of it: in the variable only if a
			// write of it was begun and no later one landed.
			out = append(out, Leftover{Binding: b.Name, Credential: c, InVariable: h.written[c.ID]})
		case c.Kind == CredentialOBO && c.Comment != "" && slices.ContainsFunc(h.pending, func(p pendingCreate) bool { return p.marker == c.Comment }):
			// Created by a run killed before its id reached the log: it was
			// never written anywhere.
			out = append(out, Leftover{Binding: b.Name, Credential: c})
		case c.Kind == CredentialOBO && strings.HasPrefix(c.Comment, bindingMarker(b.Name)) && !log.attributed(c.ID):
			// Made by bitbricks on a machine whose log this is not: older
			// than the recorded credential, it was overwritten by that one.
			out = append(out, Leftover{Binding: b.Name, Credential: c, InVariable: rec == nil || !c.Created.Before(rec.Created)})
		case c.Kind == CredentialOAuthSecret && !log.attributed(c.ID) && h.createdWhilePending(c.Created):
			// Its id never reached the log, so it was never written anywhere.
			out = append(out, Leftover{Binding: b.Name, Credential: c})
		}
	}
	return out
}

func (h *rotationHistory) createdWhilePending(t time.Time) bool {
	return slices.ContainsFunc(h.pending, func(p pendingCreate) bool {
		return !t.Before(p.at.Add(-time.Minute)) && t.Before(p.at.Add(pendingWindow))
	})
}

// FindLeftovers lists every binding's leftovers in snap, by the audit log
// at auditFile. Bindings whose variables or credentials are unknown have
// none listed.
func FindLeftovers(snap *Snapshot, cfg *config.Config, auditFile string) []Leftover {
	log := readRotationLog(auditFile)
	recordedBy := map[string]bool{}
	for _, st := range snap.Bindings {
		if st != nil && st.RecordedID != "" {
			recordedBy[st.RecordedID] = true
		}
	}
	var out []Leftover
	for _, b := range cfg.Pipelines {
		st := snap.Bindings[b.Name]
		sp := servicePrincipalNamed(snap.SPs, b.ServicePrincipal)
		kind := CredentialOBO
		known := snap.TokensKnown
		if b.Credential == config.CredentialOAuthSecret {
			kind, known = CredentialOAuthSecret, snap.SecretsKnown
		}
		if st == nil || !st.Known || sp == nil || !known {
			continue
		}
		var creds []Credential
		for _, c := range snap.Credentials {
			if c.OwnerID == sp.ID && (c.Kind == kind || kind == CredentialOBO && isTokenKind(c.Kind)) {
				c.Kind = kind
				creds = append(creds, c)
			}
		}
		out = append(out, bindingLeftovers(b, log, creds, st.RecordedID, func(id string) bool { return recordedBy[id] })...)
	}
	return out
}

// leftovers plans the leftovers' cleanup: a binding whose variable may hold
// one is rotated (the rotation revokes it once it has recorded a newer
// credential), as is one rotated anyway; the others' leftovers are revoked.
func (pl *planner) leftovers() {
	rotated := map[string]bool{}
	for _, c := range pl.changes {
		if c.Action == ActionRotateCredential {
			rotated[c.Binding] = true
		}
	}
	for _, l := range pl.snap.Leftovers {
		b, ok := pl.cfg.BindingByName(l.Binding)
		if !ok || !l.InVariable || rotated[l.Binding] {
			continue
		}
		rotated[l.Binding] = true
		pl.changes = append(pl.changes, Change{
			ID: "rotate_credential/" + b.Name, Action: ActionRotateCredential, Principal: b.ServicePrincipal,
			PrincipalType: PrincipalServicePrincipal, Binding: b.Name, PrincipalID: l.Credential.OwnerID,
			Reason: fmt.Sprintf("%s may hold %s %s, %s: a new credential is recorded first, then it is revoked", b.Variable, l.Credential.Kind, l.Credential.ID, LeftoverReason),
		})
	}
	for _, l := range pl.snap.Leftovers {
		if rotated[l.Binding] {
			continue
		}
		action := ActionRevokeToken
		if l.Credential.Kind == CredentialOAuthSecret {
			action = ActionRevokeSecret
		}
		pl.changes = append(pl.changes, Change{
			ID: action.String() + "/" + l.Credential.ID, Action: action, Principal: l.Credential.Owner,
			PrincipalType: PrincipalServicePrincipal, TokenID: l.Credential.ID, Binding: l.Binding, Destructive: true,
			Reason: LeftoverReason + " of " + l.Binding, PrincipalID: l.Credential.OwnerID,
		})
	}
}

// cleanLeftovers runs in a rotation's preparation, under the write lock
// only (otherwise a leftover may be another run's credential in flight): it
// revokes the binding's leftovers the variable cannot hold, before anything
// is created (so interrupted rotations never fill a service principal's
// secrets), and keeps those it may hold in the credentials revoked after
// the new one is recorded. It returns the credentials still live.
func (r *rotation) cleanLeftovers(ctx context.Context, creds []Credential, elsewhere func(string) bool) []Credential {
	if !holdsWriteLock(ctx) {
		return creds
	}
	log := readRotationLog(r.c.AuditFile)
	live := slices.Clone(creds)
	for _, l := range bindingLeftovers(r.b, log, creds, r.recorded(), elsewhere) {
		if l.InVariable {
			r.leftover = append(r.leftover, l.Credential)
			continue
		}
		if err := r.c.revoke(ctx, r.j, l.Credential); err != nil {
			r.c.log().Warn("leftover credential not revoked; the next run retries", "binding", r.b.Name, "credential", l.Credential.ID, "err", oneLine(err))
			continue
		}
		r.res.Revoked = append(r.res.Revoked, l.Credential.ID)
		live = slices.DeleteFunc(live, func(c Credential) bool { return c.ID == l.Credential.ID })
	}
	return live
}

// leftoverGuard checks a planned leftover revocation once more when it is
// applied: a plan made while another run's rotation was under way may list
// that rotation's new credential, which its binding records by now.
type leftoverGuard struct {
	Executor
	c *Credentials
}

func (g leftoverGuard) RevokeToken(ctx context.Context, ch Change) error {
	if err := g.check(ctx, ch); err != nil {
		return err
	}
	return g.Executor.RevokeToken(ctx, ch)
}

func (g leftoverGuard) RevokeSecret(ctx context.Context, ch Change) error {
	if err := g.check(ctx, ch); err != nil {
		return err
	}
	return g.Executor.RevokeSecret(ctx, ch)
}

func (g leftoverGuard) check(ctx context.Context, ch Change) error {
	if ch.Binding == "" || !strings.HasPrefix(ch.Reason, LeftoverReason) {
		return nil
	}
	b, ok := g.c.Config.BindingByName(ch.Binding)
	if !ok {
		return nil
	}
	vs, err := g.c.bindingVars(ctx, b)
	if err != nil {
		return fmt.Errorf("re-read %s_ID of binding %s before revoking a leftover: %w", b.Variable, b.Name, err)
	}
	if vs.byKey[b.Variable+"_ID"].Value == ch.TokenID {
		return fmt.Errorf("binding %s records %s by now, so it is no leftover: not revoked; plan again", b.Name, ch.TokenID)
	}
	return nil
}
