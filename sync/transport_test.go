package sync

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// scripted answers each request with the next status (200 after the script).
func scripted(t *testing.T, retryAfter string, statuses ...int) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		w.Header().Set("Content-Type", "application/json")
		if i < len(statuses) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(statuses[i])
		}
		io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func fastTransport() *retryTransport {
	return &retryTransport{base: http.DefaultTransport, retries: RetryAttempts - 1, unit: time.Millisecond, budget: RetryBudget, attempt: AttemptTimeout}
}

func TestRetryTransportRetriesAndBounds(t *testing.T) {
	for _, tc := range []struct {
		name       string
		method     string
		path       string
		retryAfter string
		statuses   []int
		wantStatus int
		wantSent   int64
	}{
		{"5xx then success", "GET", "/x", "", []int{500, 502, 503, 504}, 200, 5},
		{"429 honours Retry-After 0", "DELETE", "/x", "0", []int{429, 429}, 200, 3},
		{"attempts bounded", "GET", "/x", "", []int{500, 500, 500, 500, 500, 500, 500}, 500, RetryAttempts},
		{"a POST that may have run is not repeated", "POST", "/x", "", []int{500}, 500, 1},
		{"a POST refused with 503 is", "POST", "/x", "", []int{503}, 200, 2},
		{"Atlassian's search POST is a read", "POST", "/users/search", "", []int{500}, 200, 2},
		{"Retry-After past the budget ends the call", "GET", "/x", "3600", []int{429}, 429, 1},
		{"4xx is an answer", "GET", "/x", "", []int{404}, 404, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := scripted(t, tc.retryAfter, tc.statuses...)
			tr := fastTransport()
			c := &http.Client{Transport: tr}
			req, _ := http.NewRequestWithContext(context.Background(), tc.method, srv.URL+tc.path, strings.NewReader(`{"q":1}`))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || n.Load() != tc.wantSent || tr.Requests() != tc.wantSent {
				t.Errorf("status %d after %d requests (counted %d), want %d after %d", resp.StatusCode, n.Load(), tr.Requests(), tc.wantStatus, tc.wantSent)
			}
		})
	}
}

func TestRetryTransportGivesEachRequestADeadline(t *testing.T) {
	release := make(chan struct{})
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select { // a server that never answers
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	tr := fastTransport()
	tr.attempt = 20 * time.Millisecond
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	_, err := (&http.Client{Transport: tr}).Do(req)
	if err == nil || !strings.Contains(err.Error(), "no answer from") {
		t.Fatalf("Do = %v, want a deadline error", err)
	}
	// Counted as the transport sent them: on a loaded machine a request
	// can be given up on before the server has read it, so the server may
	// see fewer, never more.
	if got := tr.Requests(); got != RetryAttempts || n.Load() > got {
		t.Errorf("%d requests sent (%d reached the server), want %d (each given up on, then retried)", got, n.Load(), RetryAttempts)
	}
}

func TestConnBreakerStopsRetryingADeadConnection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close() // dropped without an answer
			return
		}
		io.WriteString(w, "{}")
	}))
	defer srv.Close()
	b := &connBreaker{base: http.DefaultTransport}
	c := &http.Client{Transport: b}
	for i := range BreakerFailures + 2 {
		req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/t", nil)
		_, err := c.Do(req)
		var be *BreakerError
		if gotBreaker := errors.As(err, &be); gotBreaker != (i >= BreakerFailures) {
			t.Errorf("DELETE %d: %v", i, err)
		}
		if err != nil && strings.Contains(err.Error(), "connection reset by peer") && i >= BreakerFailures {
			t.Errorf("the breaker's error reads as transient to the SDK: %v", err)
		}
	}
	if b.Requests() != BreakerFailures {
		t.Errorf("%d DELETEs sent, want %d", b.Requests(), BreakerFailures)
	}
	// Another method to the host is not held back.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/t", nil)
	if resp, err := c.Do(req); err != nil {
		t.Errorf("GET after DELETEs failed: %v", err)
	} else {
		resp.Body.Close()
	}
}
