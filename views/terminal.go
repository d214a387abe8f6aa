package views

import (
	"io"
	"strings"
	gosync "sync"

	"github.com/bitbricks/bitbricks/sync"
)

// TerminalWriter is the one gate between bitbricks and a terminal (or a
// pipeline log): every line written through it is sanitised (Sanitize:
// controls, escape sequences and bidirectional controls go, line breaks
// stay) and has every credential-shaped value redacted
// (sync.RedactCredentials). With color, the colour sequences the renderers
// add are kept; names and reasons are sanitised before they are coloured, so
// none of theirs survive.
//
// Each Write is treated whole (fmt and the JSON encoder write a line or a
// document at once); it reports len(p) written so callers see no short write.
type TerminalWriter struct {
	mu    gosync.Mutex
	w     io.Writer
	color bool
	// MaxLine, when positive, cuts longer lines to that many runes (stderr:
	// an error quoting a huge input stays one readable line).
	MaxLine int
}

// NewTerminalWriter wraps w; color keeps bitbricks' own colour sequences.
func NewTerminalWriter(w io.Writer, color bool) *TerminalWriter {
	return &TerminalWriter{w: w, color: color}
}

func (t *TerminalWriter) Write(p []byte) (int, error) {
	lines := strings.Split(string(p), "\n")
	for i, l := range lines {
		l = sync.RedactCredentials(sanitize(l, t.color))
		if t.MaxLine > 0 {
			if r := []rune(l); len(r) > t.MaxLine {
				l = string(r[:t.MaxLine]) + "…"
			}
		}
		lines[i] = l
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := io.WriteString(t.w, strings.Join(lines, "\n")); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ShowFilter is how a filter is shown (pane titles): sanitised, and masked
// when it looks like a credential, since a value pasted into a filter by
// mistake must not stay on the screen.
func ShowFilter(q string) string {
	if _, ok := sync.LooksLikeCredential(q); ok {
		return "(credential hidden)"
	}
	return Sanitize(q)
}

// LooksLikeCredential reports whether s holds a credential-shaped value
// (sync.LooksLikeCredential), for the console's inputs.
func LooksLikeCredential(s string) (what string, ok bool) { return sync.LooksLikeCredential(s) }
