package tui

// filterPane is one of the two filterable panes of a view (Mappings: groups
// and members; Plan: changes and findings).
type filterPane interface {
	SetFilter(q string)
	Filter() string
	Focus()
	Blur()
}

// focusedPane is the pane focus (0 or 1) points at.
func focusedPane(focus int, first, second filterPane) filterPane {
	if focus == 0 {
		return first
	}
	return second
}

// switchPane moves the focus to the other pane and returns the new focus.
func switchPane(focus int, first, second filterPane) int {
	focus = 1 - focus
	focusedPane(focus, first, second).Focus()
	focusedPane(1-focus, first, second).Blur()
	return focus
}
