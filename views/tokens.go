package views

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/sync"
)

// TokensOptions tune RenderTokensText.
type TokensOptions struct {
	TextOptions
	Now time.Time // the clock expiry and last use are measured against
}

// QuoteComment shows a credential's comment quoted, "" when it has none.
// Anyone who creates a token writes its comment, so quoting (Go syntax)
// also keeps control characters and escape sequences in it off the terminal:
// they show escaped (a comment is evidence), where Sanitize drops them.
func QuoteComment(comment string) string {
	if comment == "" {
		return ""
	}
	return fmt.Sprintf("%q", comment)
}

// flagStyle is the ANSI colour of a credential flag: red past policy, amber
// for warnings, dim for information.
func flagStyle(flag string) string {
	switch flag {
	case sync.FlagOverAge, sync.FlagOverWorkspaceMax, sync.FlagOrphaned:
		return ansiRed
	case sync.FlagBound:
		return ansiDim
	}
	return ansiYellow
}

// RenderTokensText writes the credential inventory as a table, in the order
// given (Inventory sorts by age). The id column is there for `revoke --token-id`.
func RenderTokensText(w io.Writer, list []sync.CredentialStatus, opts TokensOptions) error {
	t := &textWriter{w: w}
	if len(list) == 0 {
		t.printf("No credentials.\n")
		return t.err
	}
	rows := [][]string{{"ID", "OWNER", "KIND", "COMMENT", "AGE", "EXPIRES", "LAST USED", "FLAGS"}}
	for _, s := range list {
		rows = append(rows, []string{Sanitize(s.ID), OwnerLabel(s.Owner, s.OwnerID), KindName(s.Kind), QuoteComment(s.Comment), Age(s.Age),
			Expiry(s.Expiry, opts.Now), LastUsed(s.LastUsed, opts.Now), ""})
	}
	ageCol := 4 // right-aligned
	// With several workspaces, each credential's workspace comes first.
	if slices.ContainsFunc(list, func(s sync.CredentialStatus) bool { return s.Workspace != "" }) {
		rows[0] = append([]string{"WORKSPACE"}, rows[0]...)
		for i, s := range list {
			rows[i+1] = append([]string{CredentialWorkspace(s)}, rows[i+1]...)
		}
		ageCol++
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], len([]rune(cell)))
		}
	}
	for i, r := range rows {
		var b strings.Builder
		for j, cell := range r[:len(r)-1] {
			if j == ageCol {
				cell = strings.Repeat(" ", widths[j]-len([]rune(cell))) + cell
			}
			b.WriteString(pad(cell, widths[j]) + "  ")
		}
		if i == 0 {
			t.printf("%s\n", opts.paint(ansiBold, b.String()+r[len(r)-1]))
			continue
		}
		flags := list[i-1].Flags
		painted := make([]string, len(flags))
		for k, f := range flags {
			painted[k] = opts.paint(flagStyle(f), f)
		}
		t.printf("%s\n", strings.TrimRight(b.String()+strings.Join(painted, " "), " "))
	}
	return t.err
}

type tokensJSON struct {
	FormatVersion string           `json:"format_version"`
	GeneratedAt   string           `json:"generated_at"`
	Credentials   []credentialJSON `json:"credentials"`
	// Problems are the sources that could not be read: the list may be incomplete.
	Problems []sync.Problem `json:"problems"`
}

type credentialJSON struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`
	Owner     string   `json:"owner"`
	OwnerType string   `json:"owner_type"`
	Comment   string   `json:"comment"`
	Created   string   `json:"created"`
	Expiry    string   `json:"expiry"`    // "" when it never expires
	LastUsed  string   `json:"last_used"` // "" when never used
	AgeDays   int      `json:"age_days"`
	Flags     []string `json:"flags"`
	Workspace string   `json:"workspace,omitempty"` // with several workspaces
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// RenderTokensJSON writes the credential inventory as JSON. Only metadata:
// credential values never reach these types.
// problems are the sources that could not be read (always present, may be empty).
func RenderTokensJSON(w io.Writer, list []sync.CredentialStatus, problems []sync.Problem, now time.Time) error {
	doc := tokensJSON{FormatVersion: FormatVersion, GeneratedAt: now.UTC().Format(time.RFC3339), Credentials: []credentialJSON{},
		Problems: append([]sync.Problem{}, problems...)}
	for _, s := range list {
		doc.Credentials = append(doc.Credentials, credentialJSON{
			ID: s.ID, Kind: string(s.Kind), Owner: s.Owner, OwnerType: string(s.OwnerType), Comment: s.Comment,
			Created: rfc3339(s.Created), Expiry: rfc3339(s.Expiry), LastUsed: rfc3339(s.LastUsed),
			AgeDays: int(s.Age / day), Flags: append([]string{}, s.Flags...), Workspace: s.Workspace,
		})
	}
	return writeJSON(w, doc)
}

// CredentialWorkspace is where a credential lives, for a workspace column:
// a token in its workspace; an OAuth secret is the account's ("(account)")
// and an Atlassian API token the organisation's ("-"), whichever
// workspace's read listed them.
func CredentialWorkspace(s sync.CredentialStatus) string {
	switch s.Kind {
	case sync.CredentialOAuthSecret:
		return "(account)"
	case sync.CredentialAtlassianToken:
		return "-"
	}
	return Sanitize(s.Workspace)
}
