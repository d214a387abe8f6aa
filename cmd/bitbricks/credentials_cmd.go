package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	bbsync "github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
)

// engineFromFlags loads the config and builds the engine, for the commands
// that talk to the real systems.
func engineFromFlags(s *ioStreams, g *globalFlags) (*engine, error) {
	cfg, err := loadConfig(s, g)
	if err != nil {
		return nil, err
	}
	e, err := newEngine(s, cfg, engineOptions{lockTimeout: g.lockTimeout})
	if err != nil {
		return nil, err
	}
	if err := e.svc.LimitWorkspaces(g.workspaces); err != nil {
		return nil, err
	}
	return e, nil
}

// engineAndFormat checks --output first (a typo fails before any request),
// then builds the engine.
func engineAndFormat(s *ioStreams, g *globalFlags) (e *engine, asJSON bool, err error) {
	if asJSON, err = g.json(); err != nil {
		return nil, false, err
	}
	e, err = engineFromFlags(s, g)
	return e, asJSON, err
}

func newRevokeCmd(s *ioStreams, g *globalFlags) *cobra.Command {
	var (
		tokenID, secretID, sp, owner string
		leaked, yes, force           bool
	)
	cmd := &cobra.Command{
		Annotations: map[string]string{mutatesKey: mutatesAlways},
		Use:         "revoke",
		Short:       "Revoke a token or secret: by id, every credential of one owner, or a leaked token value",
		Long: `revoke removes Databricks credentials, audited one line each.

  --token-id ID                      one token (PAT or on-behalf-of)
  --secret-id ID --service-principal SP   one OAuth secret of a service principal
  --owner NAME                       every credential of one user or service principal;
                                     lists them first, and on a terminal you confirm by
                                     typing the owner's name
  --leaked                           reads a token VALUE from stdin (never from argv),
                                     finds its owner by asking Databricks who it is,
                                     revokes the leaked token first, then (confirmed
                                     separately) the owner's other credentials: a service
                                     principal's bindings rotated first, bitbricks' own
                                     credential last; ends by checking the value is dead

A protected principal's credential, one bitbricks itself may be using, or one
a pipeline runs on needs --force.

On a terminal it asks first; elsewhere it needs --yes. Values are never printed:
only their first and last four characters (dapi…1a2b).`,
		Example: `  bitbricks revoke --token-id 0e9c80442d063f7e
  bitbricks revoke --owner hal@acme.com
  pbpaste | bitbricks revoke --leaked --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			modes := 0
			for _, set := range []bool{tokenID != "", secretID != "", owner != "", leaked} {
				if set {
					modes++
				}
			}
			if modes != 1 {
				return errors.New("revoke: give exactly one of --token-id, --secret-id (with --service-principal), --owner or --leaked")
			}
			if secretID != "" && sp == "" {
				return errors.New("revoke --secret-id needs --service-principal NAME")
			}
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			var value string
			if leaked {
				// Read the value before anything else, so a bad config does
				// not leave it waiting in a pipe.
				if value, err = readSecret(s); err != nil {
					return err
				}
			}
			e, err := engineFromFlags(s, g)
			if err != nil {
				return err
			}
			// The list shown, the confirmation and the revocation happen under
			// one write lock: no other writer changes them meanwhile. With
			// several workspaces, the locks of those it revokes in only.
			var scope []string
			switch {
			case tokenID != "":
				scope, err = e.svc.WorkspacesOfToken(cmd.Context(), tokenID)
			case secretID != "":
				scope, err = e.svc.WorkspacesOfSecrets(cmd.Context(), sp)
			case owner != "":
				scope, err = e.svc.WorkspacesOfOwner(cmd.Context(), owner)
			default:
				scope, err = e.svc.WorkspacesOfLeak(cmd.Context(), value)
			}
			if err != nil {
				return err
			}
			ctx, release, err := e.svc.HoldWriteLockIn(cmd.Context(), "revoke", scope)
			if err != nil {
				return err
			}
			defer releaseLock(&err, release)
			defer printAuditHead(ctx, s, e.svc, asJSON)
			switch {
			case tokenID != "":
				cr, err := e.svc.LookupToken(ctx, tokenID)
				if err != nil {
					return err
				}
				if err := guardRevocation(ctx, s, e.svc, []bbsync.Credential{cr}, force); err != nil {
					return err
				}
				if !yes {
					if ok, err := confirm(s, fmt.Sprintf("Revoke token %s of %s%s?", tokenID, cr.Owner, inWorkspace(cr.Workspace))); err != nil || !ok {
						return cancelled(s, err)
					}
				}
				cr, err = e.svc.RevokeToken(ctx, tokenID)
				if err != nil {
					return err
				}
				if err := report(s, asJSON, []bbsync.Credential{cr}, nil); err != nil {
					return err
				}
				// Revoked where it was found; a workspace not searched is
				// said, and the run exits 1: the search was incomplete.
				return e.svc.Unsearched()
			case secretID != "":
				cr, err := e.svc.LookupSecret(ctx, sp, secretID)
				if err != nil {
					return err
				}
				if err := guardRevocation(ctx, s, e.svc, []bbsync.Credential{cr}, force); err != nil {
					return err
				}
				if !yes {
					if ok, err := confirm(s, fmt.Sprintf("Revoke OAuth secret %s of %s?", secretID, sp)); err != nil || !ok {
						return cancelled(s, err)
					}
				}
				cr, err = e.svc.RevokeSecret(ctx, sp, secretID)
				if err != nil {
					return err
				}
				return report(s, asJSON, []bbsync.Credential{cr}, nil)
			case owner != "":
				owned, err := e.svc.OwnerCredentials(ctx, owner)
				if err != nil {
					return err
				}
				if owned.Unknown != "" {
					fmt.Fprintf(s.Err, "note: could not read every credential of %s: %s\n", owner, owned.Unknown)
				}
				if len(owned.Credentials) == 0 {
					fmt.Fprintf(s.Err, "%s holds no credentials that could be listed: nothing to revoke.\n", owned.Principal.Name)
					if err := report(s, asJSON, nil, nil); err != nil {
						return err
					}
					return bbsync.CheckProblems(owned.Problems)
				}
				listCredentials(s, owned.Principal.Name, owned.Credentials)
				if err := guardRevocation(ctx, s, e.svc, owned.Credentials, force); err != nil {
					return err
				}
				for _, b := range e.svc.OwnerBindings(owned.Principal) {
					fmt.Fprintf(s.Err, "  warning: pipeline binding %s (%s, variable %s) uses %s and stops working; to replace a leaked credential without breaking it, use `bitbricks revoke --leaked` or `bitbricks rotate %s`\n",
						b.Name+inWorkspace(b.Workspace), b.Repository, b.Variable, owned.Principal.Name, b.Name)
				}
				if !yes {
					if ok, err := confirmName(s, fmt.Sprintf("Revoke all %d credentials of %s?", len(owned.Credentials), owned.Principal.Name), owned.Principal.Name); err != nil || !ok {
						return cancelled(s, err)
					}
				}
				rev, err := e.svc.RevokeCredentials(ctx, owned.Credentials)
				if rerr := report(s, asJSON, rev.Revoked, rev.Failed); rerr != nil {
					return rerr
				}
				if !asJSON {
					views.RenderProblemsText(s.Out, owned.Problems, views.TextOptions{Color: s.ColorOut})
				}
				return errors.Join(err, bbsync.CheckProblems(owned.Problems))
			default:
				leak, err := e.svc.FindLeaked(ctx, value)
				value = ""
				if err != nil {
					return err
				}
				return revokeLeaked(ctx, s, e.svc, leak, yes, force, asJSON)
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&tokenID, "token-id", "", "revoke this token")
	f.StringVar(&secretID, "secret-id", "", "revoke this OAuth secret (with --service-principal)")
	f.StringVar(&sp, "service-principal", "", "the service principal of --secret-id (display name or application id)")
	f.StringVar(&owner, "owner", "", "revoke every credential of this user (userName) or service principal")
	f.BoolVar(&leaked, "leaked", false, "read a leaked token value from stdin and revoke every token of its owner")
	f.BoolVarP(&yes, "yes", "y", false, "do not ask (needed when not on a terminal)")
	f.BoolVar(&force, "force", false, "also revoke a protected principal's credential, one bitbricks itself may be using, or one a pipeline binding holds")
	return cmd
}

// guardRevocation refuses (exit 3) to revoke a protected principal's
// credential, one bitbricks itself may be using or one a pipeline holds,
// unless --force; with --force it still names each, so the confirmation
// that follows is made knowing it.
func guardRevocation(ctx context.Context, s *ioStreams, svc *bbsync.Service, creds []bbsync.Credential, force bool) error {
	checks, err := svc.CheckRevocations(ctx, creds)
	if err != nil || len(checks) == 0 {
		return err
	}
	if !force {
		return &bbsync.ForceError{Checks: checks}
	}
	for _, c := range checks {
		for _, l := range c.Lines() {
			fmt.Fprintf(s.Err, "  ! --force: %s\n", l)
		}
	}
	return nil
}

// revokeLeaked is `revoke --leaked` once the leak is traced: the plan shown,
// the leaked token confirmed (it always goes first), the rest confirmed
// separately, then what happened, truthfully, line by line.
func revokeLeaked(ctx context.Context, s *ioStreams, svc *bbsync.Service, leak *bbsync.Leak, yes, force, asJSON bool) error {
	o := leak.Owner
	fmt.Fprintf(s.Err, "Token %s belongs to %s (%s)%s.\n", leak.Redacted, o.Name, strings.ReplaceAll(string(o.Type), "_", " "), inWorkspace(leak.Workspace))
	if len(leak.Candidates) == 1 {
		fmt.Fprintf(s.Err, "1. First, the leaked token: %s, the only token of %s.\n", leak.Candidates[0].ID, o.Name)
	} else {
		fmt.Fprintf(s.Err, "1. First, the leaked token. Databricks cannot say which of the %d tokens of %s it is, so they are revoked one at a time, in this order, until it stops authenticating:\n", len(leak.Candidates), o.Name)
		for _, c := range leak.Candidates {
			note := ""
			if b := leak.Bound[c.ID]; b != "" {
				note = "  (pipeline " + b + " runs on it)"
			}
			fmt.Fprintf(s.Err, "     %s %-6s %-20q created %s, used %s%s\n", c.ID, c.Kind, c.Comment, views.When(c.Created, s.Now(), "-"), views.LastUsed(c.LastUsed, s.Now()), note)
		}
	}
	rest := leak.Rest()
	fmt.Fprintf(s.Err, "2. Then, if you confirm it, the other %s of %s", views.Count(rest, "credential", ""), o.Name)
	if len(leak.Bindings) > 0 {
		names := make([]string, len(leak.Bindings))
		for i, b := range leak.Bindings {
			names[i] = b.Name
		}
		fmt.Fprintf(s.Err, ", after rotating pipeline %s %s so they keep working", views.Plural(len(names), "binding", ""), strings.Join(names, ", "))
	}
	fmt.Fprintln(s.Err, ".")
	if len(leak.Bound) > 0 {
		fmt.Fprintln(s.Err, "   A token a pipeline runs on goes only after its binding's rotation recorded a new one, even while searching.")
	}
	switch {
	case leak.SelfIsLeak:
		fmt.Fprintf(s.Err, "   ! the leaked value is the very credential bitbricks is using: once it is revoked bitbricks can do nothing more, so the rest is left for `%s` with another credential.\n", bbsync.RevokeOwnerCommand(o.Name, leak.Workspace, false))
	case leak.Self:
		fmt.Fprintf(s.Err, "   ! %s is the identity bitbricks is using: its own credential is among them and goes last.\n", o.Name)
	}
	if leak.Protected && !force {
		fmt.Fprintf(s.Err, "   ! %s is in policy.protected: only the leaked token goes; the rest is kept without --force.\n", o.Name)
	}
	if leak.Unknown != "" {
		fmt.Fprintf(s.Err, "   note: could not read %s\n", leak.Unknown)
	}
	opts := bbsync.LeakOptions{Rest: true, Force: force}
	if !yes {
		if ok, err := confirm(s, "Revoke the leaked token now?"); err != nil || !ok {
			return cancelled(s, err)
		}
		if rest > 0 && (!leak.Protected || force) {
			ok, err := confirmName(s, fmt.Sprintf("Also revoke the other %s of %s? Enter keeps them.", views.Count(rest, "credential", ""), o.Name), o.Name)
			if err != nil {
				return err
			}
			opts.Rest = ok
		}
	}
	res, err := svc.RevokeLeaked(ctx, leak, opts)
	if err != nil && len(res.Revoked) == 0 && len(res.Failed) == 0 && len(res.Rotations) == 0 && !res.Checked && res.Stopped == "" && res.CheckError == "" {
		return err // nothing was attempted (the lock, read-only): the error says it all
	}
	w := s.Out
	if asJSON {
		w = s.Err
	}
	// Each failure is said once: where the search stopped, in the
	// rotations, kept and broken lines, or in the revocation report.
	failed := res.Failed
	switch {
	case res.Leaked != "" && len(res.Searched) == 0:
		fmt.Fprintf(w, "✓ the leaked token %s (%s) was revoked first\n", leak.Redacted, res.Leaked)
	case res.Leaked != "":
		ids := make([]string, len(res.Searched))
		for i, c := range res.Searched {
			ids[i] = c.ID
		}
		fmt.Fprintf(w, "✓ the leaked token %s (%s) was revoked, after %s of %s that turned out not to be it: %s\n",
			leak.Redacted, res.Leaked, views.Count(len(ids), "other token", ""), o.Name, strings.Join(ids, ", "))
	case res.Stopped != "":
		fmt.Fprintf(w, "✗ the leaked token %s was not revoked: %s\n", leak.Redacted, res.Stopped)
		failed = nil
		if n := len(res.Revoked); n > 0 {
			ids := make([]string, n)
			for i, c := range res.Revoked {
				ids[i] = c.ID
			}
			fmt.Fprintf(w, "  done: revoked %s of %s while searching (%s), none of them the leak\n", views.Count(n, "token", ""), o.Name, strings.Join(ids, ", "))
		} else {
			fmt.Fprintf(w, "  done: nothing revoked\n")
		}
		notDone := "the search stopped there"
		if n := len(res.NotTried); n > 0 {
			ids := make([]string, n)
			for i, c := range res.NotTried {
				ids[i] = c.ID
			}
			notDone += fmt.Sprintf(": %s not tried (%s)", views.Count(n, "token", ""), strings.Join(ids, ", "))
		}
		// The owner's credentials the lines above do not name: the rest.
		named := map[string]bool{}
		for _, c := range append(slices.Clone(res.Revoked), res.NotTried...) {
			named[c.ID] = true
		}
		for _, f := range res.Failed {
			named[f.Credential.ID] = true
		}
		left := 0
		for _, c := range append(slices.Clone(leak.Tokens), leak.Secrets...) {
			if !named[c.ID] {
				left++
			}
		}
		if left > 0 {
			notDone += fmt.Sprintf("; the other %s of %s not revoked", views.Count(left, "credential", ""), o.Name)
		}
		fmt.Fprintf(w, "  not done: %s\n", notDone)
		fmt.Fprintf(w, "  next: %s\n", res.Next)
	default:
		fmt.Fprintf(w, "✗ the leaked token %s was not found among the tokens of %s\n", leak.Redacted, o.Name)
	}
	for _, r := range res.Rotations {
		if r.Done >= bbsync.StepRecord {
			fmt.Fprintf(w, "~ rotated %s: the pipeline now runs on %s (recorded)\n", r.Binding, r.NewID)
		} else {
			fmt.Fprintf(w, "✗ %s was not rotated (it stopped before recording a new credential; last step done: %s)\n", r.Binding, r.Done)
			if r.NewID != "" && r.Done >= bbsync.StepVerify && !slices.Contains(r.Revoked, r.NewID) {
				fmt.Fprintf(w, "  its new credential %s is alive too (the variable may hold it); `bitbricks rotate %s` cleans up\n", r.NewID, r.Binding)
			}
		}
	}
	for _, k := range res.Broken {
		fmt.Fprintf(w, "✗ %s %s: %s; run `%s`\n", k.Credential.Kind, k.Credential.ID, k.Why, k.Command)
	}
	for _, k := range res.Kept {
		fmt.Fprintf(w, "● kept %s %s of %s: %s; to finish: `%s`\n", k.Credential.Kind, k.Credential.ID, k.Credential.Owner, k.Why, k.Command)
	}
	if leak.Workspace != "" {
		fmt.Fprintf(w, "● credentials of %s in other workspaces are not touched: `bitbricks revoke --owner %s` lists them\n", o.Name, o.Name)
	}
	if !opts.Rest && rest > 0 {
		fmt.Fprintf(w, "● kept the other %s of %s (not confirmed); `%s` revokes them\n", views.Count(rest, "credential", ""), o.Name, bbsync.RevokeOwnerCommand(o.Name, leak.Workspace, false))
	}
	if res.Session != "" {
		cut := slices.ContainsFunc(res.Kept, func(k bbsync.KeptCredential) bool {
			return strings.Contains(k.Why, "bitbricks' own credential was revoked before it")
		})
		if n := len(res.Revoked); n > 0 && res.Revoked[n-1].ID == res.Session && !cut {
			fmt.Fprintf(w, "● %s was the credential bitbricks was using: revoked last\n", res.Session)
		} else {
			fmt.Fprintf(w, "● %s was the credential bitbricks was using: it had to go before the rest, so what is kept above was not revoked\n", res.Session)
		}
	}
	if asJSON {
		if rerr := leakJSON(s, leak, res); rerr != nil && err == nil {
			err = rerr
		}
	} else if rerr := report(s, false, res.Revoked, failed); rerr != nil && err == nil {
		err = rerr
	}
	switch {
	case res.StillValid:
		fmt.Fprintf(w, "✗ the leaked token %s STILL AUTHENTICATES: revoke it in the Databricks workspace settings now\n", leak.Redacted)
	case res.Checked:
		fmt.Fprintf(w, "✓ the leaked token %s no longer authenticates (checked with SCIM Me)\n", leak.Redacted)
	default:
		fmt.Fprintf(w, "? could not check whether the leaked token %s still authenticates (%s)\n", leak.Redacted, res.CheckError)
	}
	// A workspace the value could not be tried at is said, and the run
	// exits 1: the owner may hold tokens there too.
	un := svc.Unsearched()
	if un != nil {
		fmt.Fprintf(w, "! %s\n", un)
	}
	if err == nil {
		if un != nil {
			return &exitError{code: 1, err: fmt.Errorf("the leak was handled in workspace %s only: see above", leak.Workspace)}
		}
		return nil
	}
	// Every failure is on a line above: the last line sums up, once.
	switch {
	case res.StillValid || res.Stopped != "":
		return &exitError{code: 1, err: fmt.Errorf("the leaked token %s may still be alive: see above, and do the next step now", leak.Redacted)}
	case !res.Checked:
		return &exitError{code: 1, err: fmt.Errorf("whether the leaked token %s still authenticates is unknown: see above", leak.Redacted)}
	}
	return &exitError{code: 1, err: fmt.Errorf("the leaked token %s is dead, but not everything else was done: see above", leak.Redacted)}
}

// leakJSON is the JSON form of a leak's revocation: what revoke reports,
// plus which token was the leak, what was kept and why, the rotations, the
// credential bitbricks was using, and the final check.
func leakJSON(s *ioStreams, leak *bbsync.Leak, res bbsync.LeakRevocation) error {
	type kept struct {
		ID      string `json:"id"`
		Kind    string `json:"kind"`
		Owner   string `json:"owner"`
		Why     string `json:"why"`
		Command string `json:"command"`
	}
	type rotation struct {
		Binding  string `json:"binding"`
		Recorded bool   `json:"recorded"`
		NewID    string `json:"new_credential_id"`
		LastStep string `json:"last_step"`
	}
	out := struct {
		Token      string              `json:"token"`
		Workspace  string              `json:"workspace,omitempty"`
		Owner      string              `json:"owner"`
		Leaked     string              `json:"leaked_token_id"`
		Searched   []string            `json:"revoked_while_searching"`
		Revoked    []revokedCredential `json:"revoked"`
		Failed     []revokedCredential `json:"failed"`
		Rotations  []rotation          `json:"rotations"`
		Kept       []kept              `json:"kept"`
		Broken     []kept              `json:"broken_pipelines"`
		Session    string              `json:"bitbricks_credential_revoked"`
		StillValid bool                `json:"still_authenticates"`
		Checked    bool                `json:"checked"`
		Stopped    string              `json:"search_stopped"`
		NotTried   []string            `json:"not_tried"`
		Next       string              `json:"next"`
	}{Token: leak.Redacted, Workspace: leak.Workspace, Owner: leak.Owner.Name, Leaked: res.Leaked, Session: res.Session, StillValid: res.StillValid, Checked: res.Checked,
		Searched: []string{}, Revoked: []revokedCredential{}, Failed: []revokedCredential{}, Rotations: []rotation{}, Kept: []kept{}, Broken: []kept{},
		Stopped: res.Stopped, NotTried: []string{}, Next: res.Next}
	for _, c := range res.NotTried {
		out.NotTried = append(out.NotTried, c.ID)
	}
	for _, c := range res.Searched {
		out.Searched = append(out.Searched, c.ID)
	}
	for _, c := range res.Revoked {
		out.Revoked = append(out.Revoked, revokedCredential{ID: c.ID, Kind: string(c.Kind), Owner: c.Owner, Workspace: c.Workspace})
	}
	for _, f := range res.Failed {
		out.Failed = append(out.Failed, revokedCredential{ID: f.Credential.ID, Kind: string(f.Credential.Kind), Owner: f.Credential.Owner, Error: f.Error})
	}
	for _, r := range res.Rotations {
		out.Rotations = append(out.Rotations, rotation{Binding: r.Binding, Recorded: r.Done >= bbsync.StepRecord, NewID: r.NewID, LastStep: r.Done.String()})
	}
	for _, k := range res.Kept {
		out.Kept = append(out.Kept, kept{ID: k.Credential.ID, Kind: string(k.Credential.Kind), Owner: k.Credential.Owner, Why: k.Why, Command: k.Command})
	}
	for _, k := range res.Broken {
		out.Broken = append(out.Broken, kept{ID: k.Credential.ID, Kind: string(k.Credential.Kind), Owner: k.Credential.Owner, Why: k.Why, Command: k.Command})
	}
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	if len(res.Failed) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d credentials could not be revoked", len(res.Failed), len(res.Failed)+len(res.Revoked))}
	}
	return nil
}

// readSecret reads one token value from stdin. It is never echoed: typed on
// a terminal, it is read with echo off after a prompt on stderr.
func readSecret(s *ioStreams) (string, error) {
	if f, ok := s.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(s.prompt(), "Paste the leaked token value (not shown), then Enter: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(s.prompt())
		if err != nil {
			return "", fmt.Errorf("read the token value from the terminal: %w", err)
		}
		if v := strings.TrimSpace(string(b)); v != "" {
			return v, nil
		}
		return "", errors.New("--leaked: no token value given; paste it at the prompt, or pipe it in: `pbpaste | bitbricks revoke --leaked --yes`")
	}
	line, err := s.readLine()
	line = strings.TrimSpace(line)
	if line == "" {
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the token value from stdin: %w", err)
		}
		return "", errors.New("--leaked reads the token value from stdin: paste it at the prompt on a terminal, or pipe it in, such as `pbpaste | bitbricks revoke --leaked --yes`")
	}
	return line, nil
}

// cancelled ends a command whose confirmation was declined (exit 1, as
// terraform does) or could not be asked (the error): nothing was changed.
func cancelled(s *ioStreams, err error) error {
	if err != nil {
		return err
	}
	fmt.Fprintln(s.prompt(), "Cancelled: nothing changed.")
	return &exitError{code: 1}
}

func listCredentials(s *ioStreams, owner string, creds []bbsync.Credential) {
	fmt.Fprintf(s.Err, "%s holds %s:\n", owner, views.Count(len(creds), "credential", ""))
	now := s.Now()
	for _, c := range creds {
		ws := ""
		switch {
		case c.Workspace != "" && c.Kind == bbsync.CredentialOAuthSecret:
			ws = fmt.Sprintf("%-12s ", "(account)")
		case c.Workspace != "":
			ws = fmt.Sprintf("%-12s ", views.Sanitize(c.Workspace))
		}
		fmt.Fprintf(s.Err, "  %s%-34s %-6s %-24s created %s, last used %s\n", ws, c.ID, views.KindName(c.Kind), views.QuoteComment(c.Comment), views.When(c.Created, now, "-"), views.LastUsed(c.LastUsed, now))
	}
}

// revokeReport is the JSON form of a revocation.
type revokeReport struct {
	Revoked []revokedCredential `json:"revoked"`
	Failed  []revokedCredential `json:"failed"`
}

type revokedCredential struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Owner string `json:"owner"`
	Error string `json:"error,omitempty"`
	// Workspace is the Databricks workspace, with several.
	Workspace string `json:"workspace,omitempty"`
}

// inWorkspace is " in workspace NAME", or "" with one workspace.
func inWorkspace(name string) string {
	if name == "" {
		return ""
	}
	return " in workspace " + views.Sanitize(name)
}

// where says where c lives, with several workspaces: a token in its
// workspace, an OAuth secret in the account.
func where(c bbsync.Credential) string {
	if c.Workspace != "" && c.Kind == bbsync.CredentialOAuthSecret {
		return " (account-level)"
	}
	return inWorkspace(c.Workspace)
}

func report(s *ioStreams, asJSON bool, revoked []bbsync.Credential, failed []bbsync.RevokeFailure) error {
	if asJSON {
		r := revokeReport{Revoked: []revokedCredential{}, Failed: []revokedCredential{}}
		for _, c := range revoked {
			r.Revoked = append(r.Revoked, revokedCredential{ID: c.ID, Kind: string(c.Kind), Owner: c.Owner, Workspace: c.Workspace})
		}
		for _, f := range failed {
			r.Failed = append(r.Failed, revokedCredential{ID: f.Credential.ID, Kind: string(f.Credential.Kind), Owner: f.Credential.Owner, Error: f.Error, Workspace: f.Credential.Workspace})
		}
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	for _, c := range revoked {
		fmt.Fprintf(s.Out, "- revoked %s %s of %s%s\n", c.Kind, c.ID, c.Owner, where(c))
	}
	for _, f := range failed {
		fmt.Fprintf(s.Out, "✗ could not revoke %s %s of %s%s: %s\n", f.Credential.Kind, f.Credential.ID, f.Credential.Owner, where(f.Credential), f.Error)
	}
	if len(failed) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d credentials could not be revoked (see above)", len(failed), len(failed)+len(revoked))}
	}
	return nil
}

func newRotateCmd(s *ioStreams, g *globalFlags) *cobra.Command {
	var due, yes bool
	cmd := &cobra.Command{
		Annotations: map[string]string{mutatesKey: mutatesAlways},
		Use:         "rotate [BINDING]",
		Short:       "Rotate pipeline credentials: one binding, or every one that is due",
		Long: `rotate replaces the credential a Bitbucket pipeline holds for a service
principal, by a protocol that never leaves the pipeline without a working one:

  1. create a new credential (on-behalf-of token, or OAuth secret)
  2. verify it authenticates as the service principal
  3. write it into the secured pipeline variable
  4. record its id in the companion variable <VARIABLE>_ID
  5. revoke the binding's older credentials

A failure before step 3 revokes the new credential and keeps the old one; a
failure later leaves both working, and the next rotation cleans up.
--due rotates every binding older than its rotate_every, or whose variable or
credential is missing.`,
		Example: `  bitbricks rotate etl-prod
  bitbricks rotate --due --yes`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if due == (len(args) == 1) {
				return errors.New("rotate: name one BINDING, or pass --due")
			}
			e, asJSON, err := engineAndFormat(s, g)
			if err != nil {
				return err
			}
			command := "rotate --due"
			if !due {
				command = "rotate " + args[0]
			}
			// With several workspaces, the locks of the bindings' workspaces.
			scope, err := e.svc.WorkspacesOfBindings(args...)
			if err != nil {
				return fmt.Errorf("rotate: %w", err)
			}
			// Which bindings are due is read under the write lock too, so two
			// runs never rotate the same binding one after the other.
			ctx, release, err := e.svc.HoldWriteLockIn(cmd.Context(), command, scope)
			if err != nil {
				return err
			}
			defer releaseLock(&err, release)
			var todo []bbsync.DueBinding
			// problems are the sources --due could not read: what is known
			// to be due is rotated, and the run still exits 1.
			var problems []bbsync.Problem
			if due {
				if todo, problems, err = e.svc.DueBindings(ctx); err != nil {
					return err
				}
			} else {
				b, err := e.svc.Binding(args[0])
				if err != nil {
					return fmt.Errorf("rotate: %w", err)
				}
				todo = []bbsync.DueBinding{{Binding: b, Reason: "asked for"}}
			}
			if len(todo) == 0 {
				if len(problems) > 0 {
					fmt.Fprintln(s.Err, "No binding is known to be due for rotation, but not every source could be read.")
				} else {
					fmt.Fprintln(s.Err, "No binding is due for rotation.")
				}
				if err := rotateReport(s, asJSON, nil, problems); err != nil {
					return err
				}
				return bbsync.CheckProblems(problems)
			}
			for _, d := range todo {
				fmt.Fprintf(s.Err, "%s %s (%s, %s%s): %s\n", bbsync.ActionRotateCredential.Glyph(), d.Binding.Name, d.Binding.ServicePrincipal, d.Binding.Credential, inWorkspace(d.Binding.Workspace), d.Reason)
			}
			if !yes {
				if ok, err := confirm(s, fmt.Sprintf("Rotate %s?", views.Count(len(todo), "binding", ""))); err != nil || !ok {
					return cancelled(s, err)
				}
			}
			defer printAuditHead(ctx, s, e.svc, asJSON)
			var results []rotationOutcome
			var errs []error
			for _, d := range todo {
				res, err := e.svc.Rotate(ctx, d.Binding.Name)
				o := rotationOutcome{Binding: d.Binding.Name, Workspace: d.Binding.Workspace, NewID: res.NewID, Done: res.Done.String(), Revoked: res.Revoked, Deferred: res.Deferred, Status: "applied"}
				if err != nil {
					o.Status, o.Error = "failed", oneLine(err.Error())
					errs = append(errs, err)
				}
				results = append(results, o)
			}
			if err := rotateReport(s, asJSON, results, problems); err != nil {
				return err
			}
			return errors.Join(append(errs, bbsync.CheckProblems(problems))...)
		},
	}
	cmd.Flags().BoolVar(&due, "due", false, "rotate every binding that is due")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask (needed when not on a terminal)")
	return cmd
}

type rotationOutcome struct {
	Binding string `json:"binding"`
	// Workspace is the binding's Databricks workspace, with several.
	Workspace string   `json:"workspace,omitempty"`
	Status    string   `json:"status"`
	NewID     string   `json:"new_credential_id"`
	Done      string   `json:"last_step"`
	Revoked   []string `json:"revoked"`
	// Deferred says why older credentials were left for the next rotation.
	Deferred string `json:"deferred,omitempty"`
	Error    string `json:"error"`
}

func rotateReport(s *ioStreams, asJSON bool, rs []rotationOutcome, problems []bbsync.Problem) error {
	if asJSON {
		if rs == nil {
			rs = []rotationOutcome{}
		}
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"rotations": rs, "problems": append([]bbsync.Problem{}, problems...)})
	}
	defer views.RenderProblemsText(s.Out, problems, views.TextOptions{Color: s.ColorOut})
	for _, r := range rs {
		if r.Status == "failed" {
			fmt.Fprintf(s.Out, "✗ %s: %s\n", r.Binding, r.Error)
			continue
		}
		fmt.Fprintf(s.Out, "%s rotated %s%s: new credential %s recorded; %d older revoked\n", bbsync.ActionRotateCredential.Glyph(), r.Binding, inWorkspace(r.Workspace), r.NewID, len(r.Revoked))
		if r.Deferred != "" {
			fmt.Fprintf(s.Out, "  %s\n", r.Deferred)
		}
	}
	return nil
}
