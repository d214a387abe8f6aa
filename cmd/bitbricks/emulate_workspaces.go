package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/emulator"
)

// serveWorkspaces serves every workspace of org after the first (which the
// main listener serves) on a loopback port of its own, as each workspace
// has its own host. It returns the hosts by workspace name, the first's
// included, and a stop function.
func serveWorkspaces(srv *emulator.Server, org *emulator.Org, mainURL string) (map[string]string, func(), error) {
	list := org.WorkspaceList()
	hosts := map[string]string{list[0].Name: mainURL}
	var servers []*http.Server
	stop := func() {
		for _, hs := range servers {
			hs.Close()
		}
	}
	for _, ws := range list[1:] {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("listen for workspace %s: %w", ws.Name, err)
		}
		hs := &http.Server{Handler: srv.WorkspaceHandler(ws.Name), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, hs)
		go func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintln(os.Stderr, "bitbricks: emulator stopped:", err)
			}
		}()
		hosts[ws.Name] = "http://" + ln.Addr().String()
	}
	return hosts, stop, nil
}

// writeWorkspacesConfig writes, beside path, the demo's config over all its
// workspaces (NAME.workspaces.yaml) and the Databricks config file with a
// profile per workspace (databrickscfg); it returns both paths.
func writeWorkspacesConfig(org *emulator.Org, hosts map[string]string, path string) (cfgPath, profiles string, err error) {
	dir := filepath.Dir(path)
	cfgPath = strings.TrimSuffix(path, filepath.Ext(path)) + ".workspaces.yaml"
	profiles = filepath.Join(dir, "databrickscfg")
	audit := filepath.Join(dir, "bitbricks-audit.jsonl")
	first := org.WorkspaceList()[0].Name
	src := append(emulator.DemoWorkspacesConfig(org, hosts[first]), fmt.Appendf(nil, "audit:\n  file: %q\n", audit)...)
	if err := os.WriteFile(cfgPath, src, 0o600); err != nil {
		return "", "", fmt.Errorf("write config %s: %w", cfgPath, err)
	}
	if err := os.WriteFile(profiles, emulator.DemoProfiles(org, hosts), 0o600); err != nil {
		return "", "", fmt.Errorf("write profiles %s: %w", profiles, err)
	}
	return cfgPath, profiles, nil
}

// workspaceHostsValue is BITBRICKS_WORKSPACE_HOSTS for hosts: name=URL
// pairs, by name.
func workspaceHostsValue(hosts map[string]string) string {
	names := make([]string, 0, len(hosts))
	for n := range hosts {
		names = append(names, n)
	}
	slices.Sort(names)
	pairs := make([]string, len(names))
	for i, n := range names {
		pairs[i] = n + "=" + hosts[n]
	}
	return strings.Join(pairs, ",")
}
