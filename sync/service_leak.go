package sync

import (
	"context"
	"errors"
)

// RevokeLeakRest revokes the rest of a leak's owner's credentials once
// RevokeLeaked (without opts.Rest) has revoked the leaked token and checked
// that it no longer authenticates: the owner's bindings rotated first, then
// its other credentials, bitbricks' own last (Credentials.RevokeLeakRest).
// The console offers it after the search, as a second choice.
func (s *Service) RevokeLeakRest(ctx context.Context, leak *Leak, opts LeakOptions) (LeakRevocation, error) {
	if leak == nil {
		return LeakRevocation{}, errors.New("revoke the rest of a leak: trace it first")
	}
	if len(s.parts) > 0 {
		// The leak was traced in one workspace: the rest goes there.
		return routed(ctx, s, to(s.activePart(leak.Workspace)), "revoke --leaked", func(ctx context.Context, ws *Service) (LeakRevocation, error) {
			return ws.RevokeLeakRest(ctx, leak, opts)
		}, func(res *LeakRevocation, workspace string) {
			for i := range res.Revoked {
				res.Revoked[i].Workspace = workspace
			}
			for i := range res.Failed {
				res.Failed[i].Credential.Workspace = workspace
			}
		})
	}
	c, err := s.credentials(ctx)
	if err != nil {
		return LeakRevocation{}, err
	}
	var res LeakRevocation
	err = s.Writing(ctx, "revoke --leaked", func(ctx context.Context) (err error) {
		res, err = c.RevokeLeakRest(ctx, leak, opts)
		return err
	})
	return res, err
}

// Rest is how many of the owner's credentials are left once the leaked
// token is gone: its other tokens and its OAuth secrets.
func (l *Leak) Rest() int { return max(0, len(l.Tokens)+len(l.Secrets)-1) }
