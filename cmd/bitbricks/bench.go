package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
	bbsync "github.com/bitbricks/bitbricks/sync"
)

// benchRun is the figures of one measured read.
type benchRun struct {
	SnapshotMS    float64          `json:"snapshot_ms"`
	PlanMS        float64          `json:"plan_ms"`
	PlanCPUMS     float64          `json:"plan_cpu_ms"`
	Requests      map[string]int64 `json:"requests"`
	PeakHeapMB    float64          `json:"peak_heap_mb"`
	EmulatorCPUMS float64          `json:"emulator_cpu_ms"`
	ClientCPUMS   float64          `json:"client_cpu_ms"`
	// BitbucketBudget is the Bitbucket hourly budget the emulator enforced
	// (-1: none).
	BitbucketBudget int `json:"bitbucket_budget"`
	Changes         int `json:"changes"`
}

// benchReport is `bitbricks bench --output json`.
type benchReport struct {
	Seed            string           `json:"seed"`
	LatencyMS       float64          `json:"latency_ms"`
	SCIMConcurrency int              `json:"scim_concurrency"`
	benchRun                         // the optimised read
	MinRequests     map[string]int64 `json:"min_requests"`
	LowerBoundMS    float64          `json:"lower_bound_ms"`
	LowerBound      struct {
		Rounds     int      `json:"rounds"`
		Derivation []string `json:"derivation"`
	} `json:"lower_bound"`
	Efficiency float64 `json:"efficiency"`
	// Baseline is the naive read (one request at a time, member lists
	// group by group) in the same run; nil with --baseline=false.
	Baseline *benchRun `json:"baseline"`
	// Ratio is baseline over optimised, per figure.
	Ratio map[string]float64 `json:"ratio"`
	// CPU says how the two CPU figures are measured.
	CPU string `json:"cpu_method"`
	// LoadAverage is the machine's 1-minute load when the run ended (Linux;
	// empty elsewhere): wall times on a busy machine are longer.
	LoadAverage string `json:"load_average"`
}

const benchCPUMethod = "the emulator runs in a child process and reports its own getrusage (user+system) before and after the read; client_cpu_ms is this process's getrusage over the read, with nothing else running in it"

func newBenchCmd(s *ioStreams, g *globalFlags) *cobra.Command {
	var (
		seed, latency, profile string
		baseline               bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a snapshot of a large organisation against the emulator, and a naive baseline",
		Long: `bench serves the emulator's organisation (--seed, large by default) in a child
process at a latency per request (--latency, 50ms by default), with the
service's limits on (4 concurrent SCIM requests, 1,000 Bitbucket requests an
hour), reads a snapshot the way sync does and computes its plan, then does
the same read the naive way (one request at a time, member lists group by
group; its emulator has no Bitbucket budget, which it would exceed).

It prints snapshot_ms, plan_ms, requests per system, min_requests (the pages
the data needs), lower_bound_ms (the longest chain of requests that cannot
overlap under the limits, times the latency, with its derivation),
efficiency (lower_bound_ms / snapshot_ms), peak_heap_mb, emulator_cpu_ms and
client_cpu_ms, for both reads, and their ratio. Progress goes to stderr.`,
		Example: `  bitbricks bench
  bitbricks bench --latency 0 --baseline=false --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			lat, _, err := parseLatency(latency)
			if err != nil {
				return err
			}
			if profile != "" {
				stop, err := startCPUProfile(profile + ".client")
				if err != nil {
					return err
				}
				defer stop()
			}
			rep, err := runBench(cmd.Context(), s, seed, lat, baseline, profile)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			writeBenchText(s.Out, rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&seed, "seed", "large", "organisation to serve: large or demo")
	f.StringVar(&latency, "latency", "50ms", "added to every request")
	f.BoolVar(&baseline, "baseline", true, "also measure the naive read")
	f.StringVar(&profile, "cpuprofile", "", "write CPU profiles (pprof) of the client to FILE.client and of the emulator to FILE.emulator")
	return cmd
}

func runBench(ctx context.Context, s *ioStreams, seed string, latency time.Duration, baseline bool, profile string) (*benchReport, error) {
	rep := &benchReport{Seed: seed, LatencyMS: ms(latency), SCIMConcurrency: bbsync.SCIMConcurrency, CPU: benchCPUMethod, Ratio: map[string]float64{}}
	progress := func(msg string) { fmt.Fprintf(s.Err, "… %s\n", msg) }
	fmt.Fprintf(s.Err, "… starting the emulator (%s seed, %s a request)\n", seed, latency)
	run, snap, cfg, routes, err := benchOnce(ctx, seed, latency, 0, profile, func(ctx context.Context, src bbsync.Sources, cfg *config.Config) (*bbsync.Snapshot, error) {
		return bbsync.Read(ctx, src, cfg, progress)
	})
	if err != nil {
		return nil, err
	}
	rep.benchRun = *run
	b := bbsync.LowerBound(snap, cfg, routes)
	rep.MinRequests = b.MinRequests
	rep.LowerBound.Rounds, rep.LowerBound.Derivation = b.Rounds, b.Derivation
	rep.LowerBoundMS = float64(b.Rounds) * ms(latency)
	rep.LowerBound.Derivation = append(rep.LowerBound.Derivation, fmt.Sprintf("lower bound: %d rounds × %s = %.0f ms", b.Rounds, latency, rep.LowerBoundMS))
	if run.SnapshotMS > 0 {
		rep.Efficiency = round2(rep.LowerBoundMS / run.SnapshotMS)
	}
	if baseline {
		fmt.Fprintf(s.Err, "… the naive baseline: one request at a time, member lists group by group\n")
		base, _, _, _, err := benchOnce(ctx, seed, latency, -1, "", func(ctx context.Context, src bbsync.Sources, cfg *config.Config) (*bbsync.Snapshot, error) {
			return bbsync.ReadNaive(ctx, src, cfg)
		})
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		rep.Baseline = base
		ratio := func(k string, a, b float64) {
			if b > 0 {
				rep.Ratio[k] = round2(a / b)
			}
		}
		ratio("snapshot_ms", base.SnapshotMS, run.SnapshotMS)
		ratio("requests", float64(base.Requests["total"]), float64(run.Requests["total"]))
		ratio("client_cpu_ms", base.ClientCPUMS, run.ClientCPUMS)
		ratio("emulator_cpu_ms", base.EmulatorCPUMS, run.EmulatorCPUMS)
		ratio("peak_heap_mb", base.PeakHeapMB, run.PeakHeapMB)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			rep.LoadAverage = f[0]
		}
	}
	return rep, nil
}

// benchOnce serves seed in a child emulator, reads a snapshot with read and
// plans it, and returns the figures.
func benchOnce(ctx context.Context, seed string, latency time.Duration, budget int, profile string,
	read func(context.Context, bbsync.Sources, *config.Config) (*bbsync.Snapshot, error)) (*benchRun, *bbsync.Snapshot, *config.Config, map[string]int64, error) {
	emu, err := startEmulator(ctx, seed, latency, budget, profile)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer emu.stop()
	cfg, err := config.Load(emu.config)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	src, err := bbsync.NewSources(cfg, bbsync.SourceOptions{
		Env: bbsync.MapEnv(emu.env),
		// The SDK's own client-side limit (15 requests a second) would be
		// what is measured; the emulator enforces the service's limits.
		Databricks: bbsync.DatabricksOptions{Host: emu.url, Token: emu.env["DATABRICKS_TOKEN"], RateLimit: 1000,
			AccountClientID: emu.env["DATABRICKS_CLIENT_ID"], AccountClientSecret: emu.env["DATABRICKS_CLIENT_SECRET"]},
	})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if err := emu.post("/_emulator/stats/reset"); err != nil {
		return nil, nil, nil, nil, err
	}
	before, err := emu.stats()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var snap *bbsync.Snapshot
	m, err := bbsync.Measure(func() error {
		var err error
		snap, err = read(ctx, src, cfg)
		return err
	})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	after, err := emu.stats()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var plan bbsync.Plan
	pm, _ := bbsync.Measure(func() error {
		plan = bbsync.ComputePlan(snap, cfg, time.Now())
		return nil
	})
	run := &benchRun{
		SnapshotMS: math.Round(ms(m.Wall)), PlanMS: round2(ms(pm.Wall)), PlanCPUMS: round2(ms(pm.CPU)), PeakHeapMB: round2(m.PeakHeapMB),
		ClientCPUMS: -1, EmulatorCPUMS: -1, BitbucketBudget: budget, Changes: len(plan.Changes),
		Requests: map[string]int64{"total": after.Total},
	}
	if budget == 0 {
		run.BitbucketBudget = 1000
	}
	for _, f := range []string{"bitbucket", "atlassian", "databricks"} {
		run.Requests[f] = after.Families[f]
	}
	if m.CPU >= 0 {
		run.ClientCPUMS = math.Round(ms(m.CPU))
	}
	if before.ProcessCPUMillis >= 0 && after.ProcessCPUMillis >= 0 {
		run.EmulatorCPUMS = math.Round(after.ProcessCPUMillis - before.ProcessCPUMillis)
	}
	return run, snap, cfg, after.Routes, nil
}

// childEmulator is `bitbricks emulate` running in a child process.
type childEmulator struct {
	cmd    *exec.Cmd
	url    string
	env    map[string]string
	config string
	dir    string
}

// benchChildEnv marks the child as a bitbricks command line, for test
// binaries that stand in for bitbricks (see TestMain).
const benchChildEnv = "BITBRICKS_BENCH_CHILD"

func startEmulator(ctx context.Context, seed string, latency time.Duration, budget int, profile string) (*childEmulator, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: find the bitbricks executable: %w", err)
	}
	dir, err := os.MkdirTemp("", "bitbricks-bench-")
	if err != nil {
		return nil, err
	}
	e := &childEmulator{dir: dir, config: filepath.Join(dir, "bench.yaml"), env: map[string]string{}}
	e.cmd = exec.CommandContext(ctx, exe, "emulate", "--seed", seed, "--listen", "127.0.0.1:0",
		"--latency", latency.String(), "--bitbucket-budget", fmt.Sprint(budget), "--write-config", e.config)
	if profile != "" {
		e.cmd.Args = append(e.cmd.Args, "--cpuprofile", profile+".emulator")
	}
	e.cmd.Env = append(os.Environ(), benchChildEnv+"=1")
	var stderr bytes.Buffer
	e.cmd.Stderr = &stderr
	out, err := e.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := e.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: start the emulator: %w", err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok {
			e.env[k] = v
		}
		if e.env["DATABRICKS_HOST"] != "" && e.env["DATABRICKS_TOKEN"] != "" && len(e.env) >= 7 {
			break
		}
	}
	go io.Copy(io.Discard, out)
	if e.url = e.env["DATABRICKS_HOST"]; e.url == "" {
		e.stop()
		return nil, fmt.Errorf("bench: the emulator did not start: %s", strings.TrimSpace(stderr.String()))
	}
	return e, nil
}

func (e *childEmulator) stop() {
	if e.cmd.Process != nil {
		_ = e.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = e.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = e.cmd.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(e.dir)
}

func (e *childEmulator) post(path string) error {
	resp, err := http.Post(e.url+path, "application/json", nil)
	if err != nil {
		return fmt.Errorf("bench: emulator %s: %w", path, err)
	}
	resp.Body.Close()
	return nil
}

func (e *childEmulator) stats() (emulator.Stats, error) {
	var st emulator.Stats
	resp, err := http.Get(e.url + "/_emulator/stats")
	if err != nil {
		return st, fmt.Errorf("bench: emulator stats: %w", err)
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func writeBenchText(w io.Writer, r *benchReport) {
	fmt.Fprintf(w, "bench: %s seed, %.0f ms a request, SCIM limit %d, Bitbucket budget %d/h\n\n", r.Seed, r.LatencyMS, r.SCIMConcurrency, r.BitbucketBudget)
	row := func(name string, a, b any) {
		if r.Baseline == nil {
			fmt.Fprintf(w, "  %-18s %12v\n", name, a)
			return
		}
		fmt.Fprintf(w, "  %-18s %12v %12v\n", name, a, b)
	}
	base := r.Baseline
	if base == nil {
		base = &benchRun{Requests: map[string]int64{}}
		fmt.Fprintf(w, "  %-18s %12s\n", "", "bitbricks")
	} else {
		fmt.Fprintf(w, "  %-18s %12s %12s\n", "", "bitbricks", "naive")
	}
	row("snapshot_ms", r.SnapshotMS, base.SnapshotMS)
	row("plan_ms", r.PlanMS, base.PlanMS)
	row("plan_cpu_ms", r.PlanCPUMS, base.PlanCPUMS)
	for _, f := range []string{"bitbucket", "atlassian", "databricks", "total"} {
		row("requests "+f, r.Requests[f], base.Requests[f])
	}
	row("peak_heap_mb", r.PeakHeapMB, base.PeakHeapMB)
	row("client_cpu_ms", r.ClientCPUMS, base.ClientCPUMS)
	row("emulator_cpu_ms", r.EmulatorCPUMS, base.EmulatorCPUMS)
	fmt.Fprintf(w, "\n  min_requests       %d (bitbucket %d, atlassian %d, databricks %d)\n",
		r.MinRequests["total"], r.MinRequests["bitbucket"], r.MinRequests["atlassian"], r.MinRequests["databricks"])
	fmt.Fprintf(w, "  lower_bound_ms     %.0f\n", r.LowerBoundMS)
	for _, d := range r.LowerBound.Derivation {
		fmt.Fprintf(w, "    %s\n", d)
	}
	fmt.Fprintf(w, "  efficiency         %.2f (lower_bound_ms / snapshot_ms)\n", r.Efficiency)
	if r.Baseline != nil {
		fmt.Fprintf(w, "  naive / bitbricks  snapshot %.1f×, requests %.1f×, client CPU %.1f× (naive emulator without the Bitbucket budget)\n",
			r.Ratio["snapshot_ms"], r.Ratio["requests"], r.Ratio["client_cpu_ms"])
	}
	fmt.Fprintf(w, "  CPU: %s\n", r.CPU)
	if r.LoadAverage != "" {
		fmt.Fprintf(w, "  load average at the end: %s (wall times stretch on a busy machine)\n", r.LoadAverage)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// startCPUProfile writes a CPU profile of this process to path until the
// returned stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
