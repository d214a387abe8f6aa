package sync

import (
	"context"
	"slices"
)

// A run limited to some workspaces (--workspace dev) reads the departures
// ledgers of the config's other workspaces too: one GET each, read-only,
// no lock. A removal from an account group (shared by every workspace) is
// recorded in the ledger of the workspace whose part of the run made it,
// and that may be another workspace than the one a later limited run
// serves: without this, a dev-only pipeline on another machine would never
// learn that a person taken out of an account group by a prod run left,
// and their dev tokens would outlive them. Reading costs one request per
// other workspace and needs nothing written anywhere else (a write into
// every workspace's ledger would need every workspace's write lease, which
// a run limited to one does not hold); it also finds what runs before it
// recorded in one ledger only. Another workspace's ledger that cannot be
// read is logged as a warning, not a problem of the run: a run limited to
// prod is the way out while dev is down, and must stay green then; the
// people only that ledger names keep their tokens that run, and the next
// run that reads it revokes them.

// readOtherLedgers adds to ev the ledgers of s's workspaces that are not
// among the active parts.
func (s *Service) readOtherLedgers(ctx context.Context, active []workspacePart, ev *ledgerEvidence) {
	var others []workspacePart
	for _, p := range s.parts {
		if !slices.ContainsFunc(active, func(a workspacePart) bool { return a.name == p.name }) {
			others = append(others, p)
		}
	}
	if len(others) == 0 || ev == nil {
		return
	}
	ids := make([]int64, len(others))
	for i := range ids {
		ids[i] = 1 // read each: no identity check gates a read-only lookup of evidence
	}
	got := readLedgers(ctx, others, ids)
	for k, e := range got.former {
		if _, ok := ev.former[k]; !ok {
			ev.former[k] = e
		}
	}
	for i, p := range others {
		if err := got.errs[i]; err != nil {
			s.log.Warn("departures ledger of another workspace not read: the departures only it records are not acted on this run",
				"workspace", p.name, "err", oneLine(err))
		}
	}
}
