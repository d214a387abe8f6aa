package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"

	"github.com/bitbricks/bitbricks/config"
	sdkconfig "github.com/databricks/databricks-sdk-go/config"
)

// Several workspaces of one account (databricks.workspaces).
//
// A Service over several workspaces serves each through a part: a Service of
// its own over the config narrowed to that workspace (config.ForWorkspace)
// and that workspace's Databricks adapter, sharing the Bitbucket and
// Atlassian sources and the audit log. Read reads every part at once; Plan
// plans each and merges the plans: every change and finding names its
// workspace, a change's id is prefixed "WORKSPACE:" and an account group's
// membership (shared by every workspace) is planned once. Apply applies
// each workspace's changes through its part, under that workspace's write
// lock. LimitWorkspaces narrows a run (`--workspace NAME`).

// WorkspaceSources are the sources of one of several workspaces.
type WorkspaceSources struct {
	Name    string
	Sources Sources
	// Entry is the workspace's databricks.workspaces entry (discovered,
	// with `workspaces: all`).
	Entry config.Workspace
}

// WorkspaceSnapshot is the snapshot of one of several workspaces.
type WorkspaceSnapshot struct {
	Name string
	Snap *Snapshot
}

// workspacePart is one workspace's service.
type workspacePart struct {
	name string
	svc  *Service
}

// newWorkspaceSources builds the sources of each listed workspace.
// opts.Databricks.Workspaces may give a workspace its own host and token.
func newWorkspaceSources(cfg *config.Config, opts SourceOptions) (Sources, error) {
	var skipped []Finding
	var ids map[string]workspaceIdentity
	if cfg.Databricks.Workspaces.All {
		found, err := discoverWorkspaces(cfg, opts)
		if err != nil {
			return Sources{}, err
		}
		if err := checkDiscovered(cfg, found); err != nil {
			return Sources{}, err
		}
		cfg = withWorkspaces(cfg, found.list)
		skipped, ids = found.skipped, found.ids
	} else {
		var err error
		if ids, err = listedIdentities(cfg, opts); err != nil {
			return Sources{}, err
		}
	}
	var out Sources
	for i, w := range cfg.Databricks.Workspaces.List {
		sub, _ := cfg.ForWorkspace(w.Name)
		o := opts
		o.Databricks = opts.Databricks
		if per, ok := opts.Databricks.Workspaces[w.Name]; ok {
			o.Databricks.Host, o.Databricks.Token = per.Host, per.Token
		} else if o.Databricks.Token != "" && w.Host != "" {
			o.Databricks.Host = w.Host // the isolated token, at this workspace's host
		}
		o.Databricks.identity = identityOf(ids, w, i)
		src, err := NewSources(sub, o)
		if err != nil {
			return Sources{}, fmt.Errorf("workspace %s: %w", w.Name, err)
		}
		if out.Databricks == nil {
			out = src
		} else {
			src.Bitbucket, src.Atlassian, src.Audit = out.Bitbucket, out.Atlassian, out.Audit
		}
		out.Workspaces = append(out.Workspaces, WorkspaceSources{Name: w.Name, Sources: src, Entry: w})
	}
	if err := checkDistinctHosts(cfg, out.Workspaces); err != nil {
		return Sources{}, err
	}
	out.SkippedWorkspaces = skipped
	return out, nil
}

// checkDistinctHosts refuses two listed workspaces of the config that
// resolve to one host (two profiles of one host, a profile and a host): the
// run would plan and write everything twice, and lock itself out at the
// second lease. With `workspaces: all` every workspace has its id, and a
// host that answers as another workspace's is refused by its identity
// check (two names given one host by BITBRICKS_WORKSPACE_HOSTS included).
func checkDistinctHosts(cfg *config.Config, wss []WorkspaceSources) error {
	hosts := make([]string, len(wss))
	for i, ws := range wss {
		if ws.Sources.Databricks != nil {
			hosts[i] = ws.Sources.Databricks.Host()
		}
	}
	return distinctHosts(cfg, wss, hosts)
}

// CheckWorkspaceHosts is the check of checkDistinctHosts without building
// the sources (`config validate`): a profile's host is read from the
// Databricks config file (DATABRICKS_CONFIG_FILE, else ~/.databrickscfg);
// a profile the file does not hold is left to the run.
func CheckWorkspaceHosts(cfg *config.Config, env Env) error {
	list := cfg.Databricks.Workspaces.List
	if cfg.Databricks.Workspaces.All || len(list) < 2 {
		return nil
	}
	var file *sdkconfig.File
	wss := make([]WorkspaceSources, len(list))
	hosts := make([]string, len(list))
	for i, w := range list {
		wss[i] = WorkspaceSources{Name: w.Name, Entry: w}
		hosts[i] = w.Host
		if w.Profile == "" {
			continue
		}
		if file == nil {
			f, err := sdkconfig.LoadFile(env.get("DATABRICKS_CONFIG_FILE"))
			if err != nil {
				return nil // no file to read the profiles' hosts from: the run resolves them
			}
			file = f
		}
		if sec, err := file.GetSection(w.Profile); err == nil {
			hosts[i] = sec.Key("host").String()
		}
	}
	return distinctHosts(cfg, wss, hosts)
}

// distinctHosts refuses the second of wss whose host (hosts, in step) is
// one an earlier one has.
func distinctHosts(cfg *config.Config, wss []WorkspaceSources, hosts []string) error {
	if cfg.Databricks.Workspaces.All {
		return nil
	}
	seen := map[string]int{}
	for i, ws := range wss {
		if hosts[i] == "" {
			continue
		}
		host := config.NormalHost(hosts[i])
		j, dup := seen[host]
		if !dup {
			seen[host] = i
			continue
		}
		at := fmt.Sprintf("databricks.workspaces[%d]", i)
		other := fmt.Sprintf("databricks.workspaces[%d]", j)
		return cfg.ErrorAt(at, "%s %s is the workspace of %s %s: both resolve to host %s; list each workspace once",
			at, entryDesc(ws, 0), other, entryDesc(wss[j], cfg.Line(other)), host)
	}
	return nil
}

// entryDesc names a databricks.workspaces entry: its name, its profile,
// and its line in the config file when line is not 0.
func entryDesc(ws WorkspaceSources, line int) string {
	s := ws.Name
	if ws.Entry.Profile != "" {
		s += fmt.Sprintf(", profile %q", ws.Entry.Profile)
	}
	if line > 0 {
		s += fmt.Sprintf(", line %d", line)
	}
	return "(" + s + ")"
}

// withWorkspaces is cfg with `workspaces: all` resolved to list.
func withWorkspaces(cfg *config.Config, list []config.Workspace) *config.Config {
	n := *cfg
	n.Databricks.Workspaces = config.Workspaces{All: true, List: list}
	return &n
}

// newParts makes the service of each workspace of src.
func (s *Service) newParts(opts ServiceOptions) {
	if s.cfg.Databricks.Workspaces.All && len(s.cfg.Databricks.Workspaces.List) == 0 {
		var list []config.Workspace
		for _, ws := range s.src.Workspaces {
			list = append(list, ws.Entry)
		}
		s.cfg = withWorkspaces(s.cfg, list)
	}
	for _, ws := range s.src.Workspaces {
		sub, ok := s.cfg.ForWorkspace(ws.Name)
		if !ok {
			continue
		}
		// Each workspace has its own write lock: a local lock of its own
		// (and its own lease in the workspace).
		o := opts
		dir := o.StateDir
		if dir == "" {
			dir = DefaultStateDir(os.Getenv)
		}
		o.StateDir = filepath.Join(dir, "workspace-"+ws.Name)
		s.parts = append(s.parts, workspacePart{name: ws.Name, svc: NewService(ws.Sources, sub, o)})
	}
}

// Workspaces names the workspaces the service serves, in config order
// (empty with one workspace).
func (s *Service) Workspaces() []string {
	var out []string
	for _, p := range s.parts {
		out = append(out, p.name)
	}
	return out
}

// RunWorkspaces names the workspaces a run covers (all, or those
// LimitWorkspaces named), in config order; empty with one workspace.
func (s *Service) RunWorkspaces() []string {
	return partNames(s.activeParts())
}

// LimitWorkspaces narrows the service's runs to the named workspaces
// (`--workspace NAME`); an unknown name is an error.
func (s *Service) LimitWorkspaces(names []string) error {
	if len(names) == 0 {
		return nil
	}
	known := s.Workspaces()
	if len(known) == 0 {
		return fmt.Errorf("--workspace needs several workspaces in databricks.workspaces")
	}
	for _, n := range names {
		if !slices.Contains(known, n) {
			return fmt.Errorf("--workspace %s: no such workspace in databricks.workspaces (%s)", n, strings.Join(known, ", "))
		}
	}
	s.mu.Lock()
	s.only = slices.Clone(names)
	s.mu.Unlock()
	return nil
}

// partNamed is the part of the workspace named name.
func (s *Service) partNamed(name string) (workspacePart, bool) {
	i := slices.IndexFunc(s.parts, func(p workspacePart) bool { return p.name == name })
	if i < 0 {
		return workspacePart{}, false
	}
	return s.parts[i], true
}

// activeParts are the parts a run covers.
func (s *Service) activeParts() []workspacePart {
	s.mu.Lock()
	only := s.only
	s.mu.Unlock()
	var out []workspacePart
	for _, p := range s.parts {
		if len(only) == 0 || slices.Contains(only, p.name) {
			out = append(out, p)
		}
	}
	return out
}

// readParts reads every active workspace at once. The snapshot returned is
// the first's, with every workspace's in Workspaces.
func (s *Service) readParts(ctx context.Context, progress func(string)) (*Snapshot, error) {
	parts := s.activeParts()
	// Two entries that are one workspace are refused before anything is read.
	ids, err := s.checkOneWorkspaceEach(ctx, parts)
	if err != nil {
		return nil, err
	}
	// Every workspace's departures ledger counts in each (departure_ledger.go).
	// (Only of those that answered: one that did not reads its own after
	// its first call, as with one workspace.)
	// A run limited to some workspaces reads the others' ledgers too
	// (departure_ledger_limited.go).
	ledgers := readLedgers(ctx, parts, ids)
	s.readOtherLedgers(ctx, parts, ledgers)
	ctx = context.WithValue(ctx, ledgerKey{}, ledgers)
	snaps := make([]*Snapshot, len(parts))
	errs := make([]error, len(parts))
	var mu gosync.Mutex
	say := func(name string) func(string) {
		if progress == nil {
			return nil
		}
		return func(msg string) {
			mu.Lock()
			defer mu.Unlock()
			progress(name + ": " + msg)
		}
	}
	// Bitbucket and the Atlassian directory are read once for the run,
	// whatever the number of workspaces (shared_reads.go).
	var bb BitbucketSource
	var atl AtlassianSource
	if len(parts) > 0 {
		bb, atl = shareBitbucket(parts[0].svc.src.Bitbucket, len(parts)), shareAtlassian(parts[0].svc.src.Atlassian, len(parts))
	}
	// So are the account's users (accountUserList).
	ctx = context.WithValue(ctx, accountUsersKey{}, &memo[[]*User]{})
	type settler interface{ settle(context.Context, int) }
	var wg gosync.WaitGroup
	for i, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := p.svc.src
			if src.Bitbucket == parts[0].svc.src.Bitbucket {
				src.Bitbucket = bb
			}
			if src.Atlassian == parts[0].svc.src.Atlassian {
				src.Atlassian = atl
			}
			// The host must be the workspace the account lists under its
			// name before anything is read there.
			var snap *Snapshot
			err := checkPartIdentity(ctx, p)
			if err == nil {
				snap, err = Read(context.WithValue(ctx, partKey{}, i), src, p.svc.Config(), say(p.name))
			}
			for _, x := range []any{bb, atl} {
				if st, ok := x.(settler); ok {
					st.settle(ctx, i) // this workspace asks nothing more of the run's rounds
				}
			}
			if err == nil {
				p.svc.checkWorkspaceID(ctx, snap)
				snap.Leftovers = FindLeftovers(snap, p.svc.Config(), p.svc.Config().Audit.File)
				p.svc.mu.Lock()
				p.svc.caller = snap.Caller
				p.svc.mu.Unlock()
			}
			snaps[i], errs[i] = snap, err
		}()
	}
	wg.Wait()
	// A workspace that cannot be read is a problem of its own (see
	// workspaces_unread.go), unless none could be, or the failure is not
	// that workspace's alone.
	first := -1
	var unread []Problem
	var all []error
	for i, err := range errs {
		// A workspace whose caller could not even be read (its host
		// answers 5xx to everything) is not read at all.
		if err == nil {
			if j := slices.IndexFunc(snaps[i].Problems, func(sp SourceProblem) bool {
				return sp.System == SystemDatabricks && sp.Source == "caller identity"
			}); j >= 0 {
				sp := snaps[i].Problems[j]
				err = &statusError{StatusCode: sp.Status, Body: sp.Err}
				snaps[i], errs[i] = nil, err
			}
		}
		switch {
		case err == nil:
			if first < 0 {
				first = i
			}
			continue
		case stopsEveryWorkspace(ctx, err):
			return nil, fmt.Errorf("workspace %s: %w", parts[i].name, err)
		}
		unread = append(unread, unreadProblem(parts[i], err))
		all = append(all, fmt.Errorf("workspace %s: %w", parts[i].name, err))
	}
	if first < 0 {
		var lines []string
		for _, u := range unread {
			lines = append(lines, u.Detail)
		}
		return nil, &WorkspaceFailure{Detail: strings.Join(lines, "; "), Err: errors.Join(all...)}
	}
	merged := *snaps[first]
	merged.Workspaces = nil
	merged.Unread = unread
	for i, p := range parts {
		if snaps[i] != nil {
			merged.Workspaces = append(merged.Workspaces, WorkspaceSnapshot{Name: p.name, Snap: snaps[i]})
		}
	}
	s.mu.Lock()
	s.caller = snaps[first].Caller
	s.mu.Unlock()
	return &merged, nil
}

// planParts plans each workspace of snap and merges the plans.
func (s *Service) planParts(snap *Snapshot) Plan {
	var out Plan
	accountChange := map[string]bool{} // an account group's membership, planned once
	// Each workspace is planned once: the first half of each plan proves
	// its departures, and a departure proven in one workspace counts in
	// all (departures.go) when the second half plans the rest.
	type started struct {
		name string
		pl   *planner
	}
	var plans []started
	var evidence []departurePart
	for _, ws := range snap.Workspaces {
		if part, ok := s.partNamed(ws.Name); ok {
			pl := part.svc.startPlan(ws.Snap)
			plans = append(plans, started{name: ws.Name, pl: pl})
			evidence = append(evidence, pl.departureEvidence())
		}
	}
	run := runDepartures(evidence)
	finished := make([]Plan, len(plans))
	changes, members := 0, 0
	for i, ws := range plans {
		finished[i] = finishPlan(ws.pl, run)
		changes, members = changes+len(finished[i].Changes), members+len(finished[i].Members)
	}
	// The merged lists are made once at their size (a large organisation's
	// plans hold tens of thousands of changes and statuses).
	if changes > 0 {
		out.Changes = make([]Change, 0, changes)
	}
	if members > 0 {
		out.Members = make([]MemberStatus, 0, members)
	}
	for i, ws := range plans {
		p := finished[i]
		out.GeneratedAt = p.GeneratedAt
		for _, c := range p.Changes {
			if c.GroupKind == KindAccount && (c.Action == ActionAddMember || c.Action == ActionRemoveMember) {
				if accountChange[c.ID] {
					continue
				}
				accountChange[c.ID] = true
			}
			c.ID = ws.name + ":" + c.ID
			out.Changes = append(out.Changes, c)
		}
		out.Findings = append(out.Findings, p.Findings...)
		out.Problems = mergeProblems(out.Problems, ws.name, p.Problems)
		for _, m := range p.Members {
			m.Workspace = ws.name
			if m.ChangeID != "" {
				m.ChangeID = ws.name + ":" + m.ChangeID
			}
			out.Members = append(out.Members, m)
		}
	}
	out.Findings = append(out.Findings, s.src.SkippedWorkspaces...)
	out.Problems = append(out.Problems, snap.Unread...)
	s.federationReachFindings(snap, &out)
	rank := func(c Change) int { return c.Action.Info().Rank }
	slices.SortStableFunc(out.Changes, func(a, b Change) int { return rank(a) - rank(b) })
	return out
}

// applyParts applies each workspace's changes of plan through its part.
func (s *Service) applyParts(ctx context.Context, plan Plan, obs Observer) ([]Result, error) {
	if err := s.CheckPlanSize(plan); err != nil {
		return nil, err
	}
	var results []Result
	var earlier []Outcome // the run's outcomes so far, for the next workspaces' dependencies
	parts := s.activeParts()
	subs := make([]Plan, len(parts))
	total := 0
	for i, p := range parts {
		subs[i].GeneratedAt = plan.GeneratedAt
		for _, c := range plan.Changes {
			if c.Workspace == p.name {
				c.ID = strings.TrimPrefix(c.ID, p.name+":")
				subs[i].Changes = append(subs[i].Changes, c)
			}
		}
		total += len(subs[i].Changes)
	}
	done := 0
	// A departures ledger not written in one workspace (its removals
	// withheld, the rest made) does not stop the others; any other error
	// does, and every change not attempted is then a skipped result
	// saying why.
	var errs []error
	var stop error
	for i, p := range parts {
		sub := subs[i]
		if len(sub.Changes) == 0 {
			continue
		}
		var partObs Observer = NopObserver{}
		if obs != nil {
			partObs = partObserver{obs: obs, name: p.name, offset: done, total: total}
		}
		done += len(sub.Changes)
		var rs []Result
		var err error
		if stop == nil {
			rs, err = lockedIn(ctx, s, p, "apply", func(ctx context.Context, ws *Service) ([]Result, error) {
				return ws.apply(ctx, sub, partObs, earlier)
			})
		}
		if err != nil {
			err = fmt.Errorf("workspace %s: %w", p.name, err)
			errs = append(errs, err)
		}
		why := cmp.Or(stop, err, error(errNoResult))
		for k, c := range sub.Changes {
			var r Result
			if k < len(rs) {
				r = rs[k]
			} else {
				r = Result{ID: c.ID, Status: ResultSkipped, Error: "not run: " + oneLine(why)}
				partObs.Done(k, len(sub.Changes), c, r)
			}
			earlier = append(earlier, Outcome{Change: c, Status: r.Status})
			r.ID = p.name + ":" + r.ID
			results = append(results, r)
		}
		if err != nil && stop == nil && !onlyLedger(err) {
			stop = err
		}
	}
	return results, errors.Join(errs...)
}

// errNoResult is why a change an apply gave no result for was skipped.
var errNoResult = errors.New("the apply gave it no result")

// partObserver tells obs the steps of one workspace's part of an apply
// over several as steps of the whole run: one count over every workspace,
// each change and result by its id in the merged plan ("dev:...").
type partObserver struct {
	obs           Observer
	name          string
	offset, total int
}

func (o partObserver) Start(i, _ int, c Change) {
	c.ID = o.name + ":" + c.ID
	o.obs.Start(o.offset+i, o.total, c)
}

func (o partObserver) Done(i, _ int, c Change, r Result) {
	c.ID, r.ID = o.name+":"+c.ID, o.name+":"+r.ID
	o.obs.Done(o.offset+i, o.total, c, r)
}

// writingParts holds the write lock of every active workspace around fn.
func (s *Service) writingParts(ctx context.Context, command string, fn func(context.Context) error) error {
	return s.writingIn(ctx, command, s.activeParts(), fn)
}

// workspaceInventory is the credential inventory of every workspace of
// snap, each credential naming its workspace; an account-level credential
// (a service principal secret) listed by several is kept once.
func (s *Service) workspaceInventory(snap *Snapshot) []CredentialStatus {
	var out []CredentialStatus
	seen := map[string]bool{}
	for _, ws := range snap.Workspaces {
		part, ok := s.partNamed(ws.Name)
		if !ok {
			continue
		}
		for _, c := range Inventory(ws.Snap, part.svc.Config(), s.now()) {
			key := string(c.Kind) + "/" + c.ID
			if !isTokenKind(c.Kind) {
				if seen[key] {
					continue
				}
				seen[key] = true
			}
			c.Workspace = ws.Name
			out = append(out, c)
		}
	}
	return out
}
