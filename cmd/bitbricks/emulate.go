package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bitbricks/bitbricks/emulator"
	bbsync "github.com/bitbricks/bitbricks/sync"
)

func newEmulateCmd(s *ioStreams, g *globalFlags) *cobra.Command {
	var (
		listen, seed, latency, faults, writeConfig, profile string
		budget                                              int
	)
	cmd := &cobra.Command{
		Use:   "emulate",
		Short: "Serve the Bitbucket, Atlassian Admin and Databricks emulator on loopback",
		Long: `emulate serves a local, faithful Bitbucket Cloud (2.0 and /1.0 groups),
Atlassian Admin API and Databricks workspace and account API on one loopback
port, seeded with an organisation, and prints the environment that points
bitbricks, the Databricks SDK and CLI, or curl at it:

  terminal 1:  bitbricks emulate --write-config demo.yaml
  terminal 2:  paste the export lines it printed, then
               bitbricks sync --config demo.yaml

It never reads your own Databricks environment or ~/.databrickscfg.
Request counts per route: GET <url>/_emulator/stats (reset: POST .../stats/reset).
Play a pipeline's part (see bitbricks federate):
  POST <url>/_emulator/pipelines/oidc-token {"repository":"etl"}  a step's OIDC token
  POST <url>/_emulator/pipelines/runs {"repository":"etl","result":"SUCCESSFUL"}
  PUT  <url>/_emulator/pipelines/config?repository=etl  body: bitbucket-pipelines.yml

--latency is FIXED[+JITTER], such as 20ms or 20ms+30ms.
--faults injects failures by route:
` + indent(emulator.FaultsHelp, "  "),
		Example: `  bitbricks emulate
  bitbricks emulate --seed large --latency 5ms+5ms
  bitbricks emulate --write-config demo.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if profile != "" {
				stop, err := startCPUProfile(profile)
				if err != nil {
					return err
				}
				defer stop()
			}
			opts := emulator.Options{BitbucketHourlyBudget: budget}
			var err error
			if opts.Latency, opts.Jitter, err = parseLatency(latency); err != nil {
				return err
			}
			if faults != "" {
				if opts.Faults, err = emulator.ParseFaults(faults); err != nil {
					return fmt.Errorf("--faults: %w", err)
				}
			}
			org, err := emulator.Seed(seed, s.Now())
			if err != nil {
				return fmt.Errorf("--seed: %w", err)
			}
			srv := emulator.New(org, opts)
			url, hs, err := serve(srv, listen)
			if err != nil {
				return err
			}
			defer hs.Close()
			hosts, stopWorkspaces, err := serveWorkspaces(srv, org, url)
			if err != nil {
				return err
			}
			defer stopWorkspaces()
			env := demoEnv(org, url)
			if len(hosts) > 1 {
				// For `databricks.workspaces: all`: the account lists the
				// workspaces by name; these are their loopback hosts.
				env[bbsync.WorkspaceHostsEnv] = workspaceHostsValue(hosts)
			}
			if writeConfig != "" {
				if err := writeSeedConfig(seed, org, url, writeConfig); err != nil {
					return err
				}
				fmt.Fprintf(s.Err, "wrote %s\n", writeConfig)
				if len(hosts) > 1 && seed != "large" {
					multi, profiles, err := writeWorkspacesConfig(org, hosts, writeConfig)
					if err != nil {
						return err
					}
					env["DATABRICKS_CONFIG_FILE"] = profiles
					fmt.Fprintf(s.Err, "wrote %s (all %d workspaces; profiles in %s)\n", multi, len(hosts), profiles)
				}
			}
			for name, h := range hosts {
				if h != url {
					fmt.Fprintf(s.Err, "workspace %s serving on %s\n", name, h)
				}
			}
			keys := make([]string, 0, len(env))
			for k := range env {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			// The emulator's own made-up credentials: the one output that
			// prints values, so it bypasses the terminal gate.
			out := s.rawOut
			if out == nil {
				out = s.Out
			}
			for _, k := range keys {
				fmt.Fprintf(out, "export %s=%s\n", k, env[k])
			}
			fmt.Fprintf(s.Err, "emulator (%s seed) serving on %s; Ctrl-C stops it\n", seed, url)
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8790", "address to serve on (keep it on loopback)")
	f.StringVar(&seed, "seed", "demo", "organisation to serve: demo or large")
	f.StringVar(&latency, "latency", "", "added to every request: FIXED[+JITTER], such as 20ms+10ms")
	f.StringVar(&faults, "faults", "", "faults to inject (see above)")
	f.StringVar(&writeConfig, "write-config", "", "write a bitbricks config that matches the seed to this file")
	f.StringVar(&profile, "cpuprofile", "", "write a CPU profile (pprof) of the emulator to this file until it stops")
	f.IntVar(&budget, "bitbucket-budget", 0, "Bitbucket requests per credential per rolling hour (0: the service's 1,000; negative: no limit)")
	return cmd
}

func parseLatency(v string) (fixed, jitter time.Duration, err error) {
	if v == "" {
		return 0, 0, nil
	}
	a, b, hasJitter := strings.Cut(v, "+")
	if fixed, err = time.ParseDuration(a); err != nil {
		return 0, 0, fmt.Errorf("--latency %q: want FIXED[+JITTER], such as 20ms+10ms", v)
	}
	if hasJitter {
		if jitter, err = time.ParseDuration(b); err != nil {
			return 0, 0, fmt.Errorf("--latency %q: want FIXED[+JITTER], such as 20ms+10ms", v)
		}
	}
	return fixed, jitter, nil
}

func indent(text, prefix string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// writeSeedConfig writes the config that matches seed: the demo's, or one
// that maps every group of the large organisation to its twin.
func writeSeedConfig(seed string, org *emulator.Org, url, path string) error {
	if seed != "large" {
		return writeDemoConfig(org, url, path)
	}
	audit := filepath.Join(filepath.Dir(path), "bitbricks-audit.jsonl")
	src := append(emulator.LargeConfig(org, url), fmt.Appendf(nil, "audit:\n  file: %q\n", audit)...)
	if err := os.WriteFile(path, src, 0o600); err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	return nil
}
