package sync

import (
	"bytes"

	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SavedPlan is a plan written by `sync --out` and applied later by `sync
// --apply --plan` (terraform's saved plans): exactly its changes are made,
// and only while each still holds.
type SavedPlan struct {
	Plan Plan
	// SnapshotDigest identifies the snapshot the plan was computed from
	// (SnapshotDigest); an apply that reads the same digest knows nothing
	// changed in between.
	SnapshotDigest string
}

// savedPlanDoc is the part of the JSON plan document a saved plan is read
// from; the rest (summary, results) is derived and ignored.
type savedPlanDoc struct {
	FormatVersion  string    `json:"format_version"`
	GeneratedAt    string    `json:"generated_at"`
	SnapshotDigest string    `json:"snapshot_digest"`
	Changes        []Change  `json:"changes"`
	Findings       []Finding `json:"findings"`
	Problems       []Problem `json:"problems"`
}

// ParseSavedPlan reads a plan document written by `sync --out`. It needs
// format_version "1", a snapshot_digest and unique change ids.
func ParseSavedPlan(b []byte) (SavedPlan, error) {
	var doc savedPlanDoc
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		return SavedPlan{}, fmt.Errorf("not a bitbricks plan: %s", oneLine(err))
	}
	if dec.More() {
		return SavedPlan{}, errors.New("not a bitbricks plan: more than one JSON document")
	}
	if doc.FormatVersion != "1" {
		return SavedPlan{}, fmt.Errorf("plan format_version %q: this bitbricks reads \"1\"", doc.FormatVersion)
	}
	if !strings.HasPrefix(doc.SnapshotDigest, "sha256:") || len(doc.SnapshotDigest) != len("sha256:")+64 {
		return SavedPlan{}, errors.New("plan has no snapshot_digest: write it with `bitbricks sync --out FILE`")
	}
	at, err := time.Parse(time.RFC3339, doc.GeneratedAt)
	if err != nil {
		return SavedPlan{}, fmt.Errorf("plan generated_at %q: not an RFC 3339 time", doc.GeneratedAt)
	}
	seen := map[string]bool{}
	for i, c := range doc.Changes {
		if c.ID == "" || seen[c.ID] {
			return SavedPlan{}, fmt.Errorf("plan change %d: id %q is empty or repeated", i+1, c.ID)
		}
		seen[c.ID] = true
	}
	return SavedPlan{SnapshotDigest: doc.SnapshotDigest, Plan: Plan{GeneratedAt: at, Changes: doc.Changes, Findings: doc.Findings, Problems: doc.Problems}}, nil
}

// SnapshotDigest is "sha256:" and the hash of snap's content, independent
// of the order lists were read in and of when it was taken.
func SnapshotDigest(snap *Snapshot) string {
	c := *snap
	c.TakenAt = time.Time{}
	c.Workspaces = slices.Clone(c.Workspaces)
	for i, ws := range c.Workspaces {
		if ws.Snap != nil {
			sub := *ws.Snap
			sub.TakenAt = time.Time{}
			c.Workspaces[i].Snap = &sub
		}
	}
	b, err := json.Marshal(&c)
	if err != nil {
		// A snapshot is plain data; this cannot happen, and a digest that
		// never matches only costs the per-change check.
		return "sha256:" + hashLine([]byte(err.Error()))
	}
	var v any
	_ = json.Unmarshal(b, &v)
	canonical, _ := json.Marshal(canonicalJSON(v))
	h := sha256.Sum256(canonical)
	return "sha256:" + hex.EncodeToString(h[:])
}

// canonicalJSON sorts every array by its elements' encoding (objects are
// already written with sorted keys).
func canonicalJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = canonicalJSON(e)
		}
	case []any:
		keys := make([]string, len(x))
		for i, e := range x {
			x[i] = canonicalJSON(e)
			b, _ := json.Marshal(x[i])
			keys[i] = string(b)
		}
		idx := make([]int, len(x))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
		out := make([]any, len(x))
		for i, j := range idx {
			out[i] = x[j]
		}
		return out
	}
	return v
}

// StaleChange is a saved change that no longer holds, and why.
type StaleChange struct {
	ID  string
	Why string
}

// StalePlanError refuses a saved plan some of whose changes no longer hold:
// nothing was changed.
type StalePlanError struct {
	Stale []StaleChange
}

func (e *StalePlanError) Error() string {
	parts := make([]string, 0, 4)
	for i, s := range e.Stale {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(e.Stale)-3))
			break
		}
		parts = append(parts, s.ID+" ("+s.Why+")")
	}
	verb := "no longer hold"
	if len(e.Stale) == 1 {
		verb = "no longer holds"
	}
	return fmt.Sprintf("refused: %s of the saved plan %s, so nothing was applied: %s; run `bitbricks sync --out` again and review the new plan",
		count(len(e.Stale), "change", "changes"), verb, strings.Join(parts, "; "))
}

// SavedPlanCheck is what a fresh snapshot says about a saved plan.
type SavedPlanCheck struct {
	// Plan is the saved plan's changes, in its order, with what the engine
	// needs to make them taken from the fresh plan.
	Plan Plan
	// Unchanged is true when the fresh snapshot has the saved digest.
	Unchanged bool
	// Digest is the fresh snapshot's.
	Digest string
	// NotInSaved counts changes the fresh plan has that the saved one does
	// not: they are not made (run sync again to see them).
	NotInSaved int
}

// CheckSavedPlan matches a saved plan against the plan of a fresh snapshot:
// every saved change must still be called for, with the same action,
// target and kind (its reason may read differently). Otherwise it returns a
// *StalePlanError naming each change that no longer holds.
func CheckSavedPlan(saved SavedPlan, fresh Plan, freshDigest string) (SavedPlanCheck, error) {
	now := map[string]Change{}
	for _, c := range fresh.Changes {
		now[c.ID] = c
	}
	// The problems are today's: a source failing now still turns the run red.
	out := SavedPlanCheck{Plan: Plan{GeneratedAt: saved.Plan.GeneratedAt, Findings: saved.Plan.Findings, Problems: fresh.Problems},
		Unchanged: freshDigest == saved.SnapshotDigest, Digest: freshDigest}
	var stale []StaleChange
	for _, c := range saved.Plan.Changes {
		f, ok := now[c.ID]
		delete(now, c.ID)
		switch {
		case !ok:
			stale = append(stale, StaleChange{ID: c.ID, Why: "no longer called for"})
			continue
		case !sameChange(c, f):
			stale = append(stale, StaleChange{ID: c.ID, Why: "its target changed"})
			continue
		}
		f.Reason = c.Reason // the reviewed wording is what is applied and audited
		out.Plan.Changes = append(out.Plan.Changes, f)
	}
	out.NotInSaved = len(now)
	if len(stale) > 0 {
		return out, &StalePlanError{Stale: stale}
	}
	return out, nil
}

// sameChange compares the contract fields of two changes, but the reason.
func sameChange(a, b Change) bool {
	a.Reason, b.Reason = "", ""
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
