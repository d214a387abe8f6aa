package emulator

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/config"
)

// mwNoEnv keeps the environment and ~/.databrickscfg out of SDK configs.
type mwNoEnv struct{}

func (mwNoEnv) Name() string                   { return "none" }
func (mwNoEnv) Configure(*config.Config) error { return nil }

// TestSDKRetriesInjectedFaults shows which injected faults the unmodified
// Databricks SDK retries: one failure then success costs two requests.
func TestSDKRetriesInjectedFaults(t *testing.T) {
	const me = "databricks GET /api/2.0/preview/scim/v2/Me"
	for _, tc := range []struct {
		kind    FaultKind
		retried bool
	}{
		{Fault429, true},
		{Fault503, true},
		{Fault500Limit, true},
		{Fault500, false},
		{FaultReset, true},
		{FaultTruncated, false},
		{Fault401, false},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			t.Parallel()
			org := Demo(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
			s := New(org, Options{})
			if _, pattern := s.databricks.Handler(httptest.NewRequest("GET", "/api/2.0/preview/scim/v2/Me", nil)); pattern == "" || pattern == "/" {
				t.Skip("SCIM Me is not served yet")
			}
			srv := httptest.NewServer(s.Handler())
			defer srv.Close()
			w, err := databricks.NewWorkspaceClient(&databricks.Config{
				Host: srv.URL, Token: org.Creds.DatabricksToken, AuthType: "pat",
				RetryTimeoutSeconds: 20, Loaders: []config.Loader{mwNoEnv{}},
				HostMetadataResolver: func(context.Context, string) (*config.HostMetadata, error) { return nil, nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SetFaults([]FaultRule{{Route: "/api/2.0/preview/scim/v2/Me", Sequence: []FaultKind{tc.kind}}}); err != nil {
				t.Fatal(err)
			}
			user, err := w.CurrentUser.Me(t.Context())
			requests := s.Stats().Routes[me]
			if tc.retried {
				if err != nil || user.UserName != "admin@acme.com" || requests != 2 {
					t.Errorf("Me: %v, %d requests; want success after a retry (2 requests)", err, requests)
				}
			} else if err == nil || requests != 1 {
				t.Errorf("Me: %v, %d requests; want the error, not retried (1 request)", err, requests)
			}
		})
	}
}
