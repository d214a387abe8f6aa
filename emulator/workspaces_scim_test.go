package emulator

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSCIMConcurrencyPerWorkspace: the SCIM limit of 4 requests in flight
// is each workspace's, as the service's is: four at prod and four at dev
// together are all served; a fifth at prod is refused.
func TestSCIMConcurrencyPerWorkspace(t *testing.T) {
	org := Demo(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	s := New(org, Options{Latency: 500 * time.Millisecond})
	prod := httptest.NewServer(s.WorkspaceHandler(DemoWorkspace))
	dev := httptest.NewServer(s.WorkspaceHandler(DemoDevWorkspace))
	t.Cleanup(prod.Close)
	t.Cleanup(dev.Close)
	limited := func(urls ...string) int32 {
		var n atomic.Int32
		var wg sync.WaitGroup
		for _, u := range urls {
			wg.Go(func() {
				resp, err := http.Get(u + "/api/2.0/preview/scim/v2/Groups")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusInternalServerError {
					n.Add(1)
				}
			})
		}
		wg.Wait()
		return n.Load()
	}
	if n := limited(prod.URL, prod.URL, prod.URL, prod.URL, dev.URL, dev.URL, dev.URL, dev.URL); n != 0 {
		t.Errorf("4 at prod and 4 at dev: %d refused, want none", n)
	}
	if n := limited(prod.URL, prod.URL, prod.URL, prod.URL, prod.URL); n != 1 {
		t.Errorf("5 at prod: %d refused, want 1", n)
	}
}
