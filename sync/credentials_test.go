package sync

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
	"github.com/databricks/databricks-sdk-go"
)

// credEnv is the demo organisation on loopback (see newDemo) with a
// Credentials over the real adapters and its logs captured.
type credEnv struct {
	*demoEnv
	creds *Credentials
	logs  *bytes.Buffer
}

// newCredEnv serves emulator.Demo, with extra bindings added to its config.
func newCredEnv(t *testing.T, extra ...config.Binding) *credEnv {
	t.Helper()
	e := &credEnv{demoEnv: newDemo(t, emulator.Options{}), logs: &bytes.Buffer{}}
	e.cfg.Pipelines = append(e.cfg.Pipelines, extra...)
	e.creds = &Credentials{
		Databricks: e.db,
		Bitbucket:  e.src.Bitbucket.(*Bitbucket),
		Config:     e.cfg,
		AuditFile:  filepath.Join(t.TempDir(), "audit.jsonl"),
		Operator:   Operator{OSUser: "tester", Databricks: "admin@acme.com"},
		Log:        slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:        e.org.Now,
	}
	return e
}

func (e *credEnv) binding(t *testing.T, name string) config.Binding {
	t.Helper()
	b, ok := e.cfg.BindingByName(name)
	if !ok {
		t.Fatalf("no binding %s", name)
	}
	return b
}

// variable reads a pipeline variable straight from the organisation: the
// API never returns secured values.
func (e *credEnv) variable(repo, env, key string) string {
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	for _, r := range e.org.BB.Repos {
		if r.Slug != repo {
			continue
		}
		vars := r.Variables
		for _, en := range r.Environments {
			if env != "" && en.Name == env {
				vars = en.Variables
			}
		}
		for _, v := range vars {
			if v.Key == key {
				return v.Value
			}
		}
	}
	return ""
}

func (e *credEnv) bound(b config.Binding) (value, recorded string) {
	return e.variable(b.Repository, b.Environment, b.Variable), e.variable(b.Repository, b.Environment, b.Variable+"_ID")
}

func (e *credEnv) sp(name string) emulator.DBServicePrincipal {
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	for _, sp := range e.org.DB.ServicePrincipals {
		if sp.DisplayName == name {
			return *sp
		}
	}
	return emulator.DBServicePrincipal{}
}

// tokens lists the live tokens of a principal (by SCIM id) whose comment
// starts with prefix.
func (e *credEnv) tokens(ownerID, prefix string) []emulator.DBToken {
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	var out []emulator.DBToken
	for _, t := range e.org.DB.Tokens {
		if t.OwnerID == ownerID && strings.HasPrefix(t.Comment, prefix) {
			out = append(out, *t)
		}
	}
	return out
}

func (e *credEnv) secrets(spID string) []emulator.DBSecret {
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	var out []emulator.DBSecret
	for _, s := range e.org.DB.Secrets {
		if s.SPID == spID {
			out = append(out, *s)
		}
	}
	return out
}

// state is everything a rotation or revocation could change, as text.
func (e *credEnv) state() string {
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	var lines []string
	for id, t := range e.org.DB.Tokens {
		lines = append(lines, "token "+id+" "+t.OwnerID+" "+t.Comment)
	}
	for id, s := range e.org.DB.Secrets {
		lines = append(lines, "secret "+id+" "+s.SPID)
	}
	for _, r := range e.org.BB.Repos {
		vars := r.Variables
		for _, en := range r.Environments {
			vars = append(vars, en.Variables...)
		}
		for _, v := range vars {
			lines = append(lines, fmt.Sprintf("variable %s %s=%s %v", r.Slug, v.Key, v.Value, v.Secured))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// authenticatesAs reports the userName (a service principal's application
// id) that a credential of kind authenticates as, through the SDK.
func (e *credEnv) authenticatesAs(t *testing.T, b config.Binding, value string) (string, error) {
	t.Helper()
	cfg := &databricks.Config{AuthType: "pat", Token: value}
	if b.Credential == config.CredentialOAuthSecret {
		cfg = &databricks.Config{AuthType: "oauth-m2m", ClientID: e.sp(b.ServicePrincipal).ApplicationID, ClientSecret: value}
	}
	me, err := e.creds.probe(context.Background(), cfg)
	if err != nil {
		return "", err
	}
	return me.UserName, nil
}

// mustWork fails unless the binding's secured variable holds a credential
// that authenticates as its service principal.
func (e *credEnv) mustWork(t *testing.T, b config.Binding) {
	t.Helper()
	value, _ := e.bound(b)
	who, err := e.authenticatesAs(t, b, value)
	if want := e.sp(b.ServicePrincipal).ApplicationID; err != nil || who != want {
		t.Fatalf("%s holds %s, which authenticates as %q (%v), want %s", b.Variable, Redact(value), who, err, want)
	}
}

// live lists the binding's live credentials: OBO tokens with its marker,
// or every OAuth secret of its service principal, as id -> value.
func (e *credEnv) live(b config.Binding) map[string]string {
	sp := e.sp(b.ServicePrincipal)
	out := map[string]string{}
	if b.Credential == config.CredentialOAuthSecret {
		for _, s := range e.secrets(sp.ID) {
			out[s.ID] = s.Secret
		}
		return out
	}
	for _, tk := range e.tokens(sp.ID, bindingMarker(b.Name)) {
		out[tk.ID] = tk.Value
	}
	return out
}

// mustConverge fails unless exactly one credential of the binding is live,
// recorded in <VARIABLE>_ID and held by the variable.
func (e *credEnv) mustConverge(t *testing.T, b config.Binding, res RotationResult) {
	t.Helper()
	value, recorded := e.bound(b)
	live := e.live(b)
	if len(live) != 1 || live[recorded] != value || recorded != res.NewID {
		ids := slices.Sorted(func(yield func(string) bool) {
			for id := range live {
				if !yield(id) {
					return
				}
			}
		})
		t.Fatalf("live credentials of %s: %v; recorded %s, rotation made %s; want exactly the recorded one, held by %s", b.Name, ids, recorded, res.NewID, b.Variable)
	}
	e.mustWork(t, b)
}

// mustNotShow fails if any secret appears in the texts, the audit log or the logs.
func (e *credEnv) mustNotShow(t *testing.T, secrets []string, texts ...string) {
	t.Helper()
	audit, _ := os.ReadFile(e.creds.AuditFile)
	texts = append(texts, string(audit), e.logs.String())
	for _, s := range secrets {
		for i, text := range texts {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("a credential value (%s) shows in text %d of %d: %.300q", Redact(s), i, len(texts), text)
			}
		}
	}
}

func TestRedactCredential(t *testing.T) {
	for in, want := range map[string]string{
		"dapi0123456789abcdef0123456789ab1a2b": "dapi…1a2b",
		"dose0123456789abcdef":                 "dose…cdef",
		"short":                                "…",
		"":                                     "…",
		"0123456789abcde":                      "…",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// The snapshot gives Inventory what it needs about credentials: OBO kinds
// and owners, SP secrets, the bound credential of each binding and the
// leftovers of earlier rotations.
func TestCredentialInventoryFromEmulator(t *testing.T) {
	e := newCredEnv(t)
	ctx := context.Background()
	read := func() map[string]CredentialStatus {
		out := map[string]CredentialStatus{}
		for _, s := range Inventory(e.read(t), e.cfg, e.org.Now()) {
			out[s.ID] = s
		}
		return out
	}
	etl, ml := e.binding(t, "etl-prod"), e.binding(t, "ml-prod")
	_, etlID := e.bound(etl)
	_, mlID := e.bound(ml)
	inv := read()
	if s := inv[etlID]; s.Kind != CredentialOBO || s.Owner != "etl-deployer" || !s.Has(FlagBound) || s.Has(FlagOrphaned) {
		t.Errorf("etl-prod's recorded token: %+v, want a bound OBO token of etl-deployer", s)
	}
	if s := inv[mlID]; s.Kind != CredentialOAuthSecret || s.Owner != "ml-deployer" || !s.Has(FlagBound) {
		t.Errorf("ml-prod's recorded secret: %+v, want a bound OAuth secret of ml-deployer", s)
	}
	orphans := 0
	for _, s := range inv {
		if s.Has(FlagOrphaned) {
			orphans++
			if !strings.HasPrefix(s.Comment, bindingMarker("etl-prod")) || s.Owner != "etl-deployer" {
				t.Errorf("orphaned: %+v, want only etl-prod's leftover", s)
			}
		}
	}
	if orphans != 1 {
		t.Errorf("%d orphaned credentials, want etl-prod's one leftover", orphans)
	}

	res, err := e.creds.RotateBinding(ctx, etl)
	if err != nil {
		t.Fatal(err)
	}
	inv = read()
	if s := inv[res.NewID]; !s.Has(FlagBound) || s.Kind != CredentialOBO || !strings.HasPrefix(s.Comment, bindingMarker("etl-prod")) {
		t.Errorf("after rotation the new token is %+v, want it bound, with the marker", s)
	}
	for _, s := range inv {
		if s.Has(FlagOrphaned) {
			t.Errorf("after rotation %s is still orphaned", s.ID)
		}
	}
}

// A binding's service principal is found the same way everywhere: by display
// name or application id, ignoring case; of two with one name, the smallest
// id, whatever the map order.
func TestServicePrincipalNamed(t *testing.T) {
	sps := map[string]*ServicePrincipal{
		"9": {ID: "9", DisplayName: "etl-deployer", ApplicationID: "aaaa-1111"},
		"3": {ID: "3", DisplayName: "ETL-Deployer", ApplicationID: "bbbb-2222"},
		"5": {ID: "5", DisplayName: "other", ApplicationID: "cccc-3333"},
	}
	for range 20 { // map order varies from run to run
		if sp := servicePrincipalNamed(sps, "etl-deployer"); sp == nil || sp.ID != "3" {
			t.Fatalf("etl-deployer = %+v, want id 3", sp)
		}
	}
	if sp := servicePrincipalNamed(sps, "CCCC-3333"); sp == nil || sp.ID != "5" {
		t.Errorf("application id in upper case = %+v, want id 5", sp)
	}
	if sp := servicePrincipalNamed(sps, "nobody"); sp != nil {
		t.Errorf("nobody = %+v, want nil", sp)
	}
}
