// Package views renders plans and credential inventories for people (text)
// and machines (JSON). The headless renderers here use plain ANSI codes, and
// only when asked: the caller decides colour from isatty and NO_COLOR.
package views

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// TextOptions tune the text renderers.
type TextOptions struct {
	// Color adds ANSI colour; glyphs are there either way.
	Color bool
	// Workspaces are the run's workspaces when the config lists several:
	// the text plan then has a section for each, even for one
	// (`--workspace dev`), so the plan says where it acts.
	Workspaces []string
}

// ANSI styles used by the text renderers.
const (
	ansiReset   = "\x1b[0m"
	ansiBold    = "\x1b[1m"
	ansiRed     = "\x1b[31m"
	ansiGreen   = "\x1b[32m"
	ansiYellow  = "\x1b[33m"
	ansiMagenta = "\x1b[35m"
	ansiCyan    = "\x1b[36m"
	ansiDim     = "\x1b[2m"
)

// paint wraps s in style when colour is on.
func (o TextOptions) paint(style, s string) string {
	if !o.Color || style == "" || s == "" {
		return s
	}
	return style + s + ansiReset
}

// textWriter remembers the first write error so renderers can write freely.
type textWriter struct {
	w   io.Writer
	err error
}

func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// pad right-pads plain text s to width runes.
func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

func plural(n int, one, many string) string { return Count(n, one, many) }

// Sanitize makes text that came from Bitbucket or Databricks (display names,
// group names, comments, reasons built from them) safe to draw on a terminal:
// anyone can set a display name or a token comment, and an escape sequence
// in one could recolour, move the cursor, retitle the window or hide what a
// confirmation says. Escape sequences (CSI, OSC, DCS, SOS, PM, APC and the
// short ESC forms, from ESC or their C1 introducers) go whole; any other C0
// or C1 control character and DEL go too, except that a tab or line break
// becomes a space, so a value stays on its line. Bidirectional controls
// (U+202A–U+202E, U+2066–U+2069, and the marks U+200E, U+200F, U+061C),
// which can make a terminal show text in another order than it is read, go
// too. Other text, ordinary Unicode included, comes back as it is.
func Sanitize(s string) string { return sanitize(s, false) }

// sanitize is Sanitize; with keepSGR, colour sequences (CSI … m, which can
// only change colour and weight) are kept, for text bitbricks coloured itself.
func sanitize(s string, keepSGR bool) string {
	if !hasControl(s) {
		return s
	}
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == 0x1b:
			end := skipEscape(rs, i)
			if keepSGR && isSGR(rs[i:end+1]) {
				b.WriteString(string(rs[i : end+1]))
			}
			i = end
		case r == 0x9b: // C1 CSI
			i = skipCSI(rs, i+1)
		case r == 0x90 || r == 0x98 || r == 0x9d || r == 0x9e || r == 0x9f: // C1 DCS, SOS, OSC, PM, APC
			i = skipString(rs, i+1)
		case r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r':
			b.WriteByte(' ')
		case isControl(r) || isBidi(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isSGR reports whether seq (from ESC to its final byte) is a Select Graphic
// Rendition sequence: ESC [ digits and semicolons m.
func isSGR(seq []rune) bool {
	if len(seq) < 3 || seq[1] != '[' || seq[len(seq)-1] != 'm' {
		return false
	}
	for _, r := range seq[2 : len(seq)-1] {
		if (r < '0' || r > '9') && r != ';' {
			return false
		}
	}
	return true
}

// isBidi reports a bidirectional formatting character.
func isBidi(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}

func isControl(r rune) bool { return r < 0x20 || r >= 0x7f && r < 0xa0 }

func hasControl(s string) bool {
	for _, r := range s {
		if isControl(r) || isBidi(r) {
			return true
		}
	}
	return false
}

// skipEscape returns the index of the last rune of the escape sequence that
// starts with the ESC at rs[i].
func skipEscape(rs []rune, i int) int {
	if i+1 >= len(rs) {
		return i
	}
	switch rs[i+1] {
	case '[':
		return skipCSI(rs, i+2)
	case ']', 'P', 'X', '^', '_':
		return skipString(rs, i+2)
	}
	j := i + 1
	for j < len(rs) && rs[j] >= 0x20 && rs[j] <= 0x2f { // intermediates
		j++
	}
	if j < len(rs) && rs[j] >= 0x30 && rs[j] <= 0x7e { // the final byte
		return j
	}
	return j - 1 // a broken sequence: what follows is read as text
}

// skipCSI returns the index of the final byte of a control sequence whose
// parameters start at rs[j].
func skipCSI(rs []rune, j int) int {
	for ; j < len(rs); j++ {
		switch r := rs[j]; {
		case r >= 0x40 && r <= 0x7e:
			return j
		case r < 0x20 || r > 0x7e:
			return j - 1 // not part of the sequence
		}
	}
	return len(rs) - 1
}

// skipString returns the index of the terminator (BEL, ST or ESC \) of a
// control string whose body starts at rs[j]; an unterminated one runs to the
// end of the text.
func skipString(rs []rune, j int) int {
	for ; j < len(rs); j++ {
		switch rs[j] {
		case 0x07, 0x9c:
			return j
		case 0x1b:
			if j+1 < len(rs) && rs[j+1] == '\\' {
				return j + 1
			}
		}
	}
	return len(rs) - 1
}
