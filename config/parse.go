package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Error is a problem at a place in a config or identity map file.
// Error() is one line: FILE:LINE:COL: message.
type Error struct {
	File string
	Line int
	Col  int
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, clipMessage(e.Msg))
}

// maxMessage bounds an error's message: whatever a hostile or broken file
// makes the YAML parser say, the operator reads one line of sane length.
const maxMessage = 500

// clipMessage makes msg one line (a name quoted from the file may hold a line
// break) and cuts it to maxMessage characters, marking the cut.
func clipMessage(msg string) string {
	if strings.ContainsAny(msg, "\n\r") {
		msg = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(msg)
	}
	if len(msg) <= maxMessage {
		return msg
	}
	n := 0
	for i := range msg {
		if n == maxMessage {
			return msg[:i] + "… (cut)"
		}
		n++
	}
	return msg
}

// pos is a 1-based line and column (columns count characters, as editors do).
type pos struct{ line, col int }

func tokenPos(tk *token.Token) pos {
	if tk == nil {
		return pos{1, 1}
	}
	return pos{tk.Position.Line, tk.Position.Column}
}

func errAt(file string, p pos, format string, args ...any) *Error {
	return &Error{File: file, Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)}
}

// Load reads the config at path, applies defaults and validates it.
// It reads only a regular file of at most MaxFileSize bytes, and checks
// that identity.map_file is one too.
func Load(path string) (*Config, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("config file %s not found: run `bitbricks config init` or pass --config FILE", path)
	}
	src, err := ReadFile(path, "config file")
	if err != nil {
		return nil, err
	}
	return parse(path, src, true)
}

// Parse parses a config from src, applies defaults and validates it. path is used in
// error messages and to resolve relative file names.
func Parse(path string, src []byte) (*Config, error) { return parse(path, src, false) }

// parse is Parse; with checkFiles, the files the config names must exist.
func parse(path string, src []byte, checkFiles bool) (*Config, error) {
	if len(src) > MaxFileSize {
		return nil, fmt.Errorf("config %s is larger than %d MiB", path, MaxFileSize>>20)
	}
	body, err := parseBody(path, src)
	if err != nil {
		return nil, err
	}
	if body == nil {
		return nil, errAt(path, pos{1, 1}, "empty config: run `bitbricks config init`")
	}
	if err := checkSecrets(path, "", body); err != nil {
		return nil, err
	}
	d := &decoder{
		file:       path,
		at:         map[string]loc{},
		anchors:    map[string]ast.Node{},
		lookupEnv:  os.LookupEnv,
		checkFiles: checkFiles,
	}
	var c Config
	if err := d.decode("", body, reflect.ValueOf(&c).Elem()); err != nil {
		return nil, err
	}
	c.Path = path
	if err := d.finish(&c); err != nil {
		return nil, err
	}
	c.at = d.at
	return &c, nil
}

// parseBody parses src as a single YAML document and returns its body, nil when the
// document is empty (only comments or nothing).
func parseBody(path string, src []byte) (ast.Node, error) {
	file, err := parser.ParseBytes(src, 0)
	if err != nil {
		return nil, syntaxError(path, err)
	}
	var bodies []ast.Node
	for _, doc := range file.Docs {
		switch doc.Body.(type) {
		case nil, *ast.NullNode, *ast.CommentGroupNode, *ast.CommentNode:
			continue
		}
		bodies = append(bodies, doc.Body)
	}
	switch len(bodies) {
	case 0:
		return nil, nil
	case 1:
		return bodies[0], nil
	}
	return nil, errAt(path, nodePos(bodies[1]), "only one YAML document is allowed: remove the second `---` section")
}

// syntaxError turns a goccy error (multi-line, with a source excerpt) into one line.
func syntaxError(path string, err error) *Error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		msg := strings.Join(strings.Fields(ye.GetMessage()), " ")
		return errAt(path, tokenPos(ye.GetToken()), "YAML syntax error: %s", redactSecrets(msg))
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	return errAt(path, pos{1, 1}, "YAML syntax error: %s", redactSecrets(first))
}

// nodePos is where a node starts: the first key of a block mapping, the bracket of a
// flow collection, the dash of a block sequence, the first character of a scalar.
func nodePos(n ast.Node) pos {
	switch n := n.(type) {
	case *ast.MappingNode:
		if !n.IsFlowStyle && len(n.Values) > 0 {
			return tokenPos(n.Values[0].Key.GetToken())
		}
		return tokenPos(n.Start)
	case *ast.MappingValueNode:
		return tokenPos(n.Key.GetToken())
	case *ast.SequenceNode:
		return tokenPos(n.Start)
	case *ast.LiteralNode:
		return tokenPos(n.Start)
	case *ast.AnchorNode:
		return tokenPos(n.Start)
	case *ast.AliasNode:
		return tokenPos(n.Start)
	case *ast.TagNode:
		return tokenPos(n.Start)
	}
	return tokenPos(n.GetToken())
}

// loc records where a decoded path sits in the file.
type loc struct {
	key  pos  // the key of a field, or the start of a list entry
	val  pos  // the value; the key's position when the value is empty
	null bool // the value is empty or null
}

type decoder struct {
	file      string
	at        map[string]loc // by path: "bitbucket.workspace", "mappings[0].prune"
	anchors   map[string]ast.Node
	lookupEnv func(string) (string, bool)
	// checkFiles: files the config names (identity.map_file) must be
	// readable regular files.
	checkFiles bool
}

func (d *decoder) errAt(p pos, format string, args ...any) *Error {
	return errAt(d.file, p, format, args...)
}

// has reports whether path was written in the file with a non-empty value.
func (d *decoder) has(path string) bool {
	l, ok := d.at[path]
	return ok && !l.null
}

// where is the position of path's value, or, when path is absent, of the nearest
// enclosing key that is present, or the top of the file.
func (d *decoder) where(path string) pos {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := d.at[p]; ok {
			if p == path {
				return l.val
			}
			return l.key
		}
	}
	return pos{1, 1}
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// lastKey is the last key of path: "workspace" of "bitbucket.workspace".
func lastKey(path string) string {
	return path[strings.LastIndexAny(path, ".[")+1:]
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func displayPath(p string) string {
	if p == "" {
		return "the config"
	}
	return p
}

// resolve looks through anchors, aliases and tags to the node that holds the value.
func (d *decoder) resolve(n ast.Node) (ast.Node, error) {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			if name, ok := v.Name.(*ast.StringNode); ok {
				d.anchors[name.Value] = v.Value
			}
			n = v.Value
		case *ast.AliasNode:
			name := strings.TrimSpace(v.Value.GetToken().Value)
			target, ok := d.anchors[name]
			if !ok {
				return nil, d.errAt(nodePos(v), "alias *%s refers to no anchor defined before it", name)
			}
			n = target
		case *ast.TagNode:
			n = v.Value
		default:
			return n, nil
		}
	}
}

func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return n == nil || ok
}

var durationType = reflect.TypeOf(Duration(0))

// decode stores node n, found at path, into v, checking keys and types on the way.
func (d *decoder) decode(path string, n ast.Node, v reflect.Value) error {
	n, err := d.resolve(n)
	if err != nil {
		return err
	}
	p := d.where(path)
	if n != nil && !isNull(n) {
		p = nodePos(n)
	}
	if v.Type() == workspacesType {
		return d.decodeWorkspaces(path, n, v)
	}
	if v.Type() == durationType {
		if isNull(n) {
			return d.errAt(p, "%s is empty: write a duration like 90d, 12h, 30m or 1d12h", path)
		}
		s, ok := scalarText(n)
		if !ok {
			return d.typeError(path, n, v.Type())
		}
		dur, err := ParseDuration(s)
		if err != nil {
			return d.errAt(p, "%s: %v", path, err)
		}
		v.SetInt(int64(dur))
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		return d.decode(path, n, v.Elem())
	case reflect.Struct:
		if isNull(n) {
			return nil
		}
		return d.decodeStruct(path, n, v)
	case reflect.Slice:
		if isNull(n) {
			return nil
		}
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			return d.typeError(path, n, v.Type())
		}
		out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			ipath := fmt.Sprintf("%s[%d]", path, i)
			item, err := d.resolve(item)
			if err != nil {
				return err
			}
			ip := nodePos(item)
			if isNull(item) && i < len(seq.Entries) && seq.Entries[i] != nil {
				// "-" with nothing after it: the null's position is made up; use the dash.
				ip = tokenPos(seq.Entries[i].Start)
			}
			d.at[ipath] = loc{key: ip, val: ip, null: isNull(item)}
			if err := d.decode(ipath, item, out.Index(i)); err != nil {
				return err
			}
		}
		v.Set(out)
		return nil
	case reflect.String:
		if isNull(n) {
			v.SetString("")
			return nil
		}
		s, ok := scalarText(n)
		if !ok {
			return d.typeError(path, n, v.Type())
		}
		raw := s
		s, err := d.expand(path, n, s)
		if err != nil {
			return err
		}
		if s != raw {
			// The literal text was checked by checkSecrets; a value from the
			// environment is checked here: a credential in a name or a host
			// would travel in URL paths and be printed in every message.
			if what, ok := looksLikeCredential(s); ok {
				return d.errAt(nodePos(n), "%s: the value from the environment looks like %s; it is not a secret field and would be sent in URLs and printed: expand a variable that holds the %s instead",
					path, what, lastKey(path))
			}
		}
		v.SetString(s)
		return nil
	case reflect.Bool:
		if isNull(n) {
			return nil
		}
		b, ok := n.(*ast.BoolNode)
		if !ok {
			return d.typeError(path, n, v.Type())
		}
		v.SetBool(b.Value)
		return nil
	case reflect.Int:
		if isNull(n) {
			return nil
		}
		i, ok := n.(*ast.IntegerNode)
		if !ok {
			return d.typeError(path, n, v.Type())
		}
		switch x := i.Value.(type) {
		case int64:
			v.SetInt(x)
		case uint64:
			if x > 1<<31 {
				return d.errAt(p, "%s is too large", path)
			}
			v.SetInt(int64(x))
		}
		return nil
	}
	return fmt.Errorf("config: cannot decode into %s", v.Type()) // a bug in this package
}

func (d *decoder) decodeStruct(path string, n ast.Node, v reflect.Value) error {
	var entries []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		entries = m.Values
	case *ast.MappingValueNode:
		entries = []*ast.MappingValueNode{m}
	default:
		return d.typeError(path, n, v.Type())
	}
	fields := yamlFields(v.Type())
	for _, e := range entries {
		keyTk := e.Key.GetToken()
		if _, ok := e.Key.(*ast.MergeKeyNode); ok {
			return d.errAt(tokenPos(keyTk), "merge keys (<<) are not supported: write the keys out")
		}
		name, ok := scalarText(e.Key)
		if !ok {
			return d.errAt(nodePos(e.Key), "keys in %s must be plain names", displayPath(path))
		}
		idx, ok := fields[name]
		if !ok {
			return d.errAt(tokenPos(keyTk), "%s", unknownKeyMessage(path, name, fieldNames(v.Type())))
		}
		fpath := joinPath(path, name)
		val, err := d.resolve(e.Value)
		if err != nil {
			return err
		}
		l := loc{key: tokenPos(keyTk), val: tokenPos(keyTk), null: isNull(val)}
		if !l.null {
			l.val = nodePos(val)
		}
		d.at[fpath] = l
		if err := d.decode(fpath, val, v.Field(idx)); err != nil {
			return err
		}
	}
	return nil
}

func unknownKeyMessage(path, name string, allowed []string) string {
	where := "at the top level"
	if path != "" {
		where = "in " + path
	}
	if s := suggest(name, allowed); s != "" {
		return fmt.Sprintf("unknown key %q %s: did you mean %q?", name, where, s)
	}
	return fmt.Sprintf("unknown key %q %s: allowed keys are %s", name, where, strings.Join(allowed, ", "))
}

// yamlFields maps yaml key to field index for a struct type.
func yamlFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" {
			m[name] = i
		}
	}
	return m
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" {
			names = append(names, name)
		}
	}
	return names
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

// scalarText is the text of a scalar node as written (numbers and booleans too, so that
// `org_id: 0123` stays "0123").
func scalarText(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.LiteralNode:
		return n.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

func (d *decoder) typeError(path string, n ast.Node, want reflect.Type) *Error {
	return d.errAt(nodePos(n), "%s must be %s, not %s", displayPath(path), describeType(want), describeNode(n))
}

func describeType(t reflect.Type) string {
	if t == durationType {
		return "a duration like 90d, 12h or 1d12h"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.Struct:
		return "a mapping with keys " + strings.Join(fieldNames(t), ", ")
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "a list of entries, each a mapping with keys " + strings.Join(fieldNames(t.Elem()), ", ")
		}
		return "a list like [a, b]"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int:
		return "a whole number"
	}
	return t.String()
}

func describeNode(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	}
	if s, ok := scalarText(n); ok {
		return quoteShort(s) // a long or garbled value must not flood the error line
	}
	return strings.ToLower(n.Type().String())
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand replaces ${VAR} and ${VAR:-default} in s, the value of node n at path.
// ${VAR:-default} uses the default when VAR is unset or empty, as the shell does.
func (d *decoder) expand(path string, n ast.Node, s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	start := nodePos(n)
	if tk := n.GetToken(); tk != nil && (tk.Type == token.DoubleQuoteType || tk.Type == token.SingleQuoteType) {
		start.col++
	}
	at := func(i int) pos { // position of byte i of s, for single-line values
		return pos{start.line, start.col + len([]rune(s[:i]))}
	}
	var b strings.Builder
	rest, off := s, 0
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return "", d.errAt(at(off+i), "%s: unterminated ${ : close it with }", path)
		}
		expr := rest[i+2 : i+end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !envNameRE.MatchString(name) {
			return "", d.errAt(at(off+i), "%s: %q is not an environment variable name: use ${NAME} or ${NAME:-default}", path, name)
		}
		val, ok := d.lookupEnv(name)
		switch {
		case hasDef && val == "":
			val = def
		case !ok:
			return "", d.errAt(at(off+i), "%s: environment variable %s is not set: export it or write ${%s:-default}", path, name, name)
		}
		b.WriteString(val)
		rest = rest[i+end+1:]
		off += i + end + 1
	}
}

// suggest returns the candidate closest to name when it is close enough to be a typo.
func suggest(name string, candidates []string) string {
	best, bestDist := "", 0
	for _, c := range candidates {
		dist := editDistance(strings.ToLower(name), c)
		if best == "" || dist < bestDist {
			best, bestDist = c, dist
		}
	}
	if best == "" || bestDist > max(2, len(best)/3) {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
