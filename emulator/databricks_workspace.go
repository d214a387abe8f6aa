package emulator

import (
	"encoding/base64"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The Workspace API (/api/2.0/workspace/...): workspace files and folders,
// enough for a create-if-absent lease. Behaviour follows the service:
//   - import with overwrite false onto an existing path: 400 RESOURCE_ALREADY_EXISTS
//   - import into a folder that does not exist: 404 RESOURCE_DOES_NOT_EXIST
//     (clients mkdirs and retry; the service does not create parents)
//   - get-status, export, list or delete of a missing path: 404 RESOURCE_DOES_NOT_EXIST
//   - delete of a non-empty folder without recursive: 400 DIRECTORY_NOT_EMPTY
//   - mkdirs creates every missing parent and succeeds on an existing folder
//   - paths may carry the /Workspace prefix; /Users/<name> is each
//     principal's home, /Shared is writable by every workspace user.

// WSObject is one workspace object: a folder or a file.
type WSObject struct {
	Path     string
	Type     string // DIRECTORY or FILE (NOTEBOOK for SOURCE imports)
	ID       int64
	Content  []byte
	Created  time.Time
	Modified time.Time
}

func (s *Server) routesWorkspace(mux *http.ServeMux) {
	const p = "/api/2.0/workspace/"
	mux.HandleFunc("POST "+p+"import", s.db(wsUser, s.wsImport))
	mux.HandleFunc("GET "+p+"get-status", s.db(wsUser, s.wsGetStatus))
	mux.HandleFunc("GET "+p+"export", s.db(wsUser, s.wsExport))
	mux.HandleFunc("GET "+p+"list", s.db(wsUser, s.wsList))
	mux.HandleFunc("POST "+p+"delete", s.db(wsUser, s.wsDelete))
	mux.HandleFunc("POST "+p+"mkdirs", s.db(wsUser, s.wsMkdirs))
}

// workspaceTree is the workspace's object tree, built on first use with the
// root folders and every principal's home. Callers hold o.Mu.
func (o *Org) workspaceTree() map[string]*WSObject {
	if o.DB.Workspace == nil {
		o.DB.Workspace = map[string]*WSObject{}
		now := o.Now()
		for _, dir := range []string{"/", "/Users", "/Shared"} {
			o.wsAdd(dir, "DIRECTORY", nil, now)
		}
	}
	t := o.DB.Workspace
	for _, u := range o.DB.Users {
		if t["/Users/"+u.UserName] == nil {
			o.wsAdd("/Users/"+u.UserName, "DIRECTORY", nil, o.Now())
		}
	}
	for _, sp := range o.DB.ServicePrincipals {
		if t["/Users/"+sp.ApplicationID] == nil {
			o.wsAdd("/Users/"+sp.ApplicationID, "DIRECTORY", nil, o.Now())
		}
	}
	return t
}

func (o *Org) wsAdd(p, typ string, content []byte, now time.Time) *WSObject {
	o.DB.NextID++
	obj := &WSObject{Path: p, Type: typ, ID: o.DB.NextID, Content: content, Created: now, Modified: now}
	o.DB.Workspace[p] = obj
	return obj
}

// wsPath cleans a request path, dropping the /Workspace prefix the service
// also accepts; "" when it is not absolute.
func wsPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return ""
	}
	p = path.Clean(p)
	if rest, ok := strings.CutPrefix(p, "/Workspace"); ok && (rest == "" || rest[0] == '/') {
		p = path.Clean("/" + rest)
	}
	return p
}

// wsWritable: admins write anywhere, others under /Shared and their home.
func wsWritable(p string, who principal) bool {
	home := "/Users/" + who.name()
	return who.admin() || p == "/Shared" || strings.HasPrefix(p, "/Shared/") || p == home || strings.HasPrefix(p, home+"/")
}

func wsInfo(obj *WSObject) map[string]any {
	m := map[string]any{"path": obj.Path, "object_type": obj.Type, "object_id": obj.ID,
		"created_at": obj.Created.UnixMilli(), "modified_at": obj.Modified.UnixMilli()}
	if obj.Type != "DIRECTORY" {
		m["size"] = len(obj.Content)
		m["resource_id"] = path.Base(obj.Path) + "-" + strconv.FormatInt(obj.ID, 10)
	}
	if obj.Type == "NOTEBOOK" {
		m["language"] = "PYTHON"
	}
	return m
}

func wsMissing(w http.ResponseWriter, p string) {
	dbError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Path (%s) doesn't exist.", p)
}

// wsRequestPath reads and checks the path parameter; false after an error answer.
func wsRequestPath(w http.ResponseWriter, raw string) (string, bool) {
	if raw == "" {
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Missing required field: path")
		return "", false
	}
	p := wsPath(raw)
	if p == "" {
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Path (%s) is not absolute.", raw)
		return "", false
	}
	return p, true
}

func (s *Server) wsImport(w http.ResponseWriter, r *http.Request, who principal) {
	var req struct {
		Path      string `json:"path"`
		Format    string `json:"format"`
		Language  string `json:"language"`
		Content   string `json:"content"`
		Overwrite bool   `json:"overwrite"`
	}
	if err := readJSON(r, &req); err != nil {
		dbError(w, http.StatusBadRequest, "MALFORMED_REQUEST", "Invalid JSON given in the body of the request.")
		return
	}
	p, ok := wsRequestPath(w, req.Path)
	if !ok {
		return
	}
	content, err := base64.StdEncoding.DecodeString(req.Content)
	if err != nil {
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "The content must be base64 encoded.")
		return
	}
	typ := "FILE"
	switch req.Format {
	case "", "AUTO", "RAW":
	case "SOURCE", "JUPYTER":
		if req.Format == "SOURCE" && req.Language == "" {
			dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Language is required for the SOURCE format.")
			return
		}
		typ = "NOTEBOOK"
	default:
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Import format %s is not supported here.", req.Format)
		return
	}
	o := s.Org
	t := o.workspaceTree()
	if !wsWritable(p, who) {
		dbError(w, http.StatusForbidden, "PERMISSION_DENIED", "%s does not have Manage permissions on %s.", who.name(), path.Dir(p))
		return
	}
	if parent := t[path.Dir(p)]; parent == nil || parent.Type != "DIRECTORY" {
		dbError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "The parent folder (%s) does not exist.", path.Dir(p))
		return
	}
	now := o.Now()
	if old := t[p]; old != nil {
		if !req.Overwrite || old.Type == "DIRECTORY" {
			dbError(w, http.StatusBadRequest, "RESOURCE_ALREADY_EXISTS", "Path (%s) already exists.", p)
			return
		}
		old.Content, old.Type, old.Modified = content, typ, now
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	o.wsAdd(p, typ, content, now)
	writeJSON(w, http.StatusOK, map[string]any{})
}

func (s *Server) wsGetStatus(w http.ResponseWriter, r *http.Request, who principal) {
	p, ok := wsRequestPath(w, r.URL.Query().Get("path"))
	if !ok {
		return
	}
	obj := s.Org.workspaceTree()[p]
	if obj == nil {
		wsMissing(w, p)
		return
	}
	writeJSON(w, http.StatusOK, wsInfo(obj))
}

func (s *Server) wsExport(w http.ResponseWriter, r *http.Request, who principal) {
	p, ok := wsRequestPath(w, r.URL.Query().Get("path"))
	if !ok {
		return
	}
	obj := s.Org.workspaceTree()[p]
	if obj == nil {
		wsMissing(w, p)
		return
	}
	if obj.Type == "DIRECTORY" {
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Path (%s) is a directory; export a directory with format DBC, SOURCE or AUTO through the CLI.", p)
		return
	}
	out := map[string]any{"content": base64.StdEncoding.EncodeToString(obj.Content)}
	if ext := strings.TrimPrefix(path.Ext(p), "."); ext != "" && obj.Type == "FILE" {
		out["file_type"] = ext
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) wsList(w http.ResponseWriter, r *http.Request, who principal) {
	p, ok := wsRequestPath(w, r.URL.Query().Get("path"))
	if !ok {
		return
	}
	t := s.Org.workspaceTree()
	obj := t[p]
	if obj == nil {
		wsMissing(w, p)
		return
	}
	var objs []map[string]any
	if obj.Type != "DIRECTORY" {
		objs = append(objs, wsInfo(obj))
	} else {
		var children []string
		for cp := range t {
			if cp != p && path.Dir(cp) == p {
				children = append(children, cp)
			}
		}
		slices.Sort(children)
		for _, cp := range children {
			objs = append(objs, wsInfo(t[cp]))
		}
	}
	// The service leaves "objects" out for an empty folder.
	if len(objs) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"objects": objs})
}

func (s *Server) wsDelete(w http.ResponseWriter, r *http.Request, who principal) {
	var req struct {
		Path      string `json:"path"`
		Recursive bool   `json:"recursive"`
	}
	if err := readJSON(r, &req); err != nil {
		dbError(w, http.StatusBadRequest, "MALFORMED_REQUEST", "Invalid JSON given in the body of the request.")
		return
	}
	p, ok := wsRequestPath(w, req.Path)
	if !ok {
		return
	}
	t := s.Org.workspaceTree()
	obj := t[p]
	if obj == nil {
		wsMissing(w, p)
		return
	}
	if p == "/" || p == "/Users" || p == "/Shared" || !wsWritable(p, who) {
		dbError(w, http.StatusForbidden, "PERMISSION_DENIED", "%s does not have Manage permissions on %s.", who.name(), p)
		return
	}
	var under []string
	for cp := range t {
		if strings.HasPrefix(cp, p+"/") {
			under = append(under, cp)
		}
	}
	if len(under) > 0 && !req.Recursive {
		dbError(w, http.StatusBadRequest, "DIRECTORY_NOT_EMPTY", "Folder (%s) is not empty.", p)
		return
	}
	for _, cp := range under {
		delete(t, cp)
	}
	delete(t, p)
	writeJSON(w, http.StatusOK, map[string]any{})
}

func (s *Server) wsMkdirs(w http.ResponseWriter, r *http.Request, who principal) {
	var req struct {
		Path string `json:"path"`
	}
	if err := readJSON(r, &req); err != nil {
		dbError(w, http.StatusBadRequest, "MALFORMED_REQUEST", "Invalid JSON given in the body of the request.")
		return
	}
	p, ok := wsRequestPath(w, req.Path)
	if !ok {
		return
	}
	o := s.Org
	t := o.workspaceTree()
	var missing []string
	for d := p; ; d = path.Dir(d) {
		if obj := t[d]; obj != nil {
			if obj.Type != "DIRECTORY" {
				dbError(w, http.StatusBadRequest, "RESOURCE_ALREADY_EXISTS", "Cannot create directory %s because %s is an existing file.", p, d)
				return
			}
			break
		}
		missing = append(missing, d)
	}
	if len(missing) > 0 && !wsWritable(p, who) {
		dbError(w, http.StatusForbidden, "PERMISSION_DENIED", "%s does not have Manage permissions on %s.", who.name(), path.Dir(missing[len(missing)-1]))
		return
	}
	now := o.Now()
	for i := len(missing) - 1; i >= 0; i-- {
		o.wsAdd(missing[i], "DIRECTORY", nil, now)
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// WorkspaceFile returns the content of the workspace file at p, for tests.
func (o *Org) WorkspaceFile(p string) ([]byte, bool) {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	obj := o.workspaceTree()[wsPath(p)]
	if obj == nil || obj.Type == "DIRECTORY" {
		return nil, false
	}
	return slices.Clone(obj.Content), true
}

// WorkspaceFiles lists the workspace files under dir, for tests.
func (o *Org) WorkspaceFiles(dir string) []string {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	dir = wsPath(dir)
	var out []string
	for p, obj := range o.workspaceTree() {
		if obj.Type != "DIRECTORY" && strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
