package config

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Remap returns src with mappings[index].databricks_group set to newDatabricksGroup,
// keeping every other byte: comments, spacing and quoting style.
//
// The value is located with goccy/go-yaml's path API and, when it is a one-piece scalar,
// replaced in place in src; goccy's printer (ReplaceWithReader + file.String) would
// re-space line comments and drop the one on the replaced line. Other shapes (an empty
// value, a block scalar) fall back to the printer. The result is re-parsed and checked.
func Remap(src []byte, index int, newDatabricksGroup string) ([]byte, error) {
	group := newDatabricksGroup
	if strings.TrimSpace(group) == "" || strings.ContainsAny(group, "\r\n") {
		return nil, fmt.Errorf("re-map: the Databricks group name must be one non-empty line")
	}
	if index < 0 {
		return nil, fmt.Errorf("re-map: no mapping %d", index)
	}
	path, err := yaml.PathString(fmt.Sprintf("$.mappings[%d].databricks_group", index))
	if err != nil {
		return nil, fmt.Errorf("re-map: %w", err)
	}
	file, err := parser.ParseBytes(src, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("re-map: %w", syntaxError("config", err))
	}
	node, err := path.FilterFile(file)
	if err != nil || node == nil {
		return nil, fmt.Errorf("re-map: the config has no mappings[%d].databricks_group", index)
	}
	var candidates [][]byte
	if str, ok := node.(*ast.StringNode); ok {
		raw := strings.TrimSpace(str.GetToken().Origin)
		start := byteOffset(src, str.GetToken().Position.Line, str.GetToken().Position.Column)
		if start >= 0 && raw != "" && bytes.HasPrefix(src[start:], []byte(raw)) {
			for _, q := range quoteLike(raw, group) {
				out := make([]byte, 0, len(src)+len(q))
				out = append(out, src[:start]...)
				out = append(out, q...)
				out = append(out, src[start+len(raw):]...)
				candidates = append(candidates, out)
			}
		}
	}
	for _, out := range candidates {
		if remapped(out, path, group) {
			return out, nil
		}
	}
	if err := path.ReplaceWithReader(file, strings.NewReader(doubleQuote(group))); err != nil {
		return nil, fmt.Errorf("re-map mappings[%d]: %w", index, err)
	}
	out := []byte(file.String())
	if !remapped(out, path, group) {
		return nil, fmt.Errorf("re-map mappings[%d]: could not rewrite the value safely; edit the file by hand", index)
	}
	return out, nil
}

// remapped reports whether out parses and holds group at path.
func remapped(out []byte, path *yaml.Path, group string) bool {
	f, err := parser.ParseBytes(out, 0)
	if err != nil {
		return false
	}
	n, err := path.FilterFile(f)
	if err != nil || n == nil {
		return false
	}
	s, ok := n.(*ast.StringNode)
	return ok && s.Value == group
}

// quoteLike writes s in the quoting style of the original value raw, then, in case that
// style cannot hold s, double-quoted.
func quoteLike(raw, s string) []string {
	switch raw[0] {
	case '"':
		return []string{doubleQuote(s)}
	case '\'':
		return []string{"'" + strings.ReplaceAll(s, "'", "''") + "'", doubleQuote(s)}
	}
	return []string{s, doubleQuote(s)}
}

func doubleQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\t", `\t`).Replace(s) + `"`
}

// byteOffset converts a 1-based line and character column to a byte offset in src.
func byteOffset(src []byte, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(src[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	for c := 1; c < col; c++ {
		if off >= len(src) || src[off] == '\n' {
			return -1
		}
		_, size := utf8.DecodeRune(src[off:])
		off += size
	}
	return off
}
