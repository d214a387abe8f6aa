package emulator

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// varScope resolves the variables a request addresses (workspace, repository
// or deployment environment), or writes the error and returns nil.
type varScope func(o *Org, w http.ResponseWriter, r *http.Request, u *BBUser) *[]*BBVariable

// workspaceVars are managed by workspace admins only.
func workspaceVars(o *Org, w http.ResponseWriter, r *http.Request, u *BBUser) *[]*BBVariable {
	if !o.bbWorkspace(w, r, u) {
		return nil
	}
	if u.Permission != "owner" {
		bbError(w, http.StatusForbidden, "Only workspace admins can manage workspace variables.", "")
		return nil
	}
	return &o.BB.Variables
}

func repoVars(o *Org, w http.ResponseWriter, r *http.Request, u *BBUser) *[]*BBVariable {
	if rp := o.bbRepo(w, r, u); rp != nil {
		return &rp.Variables
	}
	return nil
}

func deploymentVars(o *Org, w http.ResponseWriter, r *http.Request, u *BBUser) *[]*BBVariable {
	if env := o.bbEnv(w, r, u); env != nil {
		return &env.Variables
	}
	return nil
}

// bbEnv resolves {environment_uuid} of the addressed repository.
func (o *Org) bbEnv(w http.ResponseWriter, r *http.Request, u *BBUser) *BBEnvironment {
	rp := o.bbRepo(w, r, u)
	if rp == nil {
		return nil
	}
	id := r.PathValue("environment_uuid")
	for _, e := range rp.Environments {
		if sameUUID(e.UUID, id) {
			return e
		}
	}
	bbError(w, http.StatusNotFound, fmt.Sprintf("Environment %s not found.", id), "")
	return nil
}

// bbVariableJSON never carries a secured variable's value.
func bbVariableJSON(v *BBVariable) any {
	m := map[string]any{"type": "pipeline_variable", "uuid": v.UUID, "key": v.Key, "secured": v.Secured}
	if !v.Secured {
		m["value"] = v.Value
	}
	return m
}

// variableBody is a variable as clients send it; absent fields stay unchanged on PUT.
type variableBody struct {
	Key     *string `json:"key"`
	Value   *string `json:"value"`
	Secured *bool   `json:"secured"`
}

var variableKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func readVariable(w http.ResponseWriter, r *http.Request) (variableBody, bool) {
	var b variableBody
	if err := readJSON(r, &b); err != nil && !errors.Is(err, io.EOF) {
		bbError(w, http.StatusBadRequest, "Invalid JSON in request body", err.Error())
		return b, false
	}
	if b.Key != nil && !variableKey.MatchString(*b.Key) {
		bbError(w, http.StatusBadRequest, "Invalid variable name",
			"Variable names can only contain ASCII letters, digits and underscores, and cannot start with a digit.")
		return b, false
	}
	return b, true
}

func findVariable(vs []*BBVariable, id string) int {
	for i, v := range vs {
		if sameUUID(v.UUID, id) {
			return i
		}
	}
	return -1
}

func hasKey(vs []*BBVariable, key string, except *BBVariable) bool {
	for _, v := range vs {
		if v.Key == key && v != except {
			return true
		}
	}
	return false
}

func (s *Server) varList(scope varScope) bbHandler {
	return func(w http.ResponseWriter, r *http.Request, u *BBUser) {
		if vs := scope(s.Org, w, r, u); vs != nil {
			bbPaged(w, r, *vs, bbVariableJSON)
		}
	}
}

func (s *Server) varCreate(scope varScope) bbHandler {
	return func(w http.ResponseWriter, r *http.Request, u *BBUser) {
		o := s.Org
		vs := scope(o, w, r, u)
		if vs == nil {
			return
		}
		b, ok := readVariable(w, r)
		if !ok {
			return
		}
		if b.Key == nil {
			bbError(w, http.StatusBadRequest, "Invalid variable", "key is required")
			return
		}
		if hasKey(*vs, *b.Key, nil) {
			bbError(w, http.StatusConflict, fmt.Sprintf("A variable with the key '%s' already exists.", *b.Key), "")
			return
		}
		v := &BBVariable{UUID: "{" + o.newUUID() + "}", Key: *b.Key}
		if b.Value != nil {
			v.Value = *b.Value
		}
		if b.Secured != nil {
			v.Secured = *b.Secured
		}
		*vs = append(*vs, v)
		w.Header().Set("Location", baseURL(r)+strings.TrimSuffix(r.URL.EscapedPath(), "/")+"/"+url.PathEscape(v.UUID))
		writeJSON(w, http.StatusCreated, bbVariableJSON(v))
	}
}

// variable resolves {variable_uuid} in the scope, or writes the error.
func (s *Server) variable(scope varScope, w http.ResponseWriter, r *http.Request, u *BBUser) (*[]*BBVariable, int) {
	vs := scope(s.Org, w, r, u)
	if vs == nil {
		return nil, -1
	}
	id := r.PathValue("variable_uuid")
	i := findVariable(*vs, id)
	if i < 0 {
		bbError(w, http.StatusNotFound, fmt.Sprintf("Variable %s not found.", id), "")
		return nil, -1
	}
	return vs, i
}

func (s *Server) varGet(scope varScope) bbHandler {
	return func(w http.ResponseWriter, r *http.Request, u *BBUser) {
		if vs, i := s.variable(scope, w, r, u); vs != nil {
			writeJSON(w, http.StatusOK, bbVariableJSON((*vs)[i]))
		}
	}
}

// varUpdate changes a variable in place. A secured variable stays secured:
// Bitbucket offers no way to reveal a secured value by unsecuring it.
func (s *Server) varUpdate(scope varScope) bbHandler {
	return func(w http.ResponseWriter, r *http.Request, u *BBUser) {
		vs, i := s.variable(scope, w, r, u)
		if vs == nil {
			return
		}
		b, ok := readVariable(w, r)
		if !ok {
			return
		}
		v := (*vs)[i]
		if b.Secured != nil && v.Secured && !*b.Secured {
			bbError(w, http.StatusBadRequest, "A secured variable cannot be changed to unsecured.", "")
			return
		}
		if b.Key != nil && hasKey(*vs, *b.Key, v) {
			bbError(w, http.StatusConflict, fmt.Sprintf("A variable with the key '%s' already exists.", *b.Key), "")
			return
		}
		if b.Key != nil {
			v.Key = *b.Key
		}
		if b.Value != nil {
			v.Value = *b.Value
		}
		if b.Secured != nil {
			v.Secured = *b.Secured
		}
		writeJSON(w, http.StatusOK, bbVariableJSON(v))
	}
}

func (s *Server) varDelete(scope varScope) bbHandler {
	return func(w http.ResponseWriter, r *http.Request, u *BBUser) {
		if vs, i := s.variable(scope, w, r, u); vs != nil {
			*vs = append((*vs)[:i], (*vs)[i+1:]...)
			w.WriteHeader(http.StatusNoContent)
		}
	}
}

// envTypeRank orders Bitbucket's three environment types.
func envTypeRank(t string) int {
	switch t {
	case "Staging":
		return 1
	case "Production":
		return 2
	}
	return 0
}

func bbEnvironmentJSON(e *BBEnvironment) any {
	return map[string]any{
		"type":   "deployment_environment",
		"uuid":   e.UUID,
		"name":   e.Name,
		"slug":   slugify(e.Name),
		"rank":   e.Rank,
		"hidden": false,
		"environment_type": map[string]any{
			"type": "deployment_environment_type",
			"name": e.Type,
			"rank": envTypeRank(e.Type),
		},
	}
}

func (s *Server) bbEnvironments(w http.ResponseWriter, r *http.Request, u *BBUser) {
	if rp := s.Org.bbRepo(w, r, u); rp != nil {
		bbPaged(w, r, rp.Environments, bbEnvironmentJSON)
	}
}

func (s *Server) bbEnvironment(w http.ResponseWriter, r *http.Request, u *BBUser) {
	if e := s.Org.bbEnv(w, r, u); e != nil {
		writeJSON(w, http.StatusOK, bbEnvironmentJSON(e))
	}
}
