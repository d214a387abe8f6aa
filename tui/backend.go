// Package tui is the bitbricks admin console: a bubbletea program that shows Bitbucket
// groups beside the Databricks principals they map to, the drift between them and the
// age of every credential, and lets an admin rotate, revoke or re-map with confirmation.
// It does no I/O itself: every call to the engine goes through a Backend from a tea.Cmd.
package tui

import (
	"context"
	"io"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/sync"
	"github.com/charmbracelet/lipgloss"
)

// Backend is what the console asks of the engine. The root model calls it only from
// tea.Cmds, so a slow or failing call never blocks or crashes the console.
type Backend interface {
	// Load reads a snapshot and plans it against the current config.
	Load(ctx context.Context) (*sync.Snapshot, sync.Plan, error)
	// Config is the config the last Load planned with.
	Config() *config.Config
	// CheckPlanSize is the refusal Apply would give plan (the changes
	// chosen, with the load's problems that bear on the scope shown:
	// sync.ApplyInScope), for max_changes or a workspace not read, or
	// nil; asked before the confirmation.
	CheckPlanSize(plan sync.Plan) error
	// Apply executes exactly plan's changes, reporting each result as it
	// lands; it refuses what CheckPlanSize refuses.
	Apply(ctx context.Context, plan sync.Plan, progress func(sync.Result)) ([]sync.Result, error)
	// Revoke revokes tokens or service principal secrets: what was
	// revoked and what failed, each naming its workspace with several.
	Revoke(ctx context.Context, creds []sync.Credential) (sync.Revocation, error)
	// FindLeaked says whose token a value is and what revoking it takes, without
	// revoking anything, so the console can show the blast radius before asking.
	FindLeaked(ctx context.Context, value string) (Leak, error)
	// RevokeLeaked is the first part of `bitbricks revoke --leaked` on exactly
	// the leak FindLeaked showed: the owner's tokens revoked one at a time
	// until the leaked value stops authenticating (a pipeline's only after
	// its binding's rotation), audited; the rest is a choice that follows.
	RevokeLeaked(ctx context.Context, leak Leak) (LeakResult, error)
	// RevokeLeakRest revokes the rest of the owner's credentials once
	// RevokeLeaked left the leaked token dead: bindings rotated first,
	// bitbricks' own credential last.
	RevokeLeakRest(ctx context.Context, leak Leak) (LeakResult, error)
	// Rotate rotates one pipeline binding by the rotation protocol and says
	// what it did: the new credential, what it revoked, what it left.
	Rotate(ctx context.Context, binding string) (sync.RotationResult, error)
	// Federate runs phase 1 of `bitbricks federate` for one binding: the
	// federation policy that trusts its pipeline's OIDC token, audited.
	Federate(ctx context.Context, binding string) (sync.FederationResult, error)
	// Remap points mapping mappingIndex at databricksGroup, rewriting the config file
	// with its comments and layout kept.
	Remap(ctx context.Context, mappingIndex int, databricksGroup string) error
	// Map adds a mapping of an unmapped Bitbucket group to databricksGroup,
	// rewriting the config file with its comments and layout kept.
	Map(ctx context.Context, bitbucketGroup, databricksGroup string) error
	// Audit returns the n most recent audit events, newest first.
	Audit(ctx context.Context, n int) ([]AuditEvent, error)
	// In is the backend that writes to the named workspace of several (a
	// revocation, rotation, federation or leak goes to the workspace of
	// what it acts on); "", or a load of one workspace: the backend itself.
	// Apply needs no such step: each change names its workspace.
	In(workspace string) (Backend, error)
}

// Leak is what a leaked token value leads to. It never holds the value.
type Leak struct {
	Redacted  string // the value as dapi…1a2b
	Owner     string // the owner's name; "" when it has none
	OwnerID   string // the owner's SCIM id
	OwnerType sync.PrincipalType
	// Tokens are every token of the owner, in the order they are revoked
	// until the leaked value stops authenticating.
	Tokens []sync.Credential
	// Bindings are the owner's pipeline bindings, rotated first.
	Bindings []string
	// Self: the owner is the identity bitbricks uses (its own credential is
	// among the tokens and goes last). Protected: the owner is in
	// policy.protected (only the leaked token goes).
	Self, Protected bool
	// Workspace is the workspace the leak was traced in, with several.
	Workspace string
	// trace is the backend's own record of the leak, opaque to the console.
	trace any
}

// LeakResult is what a step of a leak's containment did.
type LeakResult struct {
	Owner   string // the owner's name
	Leaked  string // the leaked token's id ("" when the step was the rest)
	Revoked int    // credentials revoked
	// Rest are the owner's credentials still alive that the rest would
	// revoke; empty when there is nothing to offer (none left, a protected
	// owner, or bitbricks' own credential gone).
	Rest []sync.Credential
	// Note says, in words, what was kept, and the command that finishes it.
	Note string
}

// AuditEvent is one line of the audit log, as the console shows it.
type AuditEvent struct {
	Time     time.Time
	Operator string // OS user and Databricks identity
	Action   string // a change action, or revoke_leaked, remap, rotate
	Target   string
	Result   string // sync.ResultApplied, ResultFailed, ResultSkipped
	Error    string
	// Workspaces are the Databricks workspaces the line wrote to, with
	// several (sync.AuditWorkspaces); Short is Target without them.
	Workspaces []string
	Short      string
	// Account: the line changed an account group's membership, one write
	// for every workspace (sync.AuditAccountWide), whichever workspace it
	// names: shown in every workspace's scope.
	Account bool
}

// Options configure the console. The zero value is a working console on the real clock.
type Options struct {
	// ReadOnly disables every key that changes something.
	ReadOnly bool
	// Now is the clock (default time.Now); tests inject a fixed one.
	Now func() time.Time
	// Renderer draws the styles (default: lipgloss's, for stdout); tests pass one with
	// the Ascii profile.
	Renderer *lipgloss.Renderer
	// LogWriter receives the console's log (default: discarded). Never stdout.
	LogWriter io.Writer
	// Context cancels backend calls when it is done (default: Background).
	Context context.Context
	// TickEvery is how often the header's ages ("read 5m ago") are redrawn
	// with nothing else happening (default: a minute).
	TickEvery time.Duration
}
