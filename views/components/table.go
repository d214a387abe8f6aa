package components

import (
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// TableKeyMap moves the cursor of a Table.
type TableKeyMap struct {
	Up, Down, PageUp, PageDown, Home, End key.Binding
}

// Target is where km moves a position pos in a list whose page is page rows
// and whose last position is last; ok is false for a key that does not move.
// The caller clamps.
func (k TableKeyMap) Target(km tea.KeyMsg, pos, page, last int) (to int, ok bool) {
	switch {
	case key.Matches(km, k.Up):
		return pos - 1, true
	case key.Matches(km, k.Down):
		return pos + 1, true
	case key.Matches(km, k.PageUp):
		return pos - page, true
	case key.Matches(km, k.PageDown):
		return pos + page, true
	case key.Matches(km, k.Home):
		return 0, true
	case key.Matches(km, k.End):
		return last, true
	}
	return pos, false
}

// DefaultTableKeyMap is the usual cursor movement.
func DefaultTableKeyMap() TableKeyMap {
	return TableKeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn", "page down")),
		Home:     key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "first")),
		End:      key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "last")),
	}
}

// ShortHelp implements help.KeyMap.
func (k TableKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{withHelp(k.Up, "↑↓", "move")}
}

// FullHelp implements help.KeyMap.
func (k TableKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Home, k.End}}
}

func withHelp(b key.Binding, k, desc string) key.Binding {
	b.SetHelp(k, desc)
	return b
}

// Table is a windowed, filterable list of items keyed by ID. Rows are formatted on
// demand, only for the visible window, and cached until the items or the width change,
// so moving the cursor over 30,000 rows formats a screenful at most.
type Table[T any] struct {
	Keys TableKeyMap

	st     *Styles
	id     func(T) string
	text   func(T) string      // what the filter searches
	format func(T, int) string // one row at a width, without the cursor column

	items  []T
	hay    []string // lower-cased text, built on the first filter
	lines  []string // formatted rows by item index; shared by copies on purpose
	cached []bool
	view   []int // item indices that pass the filter, in order

	cursor, offset int // positions in view
	width, height  int
	header, empty  string
	headerLine     string // the header drawn, cached
	filter         string
	focused        bool
}

// NewTable returns an empty table; id keys the items, text is what the filter
// searches, format draws one row at a width.
func NewTable[T any](st *Styles, id, text func(T) string, format func(T, int) string) Table[T] {
	return Table[T]{Keys: DefaultTableKeyMap(), st: st, id: id, text: text, format: format, empty: "nothing to show"}
}

// Init implements the component contract.
func (t Table[T]) Init() tea.Cmd { return nil }

// SetItems replaces the items, keeping the cursor on the same ID when it is still there.
func (t *Table[T]) SetItems(items []T) {
	keep, ok := t.SelectedID()
	t.items = items
	t.hay = nil
	t.lines = make([]string, len(items))
	t.cached = make([]bool, len(items))
	t.refilter()
	if ok {
		t.SelectID(keep)
	}
}

// Items are all the items, filtered or not.
func (t Table[T]) Items() []T { return t.items }

// Invalidate drops the formatted rows, for when what they show changed.
func (t *Table[T]) Invalidate() { clear(t.cached) }

// InvalidateSelected drops the cursor row's formatting.
func (t *Table[T]) InvalidateSelected() {
	if i := t.SelectedIndex(); i >= 0 {
		t.cached[i] = false
	}
}

// SetHeader sets a column header line drawn above the rows.
func (t *Table[T]) SetHeader(h string) {
	t.header = h
	t.headerLine = t.st.Text.Muted.Render(Fit("  "+h, t.width))
}

// SetEmpty sets what the table says when no row passes the filter.
func (t *Table[T]) SetEmpty(s string) { t.empty = s }

// SetSize implements the component contract.
func (t *Table[T]) SetSize(w, h int) {
	if w != t.width {
		clear(t.cached)
	}
	t.width, t.height = w, h
	t.SetHeader(t.header)
	t.clamp()
}

// RowWidth is the width a format function is called with.
func (t Table[T]) RowWidth() int { return max(t.width-2, 0) }

// Focus implements the component contract.
func (t *Table[T]) Focus() { t.focused = true }

// Blur implements the component contract.
func (t *Table[T]) Blur() { t.focused = false }

// Focused reports whether the table takes keys.
func (t Table[T]) Focused() bool { return t.focused }

// SetFilter keeps only the items whose text contains q, ignoring case.
func (t *Table[T]) SetFilter(q string) {
	keep, ok := t.SelectedID()
	t.filter = strings.ToLower(strings.TrimSpace(q))
	t.refilter()
	if ok {
		t.SelectID(keep)
	}
}

// Filter is the current filter.
func (t Table[T]) Filter() string { return t.filter }

func (t *Table[T]) refilter() {
	t.view = t.view[:0]
	if t.filter != "" && t.hay == nil {
		t.hay = make([]string, len(t.items))
		for i, it := range t.items {
			t.hay[i] = strings.ToLower(t.text(it))
		}
	}
	for i := range t.items {
		if t.filter == "" || strings.Contains(t.hay[i], t.filter) {
			t.view = append(t.view, i)
		}
	}
	t.clamp()
}

// Len is the number of rows that pass the filter.
func (t Table[T]) Len() int { return len(t.view) }

// Cursor is the cursor's position among the visible rows.
func (t Table[T]) Cursor() int { return t.cursor }

// SelectedIndex is the item index under the cursor, -1 when there is none.
func (t Table[T]) SelectedIndex() int {
	if t.cursor < 0 || t.cursor >= len(t.view) {
		return -1
	}
	return t.view[t.cursor]
}

// Selected is the item under the cursor.
func (t Table[T]) Selected() (T, bool) {
	if i := t.SelectedIndex(); i >= 0 {
		return t.items[i], true
	}
	var zero T
	return zero, false
}

// SelectedID is the ID of the item under the cursor.
func (t Table[T]) SelectedID() (string, bool) {
	it, ok := t.Selected()
	if !ok {
		return "", false
	}
	return t.id(it), true
}

// SelectID moves the cursor to the row with id, if it is visible.
func (t *Table[T]) SelectID(id string) bool {
	for pos, i := range t.view {
		if t.id(t.items[i]) == id {
			t.MoveTo(pos)
			return true
		}
	}
	return false
}

// MoveTo puts the cursor on visible row pos, scrolling as little as possible.
func (t *Table[T]) MoveTo(pos int) {
	t.cursor = pos
	t.clamp()
}

func (t *Table[T]) rows() int {
	h := t.height
	if t.header != "" {
		h--
	}
	return max(h, 1)
}

func (t *Table[T]) clamp() {
	t.cursor = max(min(t.cursor, len(t.view)-1), 0)
	rows := t.rows()
	if t.cursor < t.offset {
		t.offset = t.cursor
	}
	if t.cursor >= t.offset+rows {
		t.offset = t.cursor - rows + 1
	}
	t.offset = max(min(t.offset, len(t.view)-rows), 0)
}

// Update moves the cursor when the table is focused.
func (t Table[T]) Update(msg tea.Msg) (Table[T], tea.Cmd) {
	km, ok := msg.(tea.KeyMsg)
	if !ok || !t.focused {
		return t, nil
	}
	if to, ok := t.Keys.Target(km, t.cursor, t.rows(), len(t.view)-1); ok {
		t.MoveTo(to)
	}
	return t, nil
}

// View draws the header and the visible window of rows, exactly height lines of width
// cells. The cursor row is marked by a glyph (▸ focused, › not), not only a style.
func (t Table[T]) View() string { return strings.Join(t.Lines(), "\n") }

// Lines is View as lines, each exactly the table's width, for a parent that frames them.
func (t Table[T]) Lines() []string {
	if t.width <= 0 || t.height <= 0 {
		return nil
	}
	out := make([]string, 0, t.height)
	if t.header != "" {
		out = append(out, t.headerLine)
	}
	if len(t.view) == 0 {
		// The empty message says why there is nothing: wrapped, not cut.
		for _, l := range wrapHanging("  "+t.empty, t.width) {
			if len(out) == t.height {
				break
			}
			out = append(out, t.st.Text.Muted.Render(Fit(l, t.width)))
		}
	}
	rw := t.RowWidth()
	for pos := t.offset; pos < len(t.view) && len(out) < t.height; pos++ {
		i := t.view[pos]
		if !t.cached[i] { // rows are cached with the cursor column's two spaces
			t.lines[i] = "  " + Fit(t.format(t.items[i], rw), rw)
			t.cached[i] = true
		}
		switch {
		case pos != t.cursor:
			out = append(out, t.lines[i])
		case t.focused:
			out = append(out, t.st.Text.Accent.Render(GlyphCursor)+" "+t.st.Cursor.Render(t.lines[i][2:]))
		default:
			out = append(out, GlyphCursorDim+" "+t.lines[i][2:])
		}
	}
	if len(out) < t.height {
		blank := strings.Repeat(" ", t.width)
		for len(out) < t.height {
			out = append(out, blank)
		}
	}
	return out
}

// Position says where the cursor is, like "12/300", for titles.
func (t Table[T]) Position() string {
	if len(t.view) == 0 {
		return "0"
	}
	return strconv.Itoa(t.cursor+1) + "/" + strconv.Itoa(len(t.view))
}

// ShortHelp implements help.KeyMap.
func (t Table[T]) ShortHelp() []key.Binding { return t.Keys.ShortHelp() }

// FullHelp implements help.KeyMap.
func (t Table[T]) FullHelp() [][]key.Binding { return t.Keys.FullHelp() }
