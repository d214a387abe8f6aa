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

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
