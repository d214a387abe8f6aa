package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bitbricks/bitbricks/views"
	"golang.org/x/term"

	bbsync "github.com/bitbricks/bitbricks/sync"
)

// ioStreams is everything a command touches outside its arguments, so tests
// run commands in-process with their own streams, environment and clock.
type ioStreams struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	Getenv func(string) string
	Now    func() time.Time
	// IsTerminal reports whether stdin and stdout are both terminals: only
	// then may a command prompt or start the console.
	IsTerminal bool
	// ColorOut is true when stdout is a terminal and NO_COLOR is unset.
	ColorOut bool

	// Prompt receives questions and their answers' echo: the terminal
	// (/dev/tty) when there is one, so a prompt shows even with stderr
	// redirected; nil is Err.
	Prompt io.Writer

	// rawOut is stdout without the terminal gate (see guard).
	rawOut io.Writer
	// retryUnit, when set (tests), shortens the Bitbucket and Atlassian
	// backoff; the bounds in attempts stay.
	retryUnit time.Duration

	// probeTimeout, when set (tests), bounds the first Databricks call
	// instead of sync.ProbeTimeout.
	probeTimeout time.Duration

	// stdin buffers In for every read of one command (a token value, then a
	// confirmation): a second buffer would miss what the first read ahead.
	stdin *bufio.Reader
}

// prompt is where questions go: Prompt, else Err.
func (s *ioStreams) prompt() io.Writer {
	if s.Prompt != nil {
		return s.Prompt
	}
	return s.Err
}

// readLine reads the next line of stdin, newline included.
func (s *ioStreams) readLine() (string, error) {
	if s.stdin == nil {
		s.stdin = bufio.NewReader(s.In)
	}
	return s.stdin.ReadString('\n')
}

func newIO() *ioStreams {
	tty := term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
	var prompt io.Writer
	if tty {
		// The controlling terminal, when it can be opened; it stays open for
		// the life of the process.
		if f, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			prompt = f
		}
	}
	return &ioStreams{
		Prompt: prompt,
		In:     os.Stdin, Out: os.Stdout, Err: os.Stderr,
		Getenv:     os.Getenv,
		Now:        time.Now,
		IsTerminal: tty,
		ColorOut:   term.IsTerminal(int(os.Stdout.Fd())) && os.Getenv("NO_COLOR") == "",
	}
}

// exitError carries an exit code with an already-reported (or silent) error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// run executes the command line and returns the process exit code:
// 0 in sync or applied, 1 error, 2 changes pending (--detailed-exitcode),
// 3 refused by a safety guard.
func run(ctx context.Context, s *ioStreams, args []string) int {
	s.guard()
	bbsync.UseSDKLogger(s.Err, s.Getenv("BITBRICKS_DEBUG") != "")
	if err := refuseCredentialArgs(args); err != nil {
		fmt.Fprintln(s.Err, "bitbricks: "+err.Error())
		return 1
	}
	root := newRootCmd(s)
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(s.Err, "bitbricks: "+oneLine(ee.err.Error()))
		}
		return ee.code
	}
	fmt.Fprintln(s.Err, "bitbricks: "+oneLine(err.Error()))
	return bbsync.ExitCode(err)
}

// oneLine folds a message onto one line and cuts it to maxErrorLine
// characters: every error a user sees is one readable line, whatever input
// it quotes.
func oneLine(msg string) string {
	// Several errors (errors.Join puts one per line) stay apart: "a; b".
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			parts = append(parts, strings.TrimRight(l, ";"))
		}
	}
	msg = strings.Join(parts, "; ")
	if r := []rune(msg); len(r) > maxErrorLine {
		msg = string(r[:maxErrorLine]) + "…"
	}
	return msg
}

// maxErrorLine bounds an error line.
const maxErrorLine = 1000

// guard puts the one terminal gate (views.TerminalWriter: sanitised lines,
// credentials redacted) in front of stdout and stderr, once. rawOut keeps
// the ungated stdout for the one output that must print values: the
// emulator's own made-up credentials (`emulate`).
func (s *ioStreams) guard() {
	if _, done := s.Out.(*views.TerminalWriter); done {
		return
	}
	s.rawOut = s.Out
	s.Out = views.NewTerminalWriter(s.Out, s.ColorOut)
	errW := views.NewTerminalWriter(s.Err, false)
	errW.MaxLine = 2 * maxErrorLine
	s.Err = errW
	if s.Prompt != nil {
		s.Prompt = views.NewTerminalWriter(s.Prompt, false)
	}
}

// refuseCredentialArgs refuses a command line carrying a credential: it
// would stay in the shell history and the process list, and bitbricks never
// takes one there. The message shows the value redacted, never whole.
func refuseCredentialArgs(args []string) error {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--leaked="); ok && v != "true" && v != "false" {
			return errors.New("--leaked takes no value on the command line (it would stay in the shell history): pipe the token in, such as `pbpaste | bitbricks revoke --leaked --yes`, or paste it at the prompt on a terminal")
		}
		if what, ok := bbsync.LooksLikeCredential(a); ok {
			return fmt.Errorf("an argument looks like %s (%s): credentials are never taken from the command line, where they stay in the shell history; for a leaked token, pipe it in: `pbpaste | bitbricks revoke --leaked --yes`",
				what, bbsync.RedactCredentials(a))
		}
	}
	return nil
}

// globalFlags are the flags every command shares.
type globalFlags struct {
	config   string
	output   string
	readOnly bool
	// lockTimeout is how long a write waits for another writer (0: refuse at once).
	lockTimeout time.Duration
	// workspaces limit a run to some of the config's several workspaces.
	workspaces []string
}

func (g *globalFlags) configPath(s *ioStreams) string {
	if g.config != "" {
		return g.config
	}
	if p := s.Getenv("BITBRICKS_CONFIG"); p != "" {
		return p
	}
	return "bitbricks.yaml"
}

// readOnlyMode is --read-only or BITBRICKS_READ_ONLY.
func (g *globalFlags) readOnlyMode(s *ioStreams) bool {
	return bbsync.ReadOnly(g.readOnly, bbsync.Env(s.Getenv))
}

// Commands that change Databricks or Bitbucket say so in this annotation:
// mutatesAlways, or mutatesWithApply when only --apply makes them write. The
// read-only guard in the root command reads it, so a new mutating command is
// refused in read-only mode by adding the annotation.
const (
	mutatesKey       = "bitbricks/mutates"
	mutatesAlways    = "always"
	mutatesWithApply = "with --apply"
)

// refuseInReadOnly is the read-only guard: before any request, a command
// that would write refuses with exit code 3.
func refuseInReadOnly(s *ioStreams, g *globalFlags, cmd *cobra.Command) error {
	if !g.readOnlyMode(s) {
		return nil
	}
	if f := cmd.Flags().Lookup("dry-run"); f != nil && f.Value.String() == "true" {
		return nil // says what it would do, changes nothing
	}
	what := ""
	switch cmd.Annotations[mutatesKey] {
	case mutatesAlways:
		what = cmd.CommandPath()
	case mutatesWithApply:
		if f := cmd.Flags().Lookup("apply"); f != nil && f.Changed && f.Value.String() == "true" {
			what = cmd.CommandPath() + " --apply"
		}
	}
	if what == "" {
		return nil
	}
	return bbsync.GuardWrite(true, what)
}

func (g *globalFlags) json() (bool, error) {
	switch g.output {
	case "", "text":
		return false, nil
	case "json":
		return true, nil
	}
	return false, fmt.Errorf("--output %q: use text or json", g.output)
}

func newRootCmd(s *ioStreams) *cobra.Command {
	g := &globalFlags{}
	var sf syncFlags
	root := &cobra.Command{
		Use:   "bitbricks",
		Short: "Keep Databricks access in step with Bitbucket",
		Long: `bitbricks keeps Databricks group membership, entitlements and credentials in
step with Bitbucket groups.

Run without a command on a terminal, it opens the admin console: Bitbucket
groups beside the Databricks principals they map to, drift, and the age of
every token and secret. Headless, ` + "`bitbricks sync`" + ` prints the plan and
` + "`bitbricks sync --apply`" + ` applies it (for scheduled pipelines).

Try it without any account: ` + "`bitbricks demo`" + ` (or ` + "`bitbricks demo --headless`" + `).

Environment: BITBRICKS_CONFIG (the config file),
BITBRICKS_LOG (the console's log file), BITBRICKS_DEBUG=1 (debug logs and the
Databricks SDK's HTTP traces on stderr, with secret fields and Authorization
headers scrubbed). Credentials come only from the environment or a Databricks
profile, never from arguments: an argument that looks like one is refused.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
		Annotations:   map[string]string{mutatesKey: mutatesWithApply},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return refuseInReadOnly(s, g, cmd)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if sf.apply {
				return runSync(cmd.Context(), s, g, &sf)
			}
			return runConsole(cmd.Context(), s, g)
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&g.config, "config", "", "config file (default $BITBRICKS_CONFIG, else ./bitbricks.yaml)")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	pf.BoolVar(&g.readOnly, "read-only", false, "change nothing: commands that write refuse (exit 3), the console disables every key that changes something (also BITBRICKS_READ_ONLY=1)")
	pf.DurationVar(&g.lockTimeout, "lock-timeout", 0, "how long a command that writes waits for another writer to finish (default: refuse at once, exit 3)")
	pf.StringArrayVar(&g.workspaces, "workspace", nil, "limit the run to this workspace of databricks.workspaces (repeatable; default: all)")
	addSyncFlags(root, &sf)

	root.AddCommand(
		newSyncCmd(s, g),
		newTokensCmd(s, g),
		newRevokeCmd(s, g),
		newRotateCmd(s, g),
		newPipelinesCmd(s, g),
		newFederateCmd(s, g),
		newDemoCmd(s, g),
		newEmulateCmd(s, g),
		newBenchCmd(s, g),
		newConfigCmd(s, g),
		newAuditCmd(s, g),
		newUnlockCmd(s, g),
		newVersionCmd(s),
	)
	return root
}

func versionString() string {
	info, _ := debug.ReadBuildInfo()
	return describeVersion(version, commit, date, info)
}

// describeVersion says which bitbricks this is: the release build's stamp,
// else the module version `go install …@vX.Y.Z` records in the binary, with
// the commit a build from a checkout records.
func describeVersion(version, commit, date string, info *debug.BuildInfo) string {
	if version == "dev" && info != nil {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			version = v
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && commit == "" && len(s.Value) >= 12 {
				commit = s.Value[:12]
			}
		}
	}
	v := "bitbricks " + version
	if commit != "" {
		v += " (" + commit
		if date != "" {
			v += ", " + date
		}
		v += ")"
	}
	return v
}

func newVersionCmd(s *ioStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(s.Out, versionString())
			return nil
		},
	}
}

// quietSDK keeps the Databricks SDK's own warnings (such as a workspace
// without host metadata) off stderr unless BITBRICKS_DEBUG is set, before
// any command runs (run then points the SDK at the command's stderr).
// bitbricks reports every problem that matters itself, as one line.
func quietSDK() {
	bbsync.UseSDKLogger(views.NewTerminalWriter(os.Stderr, false), os.Getenv("BITBRICKS_DEBUG") != "")
}

// debugLog is where the engine's log records go in a headless command: to
// stderr with BITBRICKS_DEBUG set, else nowhere (every outcome that matters
// is reported as a sentence).
func debugLog(s *ioStreams) *slog.Logger {
	if s.Getenv("BITBRICKS_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
