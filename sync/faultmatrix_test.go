package sync

import (
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

// The fault matrix runs every operation of a scheduled pipeline against the
// emulator with every fault it can inject, and measures what matters: no
// access removed that a fault-free run would not remove, and no pipeline
// left without a working credential. docs/RELIABILITY.md is its report:
//
//	go test ./sync -run TestFaultMatrix -count=1 -faultmatrix.seeds=3 -faultmatrix.write
var (
	faultMatrixSeeds = flag.Int("faultmatrix.seeds", 1, "runs per cell of the fault matrix, each with its own fault seed")
	faultMatrixWrite = flag.Bool("faultmatrix.write", false, "write the fault matrix's measurements to docs/RELIABILITY.md")
)

// matrixFault is one row of the matrix: the emulator's rules for it, and
// whether every request is slowed beyond the run's deadline instead.
type matrixFault struct {
	name  string
	rules func(midRun int) []emulator.FaultRule
	slow  bool
}

// randomFault hits the second request of a run for sure (so every run
// meets the fault), then a quarter of the rest, at most 8 in all.
func randomFault(kind emulator.FaultKind) func(int) []emulator.FaultRule {
	return func(int) []emulator.FaultRule {
		return []emulator.FaultRule{
			{Route: "/**", Sequence: []emulator.FaultKind{emulator.FaultNone, kind}},
			{Route: "/**", Kind: kind, Probability: 0.25, Count: 7},
		}
	}
}

var matrixFaults = []matrixFault{
	{name: "429", rules: randomFault(emulator.Fault429)},
	{name: "500 REQUEST_LIMIT_EXCEEDED", rules: randomFault(emulator.Fault500Limit)},
	{name: "503", rules: randomFault(emulator.Fault503)},
	{name: "connection reset", rules: randomFault(emulator.FaultReset)},
	{name: "truncated body", rules: randomFault(emulator.FaultTruncated)},
	{name: "slow beyond the deadline", slow: true},
	{name: "empty list", rules: func(int) []emulator.FaultRule {
		return []emulator.FaultRule{{Route: "/**", Kind: emulator.FaultEmptyMembers}}
	}},
	{name: "401 mid-run", rules: func(midRun int) []emulator.FaultRule {
		seq := slices.Repeat([]emulator.FaultKind{emulator.FaultNone}, midRun)
		return []emulator.FaultRule{{Route: "/**", Sequence: append(seq, slices.Repeat([]emulator.FaultKind{emulator.Fault401}, 10000)...)}}
	}},
}

// matrixOp is one column: an operation of a pipeline run. prepare runs
// without faults; run runs under them. allowed is what the operation may
// take away (group memberships, entitlements, credentials), whatever the
// faults.
type matrixOp struct {
	name    string
	prepare func(m *matrixRun) error
	run     func(ctx context.Context, m *matrixRun) error
	// dry is the part of run whose requests decide where "mid-run" is
	// (default run).
	dry func(ctx context.Context, m *matrixRun) error
}

// matrixRun is one run of one cell.
type matrixRun struct {
	env     *credEnv
	svc     *Service
	plan    Plan     // the fault-free plan of the organisation
	owned   Owned    // revoke: the owner's credentials, listed before the faults
	allowed []string // access items the operation may remove
	close   func()
}

const matrixOwner = "fay@acme.com" // departed: every credential of hers goes

var matrixOps = []matrixOp{
	{name: "snapshot", run: func(ctx context.Context, m *matrixRun) error {
		// The faults hit the read; the plan it gives is then applied without
		// faults, so anything it wrongly removes is measured.
		_, plan, err := m.svc.Load(ctx)
		if err != nil {
			return err
		}
		m.env.srv.SetFaults(nil)
		m.env.srv.SetLatency(0, 0)
		return applied(m.svc.Apply(context.Background(), plan, nil))
	}, dry: func(ctx context.Context, m *matrixRun) error {
		_, _, err := m.svc.Load(ctx)
		return err
	}},
	{name: "apply", run: func(ctx context.Context, m *matrixRun) error {
		return applied(m.svc.Apply(ctx, m.plan, nil))
	}},
	{name: "rotation", run: func(ctx context.Context, m *matrixRun) error {
		_, err := m.svc.Rotate(ctx, "etl-prod")
		return err
	}},
	{name: "revoke", prepare: func(m *matrixRun) error {
		owned, err := m.svc.OwnerCredentials(context.Background(), matrixOwner)
		if err != nil || len(owned.Credentials) == 0 {
			return fmt.Errorf("credentials of %s: %+v, %v", matrixOwner, owned, err)
		}
		m.owned = owned
		for _, c := range owned.Credentials {
			m.allowed = append(m.allowed, "credential "+c.ID)
		}
		return nil
	}, run: func(ctx context.Context, m *matrixRun) error {
		_, err := m.svc.RevokeCredentials(ctx, m.owned.Credentials)
		return err
	}},
}

// applied is Apply's outcome as one error: the run's, or the first failed
// change's.
func applied(results []Result, err error) error {
	if err != nil {
		return err
	}
	for _, r := range results {
		if r.Status == ResultFailed {
			return fmt.Errorf("%s: %s", r.ID, r.Error)
		}
	}
	return nil
}

// access lists what grants access in the organisation: group memberships,
// entitlements and live credentials.
func (e *credEnv) access() []string {
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	var out []string
	for _, g := range e.org.DB.Groups {
		for _, m := range g.Members {
			out = append(out, "member "+g.DisplayName+" "+m.Value)
		}
		for _, en := range g.Entitlements {
			out = append(out, "entitlement "+g.DisplayName+" "+en)
		}
	}
	for id := range e.org.DB.Tokens {
		out = append(out, "credential "+id)
	}
	for id := range e.org.DB.Secrets {
		out = append(out, "credential "+id)
	}
	return out
}

// wrongRemovals is the access in before, missing from after, that allowed
// does not name.
func wrongRemovals(before, after, allowed []string) []string {
	var out []string
	for _, a := range before {
		if !slices.Contains(after, a) && !slices.Contains(allowed, a) {
			out = append(out, a)
		}
	}
	return out
}

// removable is what a plan's destructive changes take away.
func removable(p Plan) []string {
	var out []string
	for _, c := range p.Changes {
		switch c.Action {
		case ActionRemoveMember:
			out = append(out, "member "+c.Group+" "+c.PrincipalID)
		case ActionRemoveEntitlement:
			out = append(out, "entitlement "+c.Group+" "+c.Entitlement)
		case ActionRevokeToken, ActionRevokeSecret:
			out = append(out, "credential "+c.TokenID)
		}
	}
	return out
}

// brokenPipelines counts the bindings whose secured variable holds no live
// credential of their service principal, read from the organisation itself.
func (e *credEnv) brokenPipelines() (broken []string) {
	for _, b := range e.cfg.Pipelines {
		value, _ := e.bound(b)
		sp := e.sp(b.ServicePrincipal)
		ok := false
		e.org.Mu.Lock()
		if b.Credential == config.CredentialOAuthSecret {
			for _, s := range e.org.DB.Secrets {
				ok = ok || (s.SPID == sp.ID && s.Secret == value && s.Status == "ACTIVE")
			}
		} else if tk := e.org.DB.TokensByValue[value]; tk != nil && e.org.DB.Tokens[tk.ID] != nil {
			ok = tk.OwnerID == sp.ID && (tk.Expiry.IsZero() || e.org.Now().Before(tk.Expiry))
		}
		e.org.Mu.Unlock()
		if !ok {
			broken = append(broken, b.Name)
		}
	}
	return broken
}

// cellResult is what the runs of one cell measured.
type cellResult struct {
	runs, faults, ok, failed int
	converged                int
	requests                 int64
	wronglyRemoved           []string
	brokenPipelines          []string
	elapsed                  time.Duration
}

func newMatrixRun(seed int64) (*matrixRun, error) {
	d, closeEnv, err := newDemoOpts(emulator.Options{RandSeed: seed}, DatabricksOptions{RetryTimeout: 4 * time.Second, HTTPTimeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	e := &credEnv{demoEnv: d}
	e.creds = &Credentials{Databricks: e.db, Bitbucket: e.src.Bitbucket.(*Bitbucket), Config: e.cfg}
	state, err := os.MkdirTemp("", "bitbricks-faultmatrix-")
	if err != nil {
		closeEnv()
		return nil, err
	}
	closeAll := func() { closeEnv(); os.RemoveAll(state) }
	svc := NewService(e.src, e.cfg, ServiceOptions{Now: e.org.Now, StateDir: state})
	_, plan, err := svc.Load(context.Background())
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("fault-free read: %w", err)
	}
	m := &matrixRun{env: e, svc: svc, plan: plan, allowed: removable(plan), close: closeAll}
	// A rotation revokes its binding's older credentials.
	for _, b := range e.cfg.Pipelines {
		for id := range e.live(b) {
			m.allowed = append(m.allowed, "credential "+id)
		}
	}
	return m, nil
}

func runCell(f matrixFault, op matrixOp, seeds int) (cellResult, error) {
	var res cellResult
	start := time.Now()
	for seed := range seeds {
		m, err := newMatrixRun(int64(seed + 1))
		if err != nil {
			return res, err
		}
		defer m.close()
		if op.prepare != nil {
			if err := op.prepare(m); err != nil {
				return res, err
			}
		}
		before := m.env.access()
		// How many requests the operation makes without faults decides
		// where "mid-run" is: a dry count on a twin organisation.
		midRun := 0
		if strings.HasPrefix(f.name, "401") {
			n, err := dryRequests(op, seed)
			if err != nil {
				return res, err
			}
			midRun = max(1, n/2)
		}
		m.env.srv.ResetStats()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		if f.slow {
			m.env.srv.SetLatency(3*time.Second, 0)
			cancel()
			ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
		} else if err := m.env.srv.SetFaults(f.rules(midRun)); err != nil {
			cancel()
			return res, err
		}
		err = op.run(ctx, m)
		cancel()
		st := m.env.srv.Stats()
		m.env.srv.SetFaults(nil)
		m.env.srv.SetLatency(0, 0)
		res.runs++
		res.requests += st.Total
		for _, n := range st.Faults {
			res.faults += int(n)
		}
		if f.slow {
			res.faults += int(st.Total) // every request was slowed
		}
		if err == nil {
			res.ok++
		} else {
			res.failed++
		}
		res.wronglyRemoved = append(res.wronglyRemoved, wrongRemovals(before, m.env.access(), m.allowed)...)
		res.brokenPipelines = append(res.brokenPipelines, m.env.brokenPipelines()...)
		// The next, fault-free run converges: one apply, then nothing is left
		// to change.
		if converged(m) {
			res.converged++
		}
	}
	res.elapsed = time.Since(start)
	return res, nil
}

// converged runs the next scheduled run, an hour later and without faults
// (read, apply), and reports whether a read after it finds nothing left to
// change. An hour on, a workspace lease a faulty run could not release has
// expired and is taken over.
func converged(m *matrixRun) bool {
	ctx := context.Background()
	m.env.org.Mu.Lock()
	later := m.env.org.Now().Add(time.Hour)
	m.env.org.Now = func() time.Time { return later }
	m.env.org.Mu.Unlock()
	svc := NewService(m.env.src, m.env.cfg, ServiceOptions{Now: func() time.Time { return later }, StateDir: m.svc.stateDir})
	_, plan, err := svc.Load(ctx)
	if err != nil || applied(svc.Apply(ctx, plan, nil)) != nil {
		return false
	}
	_, plan, err = svc.Load(ctx)
	return err == nil && len(plan.Changes) == 0
}

// dryRequests counts the requests op makes without faults.
func dryRequests(op matrixOp, seed int) (int, error) {
	m, err := newMatrixRun(int64(seed + 1))
	if err != nil {
		return 0, err
	}
	defer m.close()
	if op.prepare != nil {
		if err := op.prepare(m); err != nil {
			return 0, err
		}
	}
	m.env.srv.ResetStats()
	dry := op.dry
	if dry == nil {
		dry = op.run
	}
	_ = dry(context.Background(), m)
	return int(m.env.srv.Stats().Total), nil
}

func TestFaultMatrix(t *testing.T) {
	seeds := *faultMatrixSeeds
	if testing.Short() {
		t.Skip("the fault matrix takes a while")
	}
	type cell struct {
		fault, op string
		res       cellResult
	}
	// The cells run side by side, a few at a time: most of a faulty run is
	// spent waiting out retry backoffs and deadlines.
	var cells []cell
	for _, f := range matrixFaults {
		for _, op := range matrixOps {
			cells = append(cells, cell{fault: f.name, op: op.name})
		}
	}
	sem := make(chan struct{}, 8)
	var wg gosync.WaitGroup
	for i := range cells {
		f, op := matrixFaults[i/len(matrixOps)], matrixOps[i%len(matrixOps)]
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := runCell(f, op, seeds)
			if err != nil {
				t.Errorf("%s × %s: %v", f.name, op.name, err)
			}
			cells[i].res = res
		})
	}
	wg.Wait()
	for _, c := range cells {
		res := c.res
		{
			f, op := c, c
			if len(res.wronglyRemoved) > 0 {
				t.Errorf("%s × %s: access wrongly removed: %v", f.fault, op.op, res.wronglyRemoved)
			}
			if len(res.brokenPipelines) > 0 {
				t.Errorf("%s × %s: pipelines left without a working credential: %v", f.fault, op.op, res.brokenPipelines)
			}
			if res.converged != res.runs {
				t.Errorf("%s × %s: %d of %d runs did not converge in the next fault-free run", f.fault, op.op, res.runs-res.converged, res.runs)
			}
			if res.runs > 0 && res.faults == 0 {
				t.Errorf("%s × %s: no fault was injected", f.fault, op.op)
			}
		}
	}
	if !*faultMatrixWrite {
		return
	}
	var b strings.Builder
	var runs, faults, requests, wrong, broken, conv int
	for _, c := range cells {
		runs += c.res.runs
		conv += c.res.converged
		faults += c.res.faults
		requests += int(c.res.requests)
		wrong += len(c.res.wronglyRemoved)
		broken += len(c.res.brokenPipelines)
	}
	fmt.Fprintf(&b, `# Reliability: the fault matrix

Every operation of a scheduled pipeline run, against the emulator (demo seed, the real
Databricks SDK and Bitbucket clients over loopback), under every fault the emulator injects.
What is measured in each run:

- **access wrongly removed**: a group membership, entitlement, token or OAuth secret that
  existed before the run and is gone after it, and that a fault-free run would not remove
  (for *snapshot*, the plan read under faults is then applied without faults, so a wrong
  removal caused by a bad read shows up);
- **pipelines left without a working credential**: a binding whose secured variable does not
  hold a live credential of its service principal after the run;
- **converged**: the next scheduled run, an hour later and without faults, applies its plan
  and leaves nothing to change (a workspace lease that a faulty run could not release has
  expired by then and is taken over; within its 5 minutes a second run is refused, exit 3).

Regenerate this file (the numbers below are measurements, not targets):

    go test ./sync -run TestFaultMatrix -count=1 -faultmatrix.seeds=%d -faultmatrix.write

`+"`go test ./...`"+` runs the same matrix with one run per cell and fails on any wrongly
removed access or broken pipeline.

## Totals

| cells | runs | requests | faults injected | access wrongly removed | pipelines left without a working credential | converged in the next run |
|---:|---:|---:|---:|---:|---:|---:|
| %d | %d | %d | %d | %d | %d | %d of %d |

## Faults

| fault | how it is injected |
|---|---|
| 429 | the second request of the run and a quarter of the rest, at most 8 per run, answer 429 in the service's own error shape |
| 500 `+"`REQUEST_LIMIT_EXCEEDED`"+` | the same, as Databricks answers a SCIM burst |
| 503 | the same, 503 `+"`TEMPORARILY_UNAVAILABLE`"+` |
| connection reset | the same requests get a TCP RST instead of an answer |
| truncated body | the same requests get their headers and half their body |
| slow beyond the deadline | every request takes 3 s; the run has 2 s |
| empty list | every member list comes back empty (`+"`empty_members`"+`) |
| 401 mid-run | after half of the requests a fault-free run makes, every request gets 401 |

Operations: **snapshot** (read, plan, then apply that plan fault-free), **apply** (the
fault-free plan of the demo organisation: memberships, entitlements, revocations and a
rotation), **rotation** (`+"`rotate etl-prod`"+`), **revoke** (every credential of a departed
owner, `+"`revoke --owner %s`"+`).

## Cells

| fault | operation | runs | faults injected | requests | ended ok | ended with an error | access wrongly removed | pipelines broken | converged |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|
`, seeds, len(cells), runs, requests, faults, wrong, broken, conv, runs, matrixOwner)
	for _, c := range cells {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d | %d | %d | %d |\n", c.fault, c.op, c.res.runs, c.res.faults, c.res.requests,
			c.res.ok, c.res.failed, len(c.res.wronglyRemoved), len(c.res.brokenPipelines), c.res.converged)
	}
	b.WriteString(`
"Ended with an error" is the expected outcome of many cells: the run stops or reports the
failed source (exit 1), and the next run converges. What must never happen is in the last
three columns: access removed that should stay, a pipeline without a working credential, a
run after which the organisation does not come back in step.
`)
	path := filepath.Join("..", "docs", "RELIABILITY.md")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s: %d cells, %d runs, %d faults", path, len(cells), runs, faults)
}

// newDemoOpts is newDemo with the Databricks client's timeouts set, so a
// dead or slow endpoint fails a run in seconds. It needs no *testing.T, so
// runs can go side by side; close frees it.
func newDemoOpts(opts emulator.Options, db DatabricksOptions) (*demoEnv, func(), error) {
	org := emulator.Demo(demoNow)
	srv := emulator.New(org, opts)
	hs := httptest.NewServer(srv.Handler())
	dir, err := os.MkdirTemp("", "bitbricks-faultmatrix-")
	if err != nil {
		hs.Close()
		return nil, nil, err
	}
	closeAll := func() { hs.Close(); os.RemoveAll(dir) }
	e := &demoEnv{org: org, srv: srv, http: hs}
	cfg, err := config.Parse(filepath.Join(dir, "bitbricks.yaml"), append(emulator.DemoConfig(org, hs.URL), []byte("audit:\n  file: audit.jsonl\n")...))
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("demo config: %w", err)
	}
	e.cfg = cfg
	db.Host, db.Token, db.RateLimit = hs.URL, org.Creds.DatabricksToken, 1000
	db = withAccount(org, db)
	src, err := NewSources(cfg, SourceOptions{
		Env: MapEnv(map[string]string{
			"BITBUCKET_USERNAME":      org.Creds.BitbucketUsername,
			"BITBUCKET_API_TOKEN":     org.Creds.BitbucketAPIToken,
			"ATLASSIAN_ADMIN_API_KEY": org.Creds.AtlassianAdminKey,
		}),
		Databricks: db,
	})
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("sources: %w", err)
	}
	e.src, e.db = src, src.Databricks.(*Databricks)
	return e, closeAll, nil
}

// The matrix's measures see what they measure: a removal outside the
// fault-free plan, and a binding whose variable holds a dead credential.
func TestFaultMatrixMeasures(t *testing.T) {
	m, err := newMatrixRun(1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	before := m.env.access()
	i := slices.IndexFunc(m.allowed, func(a string) bool { return strings.HasPrefix(a, "member ") })
	dropped := m.allowed[i]
	allowed := slices.Delete(slices.Clone(m.allowed), i, i+1)
	if err := applied(m.svc.Apply(context.Background(), m.plan, nil)); err != nil {
		t.Fatal(err)
	}
	if got := wrongRemovals(before, m.env.access(), allowed); !slices.Equal(got, []string{dropped}) {
		t.Errorf("wrong removals %v, want [%s]", got, dropped)
	}
	if got := wrongRemovals(before, m.env.access(), m.allowed); len(got) != 0 {
		t.Errorf("the fault-free plan removed %v beyond itself", got)
	}
	if broken := m.env.brokenPipelines(); len(broken) != 0 {
		t.Fatalf("after a fault-free apply, broken pipelines %v", broken)
	}
	b, _ := m.env.cfg.BindingByName("etl-prod")
	m.env.org.Mu.Lock()
	for _, r := range m.env.org.BB.Repos {
		for _, v := range r.Variables {
			if r.Slug == b.Repository && v.Key == b.Variable {
				v.Value = "dapi" + strings.Repeat("0", 32)
			}
		}
	}
	m.env.org.Mu.Unlock()
	if broken := m.env.brokenPipelines(); !slices.Equal(broken, []string{"etl-prod"}) {
		t.Errorf("a dead credential in etl-prod's variable: broken %v", broken)
	}
}
