package emulator

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DBVolume is a Unity Catalog volume: files by path below the volume (no
// leading slash), and the directories made explicitly or implied by a file.
type DBVolume struct {
	Files map[string]*DBFile
	Dirs  map[string]bool
}

// DBFile is one file on a volume.
type DBFile struct {
	Data     []byte
	Modified time.Time
}

// AddVolume adds an empty volume at /Volumes/{catalog}/{schema}/{volume}.
func (o *Org) AddVolume(catalog, schema, volume string) {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	if o.DB.Volumes == nil {
		o.DB.Volumes = map[string]*DBVolume{}
	}
	o.DB.Volumes["/Volumes/"+catalog+"/"+schema+"/"+volume] = &DBVolume{Files: map[string]*DBFile{}, Dirs: map[string]bool{}}
}

// VolumeFiles returns a copy of the files of a volume by path below it, for
// tests.
func (o *Org) VolumeFiles(root string) map[string][]byte {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	out := map[string][]byte{}
	if v := o.DB.Volumes[root]; v != nil {
		for p, f := range v.Files {
			out[p] = slices.Clone(f.Data)
		}
	}
	return out
}

// routesFiles registers the Files API for volumes (/api/2.0/fs): upload
// (no append; overwrite defaults to true), download, metadata, delete and
// directory listing. Callers need only workspace access (volume privileges
// are not modelled).
func (s *Server) routesFiles(mux *http.ServeMux) {
	const files, dirs = "/api/2.0/fs/files/", "/api/2.0/fs/directories/"
	mux.HandleFunc("PUT "+files+"{path...}", s.db(wsUser, s.fileUpload))
	mux.HandleFunc("GET "+files+"{path...}", s.db(wsUser, s.fileDownload))
	mux.HandleFunc("HEAD "+files+"{path...}", s.db(wsUser, s.fileDownload))
	mux.HandleFunc("DELETE "+files+"{path...}", s.db(wsUser, s.fileDelete))
	mux.HandleFunc("GET "+dirs+"{path...}", s.db(wsUser, s.dirList))
	mux.HandleFunc("HEAD "+dirs+"{path...}", s.db(wsUser, s.dirList))
	mux.HandleFunc("PUT "+dirs+"{path...}", s.db(wsUser, s.dirCreate))
}

// volumePath splits "/Volumes/c/s/v/rest" into the volume and the path
// below it, answering 404 (or 400 for a path outside /Volumes) itself.
func (o *Org) volumePath(w http.ResponseWriter, r *http.Request) (*DBVolume, string, bool) {
	p := "/" + strings.Trim(r.PathValue("path"), "/")
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 5)
	if len(parts) < 4 || parts[0] != "Volumes" || slices.Contains(parts, "") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid path: %s. Paths must be absolute and start with /Volumes/<catalog>/<schema>/<volume>.", p)
		return nil, "", false
	}
	root := "/" + strings.Join(parts[:4], "/")
	v := o.DB.Volumes[root]
	if v == nil {
		dbError(w, http.StatusNotFound, "NOT_FOUND", "Volume '%s' does not exist.", strings.Join(parts[1:4], "."))
		return nil, "", false
	}
	rest := ""
	if len(parts) == 5 {
		rest = parts[4]
	}
	return v, rest, true
}

func (s *Server) fileUpload(w http.ResponseWriter, r *http.Request, _ principal) {
	o := s.Org
	v, rest, ok := o.volumePath(w, r)
	if !ok {
		return
	}
	if rest == "" || v.Dirs[rest] {
		dbError(w, http.StatusConflict, "ALREADY_EXISTS", "The path is a directory.")
		return
	}
	overwrite := true
	if q := r.URL.Query().Get("overwrite"); q != "" {
		overwrite, _ = strconv.ParseBool(q)
	}
	if _, exists := v.Files[rest]; exists && !overwrite {
		dbError(w, http.StatusConflict, "ALREADY_EXISTS", "The file being created already exists.")
		return
	}
	for dir := parentDir(rest); dir != ""; dir = parentDir(dir) {
		if _, isFile := v.Files[dir]; isFile {
			dbError(w, http.StatusConflict, "ALREADY_EXISTS", "A parent of the path is a file.")
			return
		}
	}
	defer r.Body.Close()
	data, err := readAllLimited(r, 5<<30)
	if err != nil {
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Could not read the request body.")
		return
	}
	for dir := parentDir(rest); dir != ""; dir = parentDir(dir) {
		v.Dirs[dir] = true // uploads create missing parent directories
	}
	v.Files[rest] = &DBFile{Data: data, Modified: o.Now().UTC()}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) fileDownload(w http.ResponseWriter, r *http.Request, _ principal) {
	v, rest, ok := s.Org.volumePath(w, r)
	if !ok {
		return
	}
	f := v.Files[rest]
	if f == nil {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusNotFound) // HEAD answers carry no body
			return
		}
		dbError(w, http.StatusNotFound, "NOT_FOUND", "The file being accessed is not found.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(f.Data)))
	h.Set("Last-Modified", f.Modified.Format(http.TimeFormat))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.Data)
	}
}

func (s *Server) fileDelete(w http.ResponseWriter, r *http.Request, _ principal) {
	v, rest, ok := s.Org.volumePath(w, r)
	if !ok {
		return
	}
	if v.Files[rest] == nil {
		dbError(w, http.StatusNotFound, "NOT_FOUND", "The file being accessed is not found.")
		return
	}
	delete(v.Files, rest)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) dirCreate(w http.ResponseWriter, r *http.Request, _ principal) {
	v, rest, ok := s.Org.volumePath(w, r)
	if !ok {
		return
	}
	for dir := rest; dir != ""; dir = parentDir(dir) {
		if v.Files[dir] != nil {
			dbError(w, http.StatusConflict, "ALREADY_EXISTS", "A file exists at the path.")
			return
		}
	}
	for dir := rest; dir != ""; dir = parentDir(dir) {
		v.Dirs[dir] = true
	}
	w.WriteHeader(http.StatusNoContent)
}

// dirEntry is one item of a directory listing.
type dirEntry struct {
	Path         string `json:"path"`
	IsDirectory  bool   `json:"is_directory"`
	FileSize     int64  `json:"file_size,omitempty"`
	LastModified int64  `json:"last_modified,omitempty"`
	Name         string `json:"name"`
}

// dirList lists a directory's direct children by name, paged by
// page_size (at most 1,000) and an opaque page_token.
func (s *Server) dirList(w http.ResponseWriter, r *http.Request, _ principal) {
	v, rest, ok := s.Org.volumePath(w, r)
	if !ok {
		return
	}
	if rest != "" && !v.Dirs[rest] {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		dbError(w, http.StatusNotFound, "NOT_FOUND", "The directory being accessed is not found.")
		return
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	root := "/" + strings.Trim(r.PathValue("path"), "/")
	var entries []dirEntry
	child := func(p string) (string, bool) {
		if rest == "" {
			return p, !strings.Contains(p, "/")
		}
		name, ok := strings.CutPrefix(p, rest+"/")
		return name, ok && !strings.Contains(name, "/")
	}
	for p := range v.Dirs {
		if name, ok := child(p); ok {
			entries = append(entries, dirEntry{Path: root + "/" + name + "/", IsDirectory: true, Name: name})
		}
	}
	for p, f := range v.Files {
		if name, ok := child(p); ok {
			entries = append(entries, dirEntry{Path: root + "/" + name, FileSize: int64(len(f.Data)), LastModified: f.Modified.UnixMilli(), Name: name})
		}
	}
	slices.SortFunc(entries, func(a, b dirEntry) int { return strings.Compare(a.Name, b.Name) })
	size := 1000
	if n, err := strconv.Atoi(r.URL.Query().Get("page_size")); err == nil && n > 0 && n < size {
		size = n
	}
	start := 0
	if tok := r.URL.Query().Get("page_token"); tok != "" {
		start = slices.IndexFunc(entries, func(e dirEntry) bool { return e.Name > tok })
		if start < 0 {
			start = len(entries)
		}
	}
	page := entries[start:min(start+size, len(entries))]
	resp := map[string]any{"contents": page}
	if start+size < len(entries) {
		resp["next_page_token"] = page[len(page)-1].Name
	}
	if len(page) == 0 {
		resp = map[string]any{}
	}
	writeJSON(w, http.StatusOK, resp)
}

func parentDir(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

func readAllLimited(r *http.Request, limit int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, limit))
}
