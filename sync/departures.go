package sync

import (
	"bufio"
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/bitbricks/bitbricks/config"
)

// Departures across workspaces and runs.
//
// Whether a person left the Bitbucket workspace is one fact (there is one
// Bitbucket workspace), proven per person as before; revoking their tokens
// is per Databricks workspace, for every token they own there. So:
//
//   - a departure proven while planning any workspace of a run counts in
//     every workspace of that run (planParts): a person in a mapped group of
//     prod only who left loses their dev tokens too;
//   - a person bitbricks removed from a mapped group in an earlier run (the
//     audit log's applied remove_member lines) is still asked about and
//     still departs, although they are in no mapped group any more: a run
//     limited to one workspace (or one whose revocations failed) that took
//     them out of a shared account group does not make their other tokens
//     survive.
//
// Every other rule holds: only a clean proof departs anybody, a person whose
// departure is unknown anywhere in the run keeps every token (with the
// departed_unknown finding), and protected owners and the caller are never
// revoked.

// formerMembers reads, from the audit log at path, the users bitbricks
// removed from a group that a mapping of cfg (any workspace) names: lower-
// case userName -> that group. A log that cannot be read gives none.
func formerMembers(path string, cfg *config.Config) map[string]string {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	mapped := map[string]bool{}
	for _, m := range cfg.Whole().Mappings {
		mapped[m.DatabricksGroup] = true
	}
	out := map[string]string{}
	action := []byte(`"` + ActionRemoveMember.String() + `"`)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, action) {
			continue // most lines are other changes
		}
		var ev AuditEvent
		if json.Unmarshal(line, &ev) != nil || ev.Action != ActionRemoveMember.String() || ev.Result != ResultApplied {
			continue
		}
		group, user := memberTargetParts(ev.Target)
		if mapped[group] && strings.Contains(user, "@") {
			out[strings.ToLower(user)] = group
		}
	}
	return out
}

// memberTargetParts splits a member change's audit target ("group:G
// user:NAME", possibly followed by " workspace:W") into G and NAME; "" for
// a service principal or anything else.
func memberTargetParts(target string) (group, user string) {
	for _, f := range strings.Fields(target) {
		switch {
		case strings.HasPrefix(f, "group:"):
			group = strings.TrimPrefix(f, "group:")
		case strings.HasPrefix(f, string(PrincipalUser)+":"):
			user = strings.TrimPrefix(f, string(PrincipalUser)+":")
		}
	}
	return group, user
}

// runEvidence is what the workspaces of one run proved about departures.
type runEvidence struct {
	departed map[string]bool // lower-case userName: proven to have left
}

// departureEvidence is who pl (started by startPlan over one workspace's
// snapshot) treats as departed on that snapshot's evidence alone, who it
// found unknown (that person then departs nowhere in the run), and whether
// it could tell departures at all (not with the member list unread or
// members unresolved).
func (pl *planner) departureEvidence() departurePart {
	unsure := slices.Collect(maps.Keys(pl.snap.PresenceUnknown))
	if !pl.actsOnDepartures() {
		return departurePart{unsure: unsure, known: true}
	}
	return departurePart{departed: pl.proven, unsure: unsure, known: pl.departuresUnknown == ""}
}

// runDepartures merges the departures each workspace of a run proved: a
// person proven departed in one is departed in all, unless any workspace
// found their departure unknown, or any could not tell departures at all.
func runDepartures(parts []departurePart) *runEvidence {
	out := &runEvidence{departed: map[string]bool{}}
	unsure := map[string]bool{}
	for _, p := range parts {
		if !p.known {
			return &runEvidence{}
		}
		for k := range p.departed {
			out.departed[k] = true
		}
		for _, k := range p.unsure {
			unsure[strings.ToLower(k)] = true
		}
	}
	for k := range unsure {
		delete(out.departed, k)
	}
	return out
}

// departurePart is one workspace's departure evidence.
type departurePart struct {
	departed map[string]bool
	unsure   []string
	known    bool
}

// formerHolds are the lower-case userNames of the users who still hold,
// in this workspace, something a departure would take: a token, or an
// assignment of their own. nil when that cannot be told (the tokens, or
// the assignments a plan could take, were not read), so that all are asked.
func (r *reader) formerHolds() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.snap.TokensKnown || (r.readsAssignments() && !r.snap.AssignmentsKnown) {
		return nil
	}
	out := map[string]bool{}
	for _, c := range r.rawTokens {
		if u := r.snap.Users[c.OwnerID]; u != nil {
			out[strings.ToLower(u.UserName)] = true
		}
	}
	for id := range r.snap.Assignments {
		if u := r.snap.Users[id]; u != nil {
			out[strings.ToLower(u.UserName)] = true
		}
	}
	return out
}
