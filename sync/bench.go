package sync

import (
	"fmt"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/config"
)

// Measured is what one timed read costs this process: wall time, CPU time
// (user and system, of the whole process: run it where nothing else works,
// such as with the emulator in another process) and the peak of live heap,
// sampled every few milliseconds.
type Measured struct {
	Wall       time.Duration
	CPU        time.Duration // -1 where the platform cannot tell
	PeakHeapMB float64
}

// Measure runs f and measures it.
func Measure(f func() error) (Measured, error) {
	stop := make(chan struct{})
	peak := make(chan uint64, 1)
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			return sample[0].Value.Uint64()
		}
		return 0
	}
	go func() {
		top := read()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				peak <- max(top, read())
				return
			case <-t.C:
				top = max(top, read())
			}
		}
	}()
	cpu0, t0 := processCPU(), time.Now()
	err := f()
	wall, cpu1 := time.Since(t0), processCPU()
	close(stop)
	m := Measured{Wall: wall, CPU: -1, PeakHeapMB: float64(<-peak) / (1 << 20)}
	if cpu0 >= 0 && cpu1 >= 0 {
		m.CPU = cpu1 - cpu0
	}
	return m, err
}

// Bound is the fewest requests a snapshot's data needs, per system, and the
// shortest time they can take under the services' limits, each with how it
// was derived.
type Bound struct {
	MinRequests map[string]int64 // by system, and "total"
	// Rounds is the longest chain of requests that cannot overlap; the lower
	// bound is Rounds times the latency.
	Rounds     int
	Derivation []string
}

// LowerBound derives the Bound of snap: the pages its lists need (100 items
// a page for SCIM, the Admin API and Bitbucket; 89 addresses and a known
// member a departure check), one request per service principal for its
// OAuth secrets (the API has no bulk list), and the fixed probes. The chain:
// the first round checks credentials (SCIM Me, /1.0/groups); then the SCIM
// requests, at most 4 at a time (the service's limit), are the longest
// chain, every other read overlapping them; a last round reads what needs a
// list first (OAuth secrets after the service principals, departure checks
// after the groups and emails). routes are the requests the emulator served
// by route, for the few reads whose size the snapshot does not tell
// (pipeline variables, Atlassian API token pages).
func LowerBound(snap *Snapshot, cfg *config.Config, routes map[string]int64) Bound {
	pages := func(n, per int) int64 { return int64(max(1, (n+per-1)/per)) }
	assigned := 0
	for _, u := range snap.Users {
		if u.Assigned {
			assigned++
		}
	}
	scimLists := pages(assigned, 100) + pages(len(snap.DBGroups), 100) + pages(len(snap.SPs), 100)
	var d []string
	scim := 1 + scimLists
	line := fmt.Sprintf("SCIM: 1 Me + %d workspace user pages + %d group pages + %d service principal pages",
		pages(assigned, 100), pages(len(snap.DBGroups), 100), pages(len(snap.SPs), 100))
	if cfg.Databricks.AccountID != "" {
		scim += 1 + 1 // account access probe, workspace proxy probe
		line += " + 2 access probes"
		if snap.AccountAccess {
			scim += pages(len(snap.Users), 100)
			line += fmt.Sprintf(" + %d account user pages", pages(len(snap.Users), 100))
		}
	}
	d = append(d, fmt.Sprintf("%s = %d", line, scim))
	other := int64(2) // token management, workspace-conf
	secrets := int64(0)
	if snap.AccountAccess {
		secrets = int64(len(snap.SPs))
	}
	ledger := ""
	if cfg.Policy.RevokeDeparted {
		other++
		ledger = " + 1 departures ledger"
	}
	d = append(d, fmt.Sprintf("Databricks, not SCIM: 1 token list + 1 workspace-conf%s + %d OAuth secret lists (one per service principal) = %d", ledger, secrets, other+secrets))

	ids := map[string]bool{}
	for _, g := range snap.Groups {
		for _, a := range g.Members {
			ids[a.AccountID] = true
		}
	}
	for _, a := range snap.Members {
		ids[a.AccountID] = true
	}
	atl := int64(0)
	if cfg.AtlassianAdmin != nil {
		atl = pages(len(ids), 100) + routes["atlassian GET /admin/api-access/v1/orgs/{orgId}/api-tokens"]
		atl += int64(snap.PresenceSearches)
		d = append(d, fmt.Sprintf("Atlassian: %d users/search batches (%d accounts, 100 a batch) + %d API token pages + %d searches by email (accounts of people absent from the departure check) = %d",
			pages(len(ids), 100), len(ids), routes["atlassian GET /admin/api-access/v1/orgs/{orgId}/api-tokens"], snap.PresenceSearches, atl))
	}
	bbVars := int64(0)
	for r, n := range routes {
		if strings.HasPrefix(r, "bitbucket ") && (strings.Contains(r, "variables") || strings.Contains(r, "/environments")) {
			bbVars += n
		}
	}
	departure := int64(0)
	if len(snap.Presence) > 0 {
		departure = pages(len(snap.Presence), emailFilterMax-1)
	}
	if snap.MembersKnown {
		departure = pages(len(snap.Members), 100)
	}
	// Federation: the workspace's UUID and each bound repository's, the
	// account-wide federation policies and each bound service principal's.
	repos, boundSPs := map[string]bool{}, map[string]bool{}
	for _, b := range cfg.Pipelines {
		repos[b.Repository] = true
		if sp := servicePrincipalNamed(snap.SPs, b.ServicePrincipal); sp != nil {
			boundSPs[sp.ID] = true
		}
	}
	fedBB, fedDB := int64(0), int64(0)
	if len(cfg.Pipelines) > 0 {
		fedBB = 1 + int64(len(repos))
		if cfg.Databricks.AccountID != "" && snap.AccountAccess {
			fedDB = 1 + int64(len(boundSPs))
		}
		d = append(d, fmt.Sprintf("federation: 1 workspace + %d repository reads (Bitbucket), 1 account policy list + %d service principal policy lists (Databricks) = %d",
			len(repos), fedDB-min(fedDB, 1), fedBB+fedDB))
	}
	other += fedDB
	lookups := int64(snap.PresenceLookups)
	bb := 1 + departure + lookups + bbVars + fedBB
	d = append(d, fmt.Sprintf("Bitbucket: 1 /1.0/groups + %d departure checks + %d direct membership lookups + %d pipeline variable reads + %d federation reads = %d", departure, lookups, bbVars, fedBB, bb))

	rounds := 1 + int((scim-1+SCIMConcurrency-1)/SCIMConcurrency)
	last := ""
	if secrets > 0 || departure > 0 || fedDB > 0 {
		rounds++
		last = " + 1 (OAuth secrets and departure checks need a list first)"
	}
	if snap.PresenceSearches > 0 {
		rounds++
		last += " + 1 (the accounts of people the departure check answered absent)"
	}
	if lookups > 0 {
		rounds += int((lookups + 3) / 4)
		last += fmt.Sprintf(" + ceil(%d/4) (their direct membership lookups, 4 at a time)", lookups)
	}
	d = append(d, fmt.Sprintf("rounds: 1 (Me with /1.0/groups) + ceil(%d/%d) (the other SCIM requests, %d at a time; every other read overlaps them)%s = %d",
		scim-1, SCIMConcurrency, SCIMConcurrency, last, rounds))
	min := map[string]int64{"databricks": scim + other + secrets, "atlassian": atl, "bitbucket": bb}
	min["total"] = min["databricks"] + min["atlassian"] + min["bitbucket"]
	return Bound{MinRequests: min, Rounds: rounds, Derivation: d}
}
