package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

var bareUUIDRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// LoadIdentityMap reads an identity map: a flat YAML map from Bitbucket account_id or
// {uuid} (with braces) to Databricks userName. An empty file is an empty map.
func LoadIdentityMap(path string) (map[string]string, error) {
	src, err := ReadFile(path, "identity map")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("identity map %s not found: create it or fix identity.map_file", path)
		}
		return nil, err
	}
	return ParseIdentityMap(path, src)
}

// ParseIdentityMap parses an identity map from src; path is used in error messages.
func ParseIdentityMap(path string, src []byte) (map[string]string, error) {
	body, err := parseBody(path, src)
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) && lineStartsWith(src, ce.Line, "{") {
			ce.Msg += `; quote {uuid} keys, e.g. "{b2c3...}": user@example.com`
		}
		return nil, err
	}
	out := map[string]string{}
	if body == nil {
		return out, nil
	}
	var entries []*ast.MappingValueNode
	switch m := body.(type) {
	case *ast.MappingNode:
		entries = m.Values
	case *ast.MappingValueNode:
		entries = []*ast.MappingValueNode{m}
	default:
		return nil, errAt(path, nodePos(body), "the identity map must be a mapping of Bitbucket account_id or {uuid} to Databricks userName, not %s", describeNode(body))
	}
	for _, e := range entries {
		key, ok := scalarText(e.Key)
		kp := nodePos(e.Key)
		switch {
		case !ok || key == "":
			return nil, errAt(path, kp, "identity map keys must be a Bitbucket account_id or {uuid}")
		case bareUUIDRE.MatchString(key):
			return nil, errAt(path, kp, "Bitbucket UUID %s needs braces: write \"{%s}\"", key, key)
		case strings.HasPrefix(key, "{") != strings.HasSuffix(key, "}"):
			return nil, errAt(path, kp, "identity map key %q has unbalanced braces: write a {uuid} or an account_id", key)
		}
		val, ok := scalarText(e.Value)
		if isNull(e.Value) || (ok && strings.TrimSpace(val) == "") {
			return nil, errAt(path, kp, "%s has no Databricks userName: write one after the colon or remove the entry", key)
		}
		if !ok {
			return nil, errAt(path, nodePos(e.Value), "%s must map to a Databricks userName, not %s", key, describeNode(e.Value))
		}
		out[key] = val
	}
	return out, nil
}

func lineStartsWith(src []byte, line int, prefix string) bool {
	lines := strings.Split(string(src), "\n")
	if line < 1 || line > len(lines) {
		return false
	}
	return strings.HasPrefix(strings.TrimSpace(lines[line-1]), prefix)
}
