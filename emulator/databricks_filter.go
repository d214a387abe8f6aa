package emulator

import (
	"errors"
	"fmt"
	"strings"
)

// filterNode is a parsed SCIM filter: a logical node (and, or, not) or a
// comparison of an attribute path with a value (eq, ne, co, sw, ew, pr).
type filterNode struct {
	op          string
	left, right *filterNode // right is nil for not
	path        []string    // lower-case attribute path, e.g. [emails value]
	value       string
}

// parseFilter parses the filter grammar the service accepts: comparisons
// joined by and/or, not, and parentheses; string values in double quotes.
// Filters of more than scimMaxNodes nodes are refused, as the service does.
func parseFilter(s string) (*filterNode, error) {
	toks, err := tokenizeFilter(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("invalid filter %q: unexpected %q", s, p.toks[p.pos].text)
	}
	if p.nodes > scimMaxNodes {
		return nil, fmt.Errorf("filter has %d nodes; at most %d are allowed", p.nodes, scimMaxNodes)
	}
	return n, nil
}

type filterToken struct {
	text   string
	quoted bool
}

func tokenizeFilter(s string) ([]filterToken, error) {
	var toks []filterToken
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')':
			toks = append(toks, filterToken{text: string(c)})
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, errors.New("invalid filter: unterminated string")
			}
			toks = append(toks, filterToken{text: b.String(), quoted: true})
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t()\"", rune(s[j])) {
				j++
			}
			toks = append(toks, filterToken{text: s[i:j]})
			i = j
		}
	}
	return toks, nil
}

type filterParser struct {
	toks  []filterToken
	pos   int
	nodes int
}

func (p *filterParser) peekWord(w string) bool {
	return p.pos < len(p.toks) && !p.toks[p.pos].quoted && strings.EqualFold(p.toks[p.pos].text, w)
}

func (p *filterParser) binary(op string, next func() (*filterNode, error)) (*filterNode, error) {
	left, err := next()
	for err == nil && p.peekWord(op) {
		p.pos++
		var right *filterNode
		if right, err = next(); err == nil {
			p.nodes++
			left = &filterNode{op: op, left: left, right: right}
		}
	}
	return left, err
}

func (p *filterParser) or() (*filterNode, error)  { return p.binary("or", p.and) }
func (p *filterParser) and() (*filterNode, error) { return p.binary("and", p.unary) }

func (p *filterParser) unary() (*filterNode, error) {
	switch {
	case p.peekWord("not"):
		p.pos++
		n, err := p.unary()
		p.nodes++
		return &filterNode{op: "not", left: n}, err
	case p.peekWord("("):
		p.pos++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.peekWord(")") {
			return nil, errors.New("invalid filter: missing )")
		}
		p.pos++
		return n, nil
	}
	if p.pos+1 >= len(p.toks) || p.toks[p.pos].quoted {
		// The service's words (databricks/databricks-sdk-py#440, test_scim_error_unmarshall).
		return nil, errors.New("Given filter operator is not supported.")
	}
	attr, op := p.toks[p.pos].text, strings.ToLower(p.toks[p.pos+1].text)
	p.pos += 2
	p.nodes++
	n := &filterNode{op: op, path: strings.Split(strings.ToLower(attr), ".")}
	switch op {
	case "pr":
		return n, nil
	case "eq", "ne", "co", "sw", "ew":
	default:
		return nil, fmt.Errorf("Given filter operator is not supported: %q.", op)
	}
	if p.pos >= len(p.toks) {
		return nil, fmt.Errorf("invalid filter: %s %s needs a value", attr, op)
	}
	n.value = p.toks[p.pos].text
	p.pos++
	return n, nil
}

// attrs lists the top-level attributes the filter reads, so resources are
// rendered with only those.
func (n *filterNode) attrs() map[string]bool {
	out := map[string]bool{"id": true}
	var walk func(*filterNode)
	walk = func(n *filterNode) {
		if n == nil {
			return
		}
		if n.path != nil {
			out[n.path[0]] = true
		}
		walk(n.left)
		walk(n.right)
	}
	walk(n)
	return out
}

// match evaluates the filter against a rendered resource. Values compare
// case-insensitively (as the service does for userName and displayName),
// except ids.
func (n *filterNode) match(res map[string]any) bool {
	switch n.op {
	case "and":
		return n.left.match(res) && n.right.match(res)
	case "or":
		return n.left.match(res) || n.right.match(res)
	case "not":
		return !n.left.match(res)
	}
	leaves := resolvePath(res, n.path)
	if n.op == "pr" {
		return len(leaves) > 0
	}
	if n.op == "ne" {
		return !(&filterNode{op: "eq", path: n.path, value: n.value}).match(res)
	}
	exact := n.path[len(n.path)-1] == "id" || n.path[len(n.path)-1] == "externalid"
	want := n.value
	if !exact {
		want = strings.ToLower(want)
	}
	for _, leaf := range leaves {
		got := fmt.Sprint(leaf)
		if !exact {
			got = strings.ToLower(got)
		}
		if n.op == "eq" && got == want || n.op == "co" && strings.Contains(got, want) ||
			n.op == "sw" && strings.HasPrefix(got, want) || n.op == "ew" && strings.HasSuffix(got, want) {
			return true
		}
	}
	return false
}

// resolvePath collects the values at a case-insensitive attribute path,
// flattening multi-valued attributes (emails.value, members.value).
func resolvePath(v any, path []string) []any {
	switch x := v.(type) {
	case []any:
		var out []any
		for _, e := range x {
			out = append(out, resolvePath(e, path)...)
		}
		return out
	case map[string]any:
		if len(path) == 0 {
			return []any{x}
		}
		for k, val := range x {
			if strings.ToLower(k) == path[0] {
				return resolvePath(val, path[1:])
			}
		}
		return nil
	}
	if len(path) > 0 || v == nil {
		return nil
	}
	return []any{v}
}
