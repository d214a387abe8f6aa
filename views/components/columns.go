package components

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// Fit pads or cuts s (which may hold ANSI styles) to exactly w cells.
func Fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := lipgloss.Width(s)
	switch {
	case n == w:
		return s
	case n < w:
		return s + strings.Repeat(" ", w-n)
	}
	return ansi.Truncate(s, w, "…")
}

// FitLeft pads s on the left (right-aligns it) or cuts it to w cells.
func FitLeft(s string, w int) string {
	n := lipgloss.Width(s)
	if n < w {
		return strings.Repeat(" ", w-n) + s
	}
	return Fit(s, w)
}

// Column is one column of a row layout.
type Column struct {
	Width int  // preferred width; the minimum for a Flex column
	Flex  bool // takes a share of the width left over
	Max   int  // a Flex column grows no wider than this; 0: no limit
	Drop  int  // when the row does not fit, columns with the highest Drop go first; 0 never
}

// Layout gives each column a width so that the columns and the gaps between them fill
// total cells. Columns that do not fit are dropped (width 0), highest Drop first; the
// flex columns share what is left. Columns of width 0 and their gaps are skipped by
// Join.
func Layout(total, gap int, cols []Column) []int {
	w := make([]int, len(cols))
	on := make([]bool, len(cols))
	for i := range cols {
		on[i] = true
	}
	need := func() int {
		n, k := 0, 0
		for i, c := range cols {
			if on[i] {
				n += c.Width
				k++
			}
		}
		return n + gap*max(k-1, 0)
	}
	for need() > total {
		drop := -1
		for i, c := range cols {
			if on[i] && c.Drop > 0 && (drop < 0 || c.Drop >= cols[drop].Drop) {
				drop = i
			}
		}
		if drop < 0 {
			break
		}
		on[drop] = false
	}
	spare := total - need()
	flex := 0
	for i, c := range cols {
		if on[i] && c.Flex {
			flex++
		}
	}
	for i, c := range cols {
		if on[i] {
			w[i] = c.Width
		}
	}
	// Share the spare width among the flex columns, capped ones first so what they
	// cannot take goes to the others.
	order := make([]int, 0, flex)
	for i, c := range cols {
		if on[i] && c.Flex && c.Max > 0 {
			order = append(order, i)
		}
	}
	for i, c := range cols {
		if on[i] && c.Flex && c.Max <= 0 {
			order = append(order, i)
		}
	}
	for k, i := range order {
		if spare <= 0 {
			break
		}
		share := spare / (len(order) - k)
		if m := cols[i].Max; m > 0 {
			share = min(share, max(m-w[i], 0))
		}
		w[i] += share
		spare -= share
	}
	if spare < 0 { // still too wide: cut the flex columns, then the last ones
		for i := len(w) - 1; i >= 0 && spare < 0; i-- {
			if w[i] > 1 {
				cut := min(w[i]-1, -spare)
				w[i] -= cut
				spare += cut
			}
		}
	}
	return w
}

// Join fits each cell to its width and joins the cells with gap spaces, skipping
// dropped columns.
func Join(widths []int, gap int, cells ...string) string {
	var b strings.Builder
	first := true
	for i, c := range cells {
		if i >= len(widths) || widths[i] <= 0 {
			continue
		}
		if !first {
			b.WriteString(strings.Repeat(" ", gap))
		}
		first = false
		b.WriteString(Fit(c, widths[i]))
	}
	return b.String()
}
