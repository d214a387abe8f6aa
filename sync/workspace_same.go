package sync

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
)

// One workspace listed twice under hosts that differ (http://localhost:P
// and http://127.0.0.1:P, a vanity URL and the deployment host) passes the
// config's host check, and a run over both would plan everything twice and
// lock itself out at its own lease. Every workspace names itself on its
// answer to SCIM Me (X-Databricks-Org-Id): before anything of a run over
// several workspaces is read or written, each host is asked once, and two
// entries that answer with one id are refused.

// orgRecorder keeps the workspace id a successful answer to SCIM Me gives,
// so that the run's own Me (the credential probe) tells it for free.
type orgRecorder struct {
	base http.RoundTripper
	seen *atomic.Int64
}

func (o orgRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.base.RoundTrip(req)
	if err == nil && req.Method == http.MethodGet && req.URL.Path == mePath && resp.StatusCode/100 == 2 {
		if id, perr := strconv.ParseInt(strings.TrimSpace(resp.Header.Get(orgIDHeader)), 10, 64); perr == nil && id > 0 {
			o.seen.Store(id)
		}
	}
	return resp, err
}

// SameWorkspaceError refuses a run over two configured workspaces whose
// hosts answer as one workspace. It exits with code 3.
type SameWorkspaceError struct {
	ID   int64
	Line string // the one-line refusal, with the config position when known
}

func (e *SameWorkspaceError) Error() string { return e.Line }

// workspaceIDs is what each part's host answers as (0 where it could not
// be asked: that workspace's read or write reports the failure).
func workspaceIDs(ctx context.Context, parts []workspacePart) []int64 {
	ids := make([]int64, len(parts))
	var wg gosync.WaitGroup
	for i, p := range parts {
		d, ok := p.svc.src.Databricks.(*Databricks)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Bounded as the run's first call is: a host that does not
			// answer is that workspace's failure, reported by its read.
			pctx, cancel := context.WithTimeout(ctx, d.probe)
			defer cancel()
			if id, err := d.workspaceID(pctx); err == nil {
				ids[i] = id
			}
		}()
	}
	wg.Wait()
	return ids
}

// checkOneWorkspaceEach refuses parts of which two are one workspace: their
// hosts answer SCIM Me with one X-Databricks-Org-Id. With fewer than two
// parts nothing is asked. ids are what each part answered (0: no answer).
func (s *Service) checkOneWorkspaceEach(ctx context.Context, parts []workspacePart) (ids []int64, err error) {
	if len(parts) < 2 {
		return make([]int64, len(parts)), nil
	}
	ids = workspaceIDs(ctx, parts)
	seen := map[int64]int{}
	for i, id := range ids {
		if id == 0 {
			continue
		}
		j, dup := seen[id]
		if !dup {
			seen[id] = i
			continue
		}
		return ids, s.sameWorkspaceError(parts[j], parts[i], id)
	}
	return ids, nil
}

// sameWorkspaceError names both entries of the config (file:line when the
// config was read from a file).
func (s *Service) sameWorkspaceError(first, second workspacePart, id int64) error {
	list := s.cfg.Databricks.Workspaces.List
	index := func(name string) int {
		for i, w := range list {
			if w.Name == name {
				return i
			}
		}
		return -1
	}
	desc := func(p workspacePart, withLine bool) (string, string) {
		i := index(p.name)
		key := fmt.Sprintf("databricks.workspaces[%d]", i)
		var entry WorkspaceSources
		for _, ws := range s.src.Workspaces {
			if ws.Name == p.name {
				entry = ws
			}
		}
		line := 0
		if withLine && i >= 0 {
			line = s.cfg.Line(key)
		}
		d := entryDesc(entry, line)
		return key, strings.TrimSuffix(d, ")") + ", host " + p.svc.src.Databricks.Host() + ")"
	}
	k1, d1 := desc(first, true)
	k2, d2 := desc(second, false)
	err := s.cfg.ErrorAt(k2, "refused: %s %s and %s %s are one workspace: both hosts answer as workspace id %d (%s on %s); list each workspace once; nothing was read or written",
		k2, d2, k1, d1, id, orgIDHeader, mePath)
	return &SameWorkspaceError{ID: id, Line: err.Error()}
}
