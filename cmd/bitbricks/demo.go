package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
	bbsync "github.com/bitbricks/bitbricks/sync"
)

func newDemoCmd(s *ioStreams, g *globalFlags) *cobra.Command {
	var headless, workspaces bool
	var sf syncFlags
	cmd := &cobra.Command{
		Annotations: map[string]string{mutatesKey: mutatesWithApply},
		Use:         "demo",
		Short:       "Try bitbricks on an emulated organisation: no account, config or credentials needed",
		Long: `demo starts the emulator in this process, seeded with a small organisation
(about 40 people, 6 Bitbucket groups, 5 Databricks groups, 60 tokens, 2
pipeline bindings) that has every kind of drift and finding, and opens the
console on it. With --headless it prints the plan instead, like ` + "`bitbricks sync`" + `.

With --workspaces the demo account's two Databricks workspaces, prod and
dev (each on a loopback port of its own, with its own tokens, local group,
entitlements and assignment; the account's groups and users shared), are
served, and the console opens over both: w switches between all
workspaces, prod and dev. With --headless it prints the plan of both, a
section per workspace.

The demo never reads your Databricks environment variables or
~/.databrickscfg, and nothing it does leaves this process: each run starts
from the same seed.`,
		Example: `  bitbricks demo
  bitbricks demo --headless
  bitbricks demo --headless --output json
  bitbricks demo --headless --apply --yes
  bitbricks demo --workspaces
  bitbricks demo --workspaces --headless`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			if !headless && !s.IsTerminal {
				if workspaces {
					return errors.New("the console needs a terminal; use `bitbricks demo --workspaces --headless` to print the demo's plan instead")
				}
				return errors.New("the console needs a terminal; use `bitbricks demo --headless` to print the demo's plan instead")
			}
			d, err := startDemo(cmd.Context(), s, workspaces)
			if err != nil {
				return err
			}
			defer d.close()
			e, err := newEngine(s, d.cfg, d.engineOptions())
			if err != nil {
				return err
			}
			if headless {
				return e.syncRun(cmd.Context(), s, asJSON, &sf)
			}
			return runConsoleWith(cmd.Context(), s, g, e)
		},
	}
	cmd.Flags().BoolVar(&headless, "headless", false, "print the plan instead of opening the console")
	cmd.Flags().BoolVar(&workspaces, "workspaces", false, "serve the demo account's two workspaces, prod and dev, and plan both (w switches between them in the console)")
	addSyncFlags(cmd, &sf)
	return cmd
}

// demo is the in-process emulator with the demo seed and a config for it.
type demo struct {
	org  *emulator.Org
	srv  *emulator.Server
	http *http.Server
	url  string
	dir  string
	cfg  *config.Config
	// hosts are the workspaces' hosts by name, with --workspaces (nil
	// without); stop stops the listeners of the workspaces after the first.
	hosts map[string]string
	stop  func()
}

// startDemo serves the demo organisation on a loopback port and writes its
// config into a temporary directory (re-map in the console edits that file).
// With workspaces, each of the account's workspaces is served on a port of
// its own and the config lists them all.
func startDemo(ctx context.Context, s *ioStreams, workspaces bool) (*demo, error) {
	org := emulator.Demo(s.Now())
	srv := emulator.New(org, emulator.Options{})
	url, hs, err := serve(srv, "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &demo{org: org, srv: srv, http: hs, url: url}
	d.dir, err = os.MkdirTemp("", "bitbricks-demo-")
	if err != nil {
		d.close()
		return nil, fmt.Errorf("demo: create a temporary directory: %w", err)
	}
	path := filepath.Join(d.dir, "bitbricks.yaml")
	src, idmap := emulator.DemoConfigFiles(org, url)
	if workspaces {
		if d.hosts, d.stop, err = serveWorkspaces(srv, org, url); err != nil {
			d.close()
			return nil, err
		}
		src = emulator.DemoWorkspacesHostsConfig(org, d.hosts)
	}
	if err := writeConfigFiles(path, src, idmap); err != nil {
		d.close()
		return nil, err
	}
	d.cfg, err = config.Load(path)
	if err != nil {
		d.close()
		return nil, fmt.Errorf("demo: the generated config does not load: %w", err)
	}
	return d, nil
}

// writeDemoConfig writes the seed's config with an audit log and the
// identity map it names beside it.
func writeDemoConfig(org *emulator.Org, url, path string) error {
	src, idmap := emulator.DemoConfigFiles(org, url)
	return writeConfigFiles(path, src, idmap)
}

// writeConfigFiles writes config src with an audit log, and the identity
// map it names beside it.
func writeConfigFiles(path string, src, idmap []byte) error {
	audit := filepath.Join(filepath.Dir(path), "bitbricks-audit.jsonl")
	src = append(src, fmt.Appendf(nil, "audit:\n  file: %q\n", audit)...)
	if err := os.WriteFile(path, src, 0o600); err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	ids := filepath.Join(filepath.Dir(path), "identities.yaml")
	if err := os.WriteFile(ids, idmap, 0o600); err != nil {
		return fmt.Errorf("write identity map %s: %w", ids, err)
	}
	return nil
}

// engineOptions point the engine at the emulator with the seed's
// credentials, and at nothing from the user's environment.
func (d *demo) engineOptions() engineOptions {
	db := bbsync.DatabricksOptions{Host: d.url, Token: d.org.Creds.DatabricksToken,
		AccountClientID: d.org.Creds.AccountClientID, AccountClientSecret: d.org.Creds.AccountClientSecret}
	if d.hosts != nil {
		// Each workspace with its own host and its admin's token there.
		db.Workspaces = map[string]bbsync.DatabricksOptions{}
		for name, host := range d.hosts {
			db.Workspaces[name] = bbsync.DatabricksOptions{Host: host, Token: d.org.Creds.WorkspaceTokens[name]}
		}
	}
	return engineOptions{
		env: bbsync.MapEnv(demoEnv(d.org, d.url)),
		db:  db,
		// The demo's writes lock only each other, never a real run's.
		stateDir: d.dir,
	}
}

func (d *demo) close() {
	if d.stop != nil {
		d.stop()
	}
	if d.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = d.http.Shutdown(ctx)
		cancel()
	}
	if d.dir != "" {
		_ = os.RemoveAll(d.dir)
	}
}

// demoEnv is the environment that points every client at the emulator.
func demoEnv(org *emulator.Org, url string) map[string]string {
	return map[string]string{
		"DATABRICKS_HOST":  url,
		"DATABRICKS_TOKEN": org.Creds.DatabricksToken,
		// The account API takes OAuth only: the account admin service
		// principal's secret; the token stays the workspace's.
		"DATABRICKS_CLIENT_ID":     org.Creds.AccountClientID,
		"DATABRICKS_CLIENT_SECRET": org.Creds.AccountClientSecret,
		"DATABRICKS_AUTH_TYPE":     "pat",
		"BITBUCKET_API_BASE_URL":   url + "/2.0",
		"BITBUCKET_USERNAME":       org.Creds.BitbucketUsername,
		"BITBUCKET_API_TOKEN":      org.Creds.BitbucketAPIToken,
		"ATLASSIAN_API_BASE_URL":   url,
		"ATLASSIAN_ADMIN_API_KEY":  org.Creds.AtlassianAdminKey,
	}
}

// serve starts srv on addr and returns its base URL.
func serve(srv *emulator.Server, addr string) (string, *http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("listen on %s: %w (is another emulator running? pick another with --listen)", addr, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "bitbricks: emulator stopped:", err)
		}
	}()
	return "http://" + ln.Addr().String(), hs, nil
}
