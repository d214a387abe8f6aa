package tui

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestEveryViewIsListedOnceAndReachedEverywhere fails when a view is in one place
// but not another: its number key, the tab bar, the help, the filter, the layout,
// the detail pane and its own file all come from newTabs.
func TestEveryViewIsListedOnceAndReachedEverywhere(t *testing.T) {
	b := newFixture(t)
	b.event("add_member", "add_member/de-team/bob@acme.com", nil) // a row for the audit view
	m := loaded(t, b, 200, 40, false)
	if got, want := m.keys.Views.Keys(), len(m.tabs); len(got) != want || got[want-1] != strconv.Itoa(want) {
		t.Errorf("the view keys are %q for %d views", got, want)
	}
	seen := map[reflect.Type]bool{}
	for i, v := range m.tabs {
		typ := reflect.TypeOf(v)
		name, short := v.Title()
		if seen[typ] {
			t.Errorf("%s is listed twice", typ)
		}
		seen[typ] = true
		m = keys(t, m, strconv.Itoa(i+1))
		if m.active != i {
			t.Errorf("key %d shows view %d, want %s", i+1, m.active, name)
			continue
		}
		if tabs := m.renderTabs(); !strings.Contains(tabs, fmt.Sprintf("[%d %s", i+1, name)) {
			t.Errorf("the tab bar does not show %s as active: %q", name, tabs)
		}
		if short == "" || len(short) > len(name) {
			t.Errorf("%s: short name %q", name, short)
		}
		if help := m.helpText(); !strings.Contains(help, "Keys in "+name) || !strings.Contains(help, fmt.Sprintf("%-10d %s", i+1, name)) {
			t.Errorf("the help of %s does not name it", name)
		}
		if footer := m.footerView(); !strings.Contains(footer, v.ShortHelp()[0].Help().Desc) {
			t.Errorf("the footer of %s lacks its keys: %q", name, footer)
		}
		if lines := strings.Count(v.View(), "\n") + 1; lines != m.bodyH {
			t.Errorf("%s draws %d lines in a body of %d: layout did not size it", name, lines, m.bodyH)
		}
		m = keys(t, m, append(append([]string{"/"}, strings.Split("zz", "")...), "enter")...)
		if v.Filter() != "zz" || !m.keys.ClearFilter.Enabled() {
			t.Errorf("%s: the filter did not reach the view (%q)", name, v.Filter())
		}
		m = keys(t, m, "esc")
		if v.Filter() != "" {
			t.Errorf("%s: esc did not clear the filter", name)
		}
		m = keys(t, m, "enter")
		if m.modal != modalPager {
			t.Errorf("%s: enter opened no detail pane", name)
		}
		m = keys(t, m, "esc")
	}
	viewFiles(t, seen)
}

// viewFiles checks that each listed view is declared in a view_*.go file of its
// own, and that every view_*.go file declares a listed view.
func viewFiles(t *testing.T, listed map[reflect.Type]bool) {
	t.Helper()
	files, err := filepath.Glob("view_*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no view files: %v", err)
	}
	names := map[string]bool{}
	for typ := range listed {
		names[typ.Elem().Name()] = true
	}
	declared := map[string]string{} // view type -> file
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		var views []string
		for _, d := range file.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, s := range g.Specs {
					if n := s.(*ast.TypeSpec).Name.Name; names[n] {
						views = append(views, n)
						declared[n] = f
					}
				}
			}
		}
		if len(views) != 1 {
			t.Errorf("%s declares the views %q; want exactly one view, listed in newTabs", f, views)
		}
	}
	for n := range names {
		if declared[n] == "" {
			t.Errorf("the view %s is not declared in a view_*.go file of its own", n)
		}
	}
	if got := slices.Sorted(func(yield func(string) bool) {
		for n := range declared {
			if !yield(n) {
				return
			}
		}
	}); len(got) != len(names) {
		t.Errorf("view files declare %q, newTabs lists %d views", got, len(names))
	}
}
