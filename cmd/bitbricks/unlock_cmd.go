package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	bbsync "github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
)

func newUnlockCmd(s *ioStreams, g *globalFlags) *cobra.Command {
	var leaseID string
	var yes, force bool
	cmd := &cobra.Command{
		Annotations: map[string]string{mutatesKey: mutatesAlways},
		Use:         "unlock",
		Short:       "Release the write lease a killed bitbricks run left in a workspace (as terraform force-unlock)",
		Long: `unlock releases the write lease of a workspace that a killed or crashed
bitbricks run left behind, so that the next writer need not wait for it to
expire (up to 5 minutes).

It shows the lease's holder (machine, process, command, since when, until
when) and its lease id, then asks you to type the workspace's name (with one
workspace, its host); --yes skips that for scripts. With --lease-id it
releases only the lease of that id, so a lease another run has taken since
is never released by mistake. It refuses (exit 3) when the holder is a live
process on this machine, or a bitbricks run here holds the local lock. With
no lease held it says so and exits 0.

A live run renews its lease every third of its lifetime (every 1m40s), so
a lease renewed less than that ago may belong to a run that is still
writing: unlock refuses it (exit 3) and says by when it must have been
renewed if its run were alive. --force releases it anyway, for when you
know that run is dead (its machine is gone, its job was cancelled).

The release takes the lease over as an expired one is taken (never
overwriting another's) and leaves it expired: the next writer goes ahead at
once. A run that was released while it still wrote finds it before its next
change and stops there, exit 1, saying its lease was released by unlock and
after when its changes may have overlapped another writer's. Release only a
run you know is dead. The release is audited.

A run whose holder ran on this very machine and whose process no longer
exists needs no unlock: the next writer here takes its lease over at once.`,
		Example: `  bitbricks unlock --workspace prod
  bitbricks unlock --workspace prod --lease-id 3f2a9c0d1e4b5a67 --yes
  bitbricks unlock --workspace prod --force   # renewed recently, but its machine is gone`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(g.workspaces) > 1 {
				return errors.New("unlock releases one workspace's lease: pass --workspace once")
			}
			e, asJSON, err := engineAndFormat(s, g)
			if err != nil {
				return err
			}
			ws := ""
			if len(g.workspaces) == 1 {
				ws = g.workspaces[0]
			}
			ctx := cmd.Context()
			st, err := e.svc.Lease(ctx, ws)
			if err != nil {
				return err
			}
			if !asJSON {
				renderLease(s, st)
			}
			if !st.Held {
				// Nothing to release: what unlock is for already holds.
				if asJSON {
					return json.NewEncoder(s.Out).Encode(map[string]any{"lease": st})
				}
				return nil
			}
			if err := st.Refusal(force); err != nil {
				if asJSON {
					_ = json.NewEncoder(s.Out).Encode(map[string]any{"lease": st})
				}
				return err
			}
			if !yes {
				name := cmp.Or(st.Workspace, st.Host)
				if ok, err := confirmName(s, "Release this lease? Only if that run is dead.", name); err != nil || !ok {
					return cancelled(s, err)
				}
			}
			got, err := e.svc.Unlock(ctx, ws, cmp.Or(leaseID, st.LeaseID), force)
			if asJSON {
				if jerr := json.NewEncoder(s.Out).Encode(map[string]any{"lease": got}); jerr != nil && err == nil {
					err = jerr
				}
			}
			if err != nil {
				return err
			}
			if !asJSON {
				fmt.Fprintf(s.Out, "✓ released the write lease %s of %s; the next writer goes ahead at once (audited)\n", views.Sanitize(got.Path), views.Sanitize(got.Holder.Host))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&leaseID, "lease-id", "", "release only the lease of this id (as shown); refused when another holds the lease now")
	f.BoolVarP(&yes, "yes", "y", false, "do not ask for the workspace name (needed when not on a terminal)")
	f.BoolVar(&force, "force", false, "release a lease renewed so recently that its run may be alive: only when you know that run is dead (a run still writing stops before its next change)")
	return cmd
}

// renderLease prints who holds a workspace's write lease.
func renderLease(s *ioStreams, st bbsync.LeaseState) {
	where := st.Host
	if st.Workspace != "" {
		where = "workspace " + st.Workspace + " (" + st.Host + ")"
	}
	if !st.Held {
		fmt.Fprintf(s.Out, "No bitbricks run holds the write lease of %s.\n", where)
		return
	}
	now := s.Now()
	h := st.Holder
	// What the lease file says is anyone's who can write the lease folder:
	// each field stays on its line, without escapes.
	line := views.Sanitize
	fmt.Fprintf(s.Out, "Write lease of %s:\n", line(where))
	fmt.Fprintf(s.Out, "  lease     %s\n", line(st.Path))
	id := line(cmp.Or(st.LeaseID, "(none)"))
	if strings.HasPrefix(st.LeaseID, "invalid-") {
		id += " (the file's own id is not one bitbricks writes: it was not written by bitbricks, or was changed)"
	}
	fmt.Fprintf(s.Out, "  lease id  %s\n", id)
	fmt.Fprintf(s.Out, "  holder    %s\n", line(cmp.Or(h.Holder, "unknown")))
	fmt.Fprintf(s.Out, "  machine   %s, process %d\n", line(cmp.Or(h.Host, "unknown")), h.Process)
	fmt.Fprintf(s.Out, "  command   %s\n", line(cmp.Or(h.Command, "unknown")))
	if !h.Start.IsZero() {
		fmt.Fprintf(s.Out, "  since     %s (%s ago)\n", h.Start.UTC().Format(time.RFC3339), now.Sub(h.Start).Round(time.Second))
	}
	if !st.Renewed.IsZero() && !st.Expired {
		fmt.Fprintf(s.Out, "  renewed   %s (%s ago; a live run renews it every %s)\n", st.Renewed.UTC().Format(time.RFC3339), max(now.Sub(st.Renewed), 0).Round(time.Second), st.RenewEvery.Round(time.Second))
	}
	switch {
	case st.Expired:
		fmt.Fprintf(s.Out, "  expires   %s (expired: the next writer takes it over anyway)\n", h.Expiry.UTC().Format(time.RFC3339))
	default:
		fmt.Fprintf(s.Out, "  expires   %s (in %s)\n", h.Expiry.UTC().Format(time.RFC3339), h.Expiry.Sub(now).Round(time.Second))
	}
	if st.LocalLive {
		fmt.Fprintln(s.Out, "  ! the holder is a process on this machine that may still run")
	} else if st.Recent {
		fmt.Fprintf(s.Out, "  ! renewed recently: its run may still be writing; if it is not renewed by %s, it is dead\n", st.DeadAfter.UTC().Format(time.RFC3339))
	}
}

// releaseLock lets a write lock a command held (HoldWriteLockIn) go, and
// adds to *err what that reports: a lease released by unlock, or taken
// over, while the command held it, unless *err says so already.
func releaseLock(err *error, release func() error) {
	if rerr := release(); rerr != nil && !errors.As(*err, new(*bbsync.LeaseLostError)) {
		*err = errors.Join(*err, rerr)
	}
}
