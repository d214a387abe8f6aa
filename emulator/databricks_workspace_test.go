package emulator

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/workspace"
)

// The Workspace API through the unmodified SDK: create-if-absent, the
// conflict error, a missing parent, reads, listing and deletes.
func TestWorkspaceFilesThroughSDK(t *testing.T) {
	org := Demo(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	s := New(org, Options{})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	w, err := databricks.NewWorkspaceClient(&databricks.Config{
		Host: srv.URL, Token: org.Creds.DatabricksToken, AuthType: "pat",
		RetryTimeoutSeconds: 5, Loaders: []config.Loader{mwNoEnv{}},
		HostMetadataResolver: func(context.Context, string) (*config.HostMetadata, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ws := w.Workspace
	content := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	const dir, file = "/Shared/app/lease", "/Shared/app/lease/writer.1.json"

	err = ws.Import(ctx, workspace.Import{Path: file, Format: workspace.ImportFormatAuto, Content: content(`{"a":1}`)})
	if !errors.Is(err, apierr.ErrResourceDoesNotExist) {
		t.Fatalf("import into a missing folder: %v, want RESOURCE_DOES_NOT_EXIST", err)
	}
	if err := ws.MkdirsByPath(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := ws.MkdirsByPath(ctx, dir); err != nil {
		t.Fatalf("mkdirs of an existing folder: %v", err)
	}
	if err := ws.Import(ctx, workspace.Import{Path: file, Format: workspace.ImportFormatAuto, Content: content(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	err = ws.Import(ctx, workspace.Import{Path: file, Format: workspace.ImportFormatAuto, Content: content(`{"a":2}`)})
	var ae *apierr.APIError
	if !errors.Is(err, apierr.ErrResourceAlreadyExists) || !errors.As(err, &ae) || ae.StatusCode != 400 {
		t.Fatalf("second import with overwrite false: %v, want 400 RESOURCE_ALREADY_EXISTS", err)
	}
	out, err := ws.Export(ctx, workspace.ExportRequest{Path: "/Workspace" + file, Format: workspace.ExportFormatSource})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := base64.StdEncoding.DecodeString(out.Content); string(b) != `{"a":1}` {
		t.Errorf("export: %q, want the first import's content (not overwritten)", b)
	}
	st, err := ws.GetStatusByPath(ctx, file)
	if err != nil || st.ObjectType != workspace.ObjectTypeFile || st.ObjectId == 0 || st.Size != 7 {
		t.Errorf("get-status: %+v, %v", st, err)
	}
	objs, err := ws.ListAll(ctx, workspace.ListWorkspaceRequest{Path: dir})
	if err != nil || len(objs) != 1 || objs[0].Path != file {
		t.Errorf("list: %+v, %v", objs, err)
	}
	if err := ws.Delete(ctx, workspace.Delete{Path: "/Shared/app"}); !errors.Is(err, apierr.ErrBadRequest) {
		t.Errorf("delete a non-empty folder: %v, want DIRECTORY_NOT_EMPTY", err)
	}
	if err := ws.Delete(ctx, workspace.Delete{Path: file}); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.GetStatusByPath(ctx, file); !apierr.IsMissing(err) {
		t.Errorf("get-status after delete: %v, want missing", err)
	}
	if err := ws.Delete(ctx, workspace.Delete{Path: file}); !apierr.IsMissing(err) {
		t.Errorf("second delete: %v, want missing", err)
	}
	objs, err = ws.ListAll(ctx, workspace.ListWorkspaceRequest{Path: dir})
	if err != nil || len(objs) != 0 {
		t.Errorf("list of an empty folder: %+v, %v", objs, err)
	}
	if st := s.Stats().Routes["databricks POST /api/2.0/workspace/import"]; st != 3 {
		t.Errorf("%d import requests counted, want 3", st)
	}
}
