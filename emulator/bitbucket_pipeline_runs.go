package emulator

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Pipeline runs and repository files: what a federation's second phase reads
// to see that a pipeline now authenticates by OIDC (a successful run, and
// `oidc: true` in bitbucket-pipelines.yml on the main branch). Tests and
// users play the pipeline's part through the control endpoints below.

// pipelineResults are the results of a COMPLETED run.
var pipelineResults = []string{"SUCCESSFUL", "FAILED", "STOPPED", "ERROR"}

// RecordPipelineRun records a finished run of repo on branch (empty: main)
// with result, created and completed now.
func (o *Org) RecordPipelineRun(repo, branch, result string) (*BBPipeline, error) {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	rp := o.repo(repo)
	if rp == nil {
		return nil, fmt.Errorf("record pipeline run: no repository %q", repo)
	}
	result = strings.ToUpper(cmpOr(result, "SUCCESSFUL"))
	if !slices.Contains(pipelineResults, result) {
		return nil, fmt.Errorf("record pipeline run: result %q: want one of %s", result, strings.Join(pipelineResults, ", "))
	}
	now := o.Now()
	run := &BBPipeline{UUID: o.bracedUUID(), BuildNumber: len(rp.Pipelines) + 1, Branch: cmpOr(branch, "main"),
		Created: now, Completed: now, Result: result}
	rp.Pipelines = append(rp.Pipelines, run)
	return run, nil
}

// SetRepoFile writes a file on repo's main branch; empty content deletes it.
func (o *Org) SetRepoFile(repo, path, content string) error {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	rp := o.repo(repo)
	if rp == nil {
		return fmt.Errorf("set file: no repository %q", repo)
	}
	if content == "" {
		delete(rp.Files, path)
		return nil
	}
	if rp.Files == nil {
		rp.Files = map[string]string{}
	}
	rp.Files[path] = content
	return nil
}

func bbPipelineJSON(rp *BBRepo, ws string) func(*BBPipeline) any {
	return func(p *BBPipeline) any {
		state := map[string]any{"type": "pipeline_state_in_progress", "name": "IN_PROGRESS"}
		if !p.Completed.IsZero() {
			state = map[string]any{"type": "pipeline_state_completed", "name": "COMPLETED",
				"result": map[string]any{"type": "pipeline_state_completed_" + strings.ToLower(p.Result), "name": p.Result}}
		}
		m := map[string]any{
			"type":         "pipeline",
			"uuid":         p.UUID,
			"build_number": p.BuildNumber,
			"created_on":   p.Created.UTC().Format(time.RFC3339Nano),
			"target": map[string]any{"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": p.Branch,
				"selector": map[string]any{"type": "branches", "pattern": p.Branch}},
			"trigger":    map[string]any{"type": "pipeline_trigger_push"},
			"state":      state,
			"repository": map[string]any{"type": "repository", "uuid": rp.UUID, "full_name": ws + "/" + rp.Slug, "name": rp.Name},
		}
		if !p.Completed.IsZero() {
			m["completed_on"] = p.Completed.UTC().Format(time.RFC3339Nano)
			m["build_seconds_used"] = int(p.Completed.Sub(p.Created).Seconds())
		}
		return m
	}
}

// bbPipelines lists a repository's runs: oldest first, or newest first with
// sort=-created_on.
func (s *Server) bbPipelines(w http.ResponseWriter, r *http.Request, u *BBUser) {
	o := s.Org
	rp := o.bbRepo(w, r, u)
	if rp == nil {
		return
	}
	runs := slices.Clone(rp.Pipelines)
	switch sort := r.URL.Query().Get("sort"); sort {
	case "", "created_on":
	case "-created_on":
		slices.Reverse(runs)
	default:
		bbError(w, http.StatusBadRequest, "Invalid sort", fmt.Sprintf("Cannot sort pipelines by %q.", sort))
		return
	}
	bbPaged(w, r, runs, bbPipelineJSON(rp, o.BB.Workspace.Slug))
}

// bbSource serves a file at the root of the main branch (by its name, or
// "HEAD") as raw content. Files in folders and other refs are not emulated.
func (s *Server) bbSource(w http.ResponseWriter, r *http.Request, u *BBUser) {
	rp := s.Org.bbRepo(w, r, u)
	if rp == nil {
		return
	}
	if ref := r.PathValue("commit"); ref != "main" && ref != "HEAD" {
		bbError(w, http.StatusNotFound, "Commit not found", fmt.Sprintf("Commit %s not found", ref))
		return
	}
	content, ok := rp.Files[r.PathValue("path")]
	if !ok {
		bbError(w, http.StatusNotFound, "No such file or directory: "+r.PathValue("path"), "")
		return
	}
	w.Header().Set("Content-Type", "application/x-yaml")
	w.Header().Set("Content-Disposition", "attachment")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, content)
}

// routesControlPipelines lets a test or a user play a pipeline's part:
//
//	POST /_emulator/pipelines/oidc-token  {"repository":"etl","environment":"Production","branch":"main","workspace":"acme","ttl":"1h"}
//	                                      → {"token":"<JWT>"} (ttl negative: already expired)
//	POST /_emulator/pipelines/runs        {"repository":"etl","result":"SUCCESSFUL","branch":"main"} → the run
//	PUT  /_emulator/pipelines/config?repository=etl   body: bitbucket-pipelines.yml on main (empty: delete)
func (s *Server) routesControlPipelines(mux *http.ServeMux) {
	mux.HandleFunc("POST /_emulator/pipelines/oidc-token", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Repository, Environment, Branch, Workspace, Audience, TTL string }
		if err := readJSON(r, &body); err != nil {
			controlError(w, fmt.Errorf(`want {"repository":"etl","environment":"Production","branch":"main","workspace":"acme"}: %w`, err))
			return
		}
		step := PipelineStep{Repo: body.Repository, Environment: body.Environment, Branch: body.Branch,
			Workspace: body.Workspace, Audience: body.Audience}
		if body.TTL != "" {
			d, err := time.ParseDuration(body.TTL)
			if err != nil {
				controlError(w, fmt.Errorf("ttl: %w", err))
				return
			}
			step.TTL = d
		}
		tok, err := s.Org.PipelinesOIDCToken(baseURL(r), step)
		if err != nil {
			controlError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"token": tok})
	})
	mux.HandleFunc("POST /_emulator/pipelines/runs", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Repository, Result, Branch string }
		if err := readJSON(r, &body); err != nil {
			controlError(w, fmt.Errorf(`want {"repository":"etl","result":"SUCCESSFUL"}: %w`, err))
			return
		}
		run, err := s.Org.RecordPipelineRun(body.Repository, body.Branch, body.Result)
		if err != nil {
			controlError(w, err)
			return
		}
		s.Org.Mu.Lock()
		out := bbPipelineJSON(s.Org.repo(body.Repository), s.Org.BB.Workspace.Slug)(run)
		s.Org.Mu.Unlock()
		writeJSON(w, http.StatusCreated, out)
	})
	mux.HandleFunc("PUT /_emulator/pipelines/config", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = s.Org.SetRepoFile(r.URL.Query().Get("repository"), "bitbucket-pipelines.yml", string(b))
		}
		if err != nil {
			controlError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
