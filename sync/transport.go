package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The Bitbucket and Atlassian transport's bounds. A call makes at most
// RetryAttempts requests within RetryBudget (waits included, so a
// Retry-After that would run past it is not waited for), and each request
// must answer within AttemptTimeout; bitbucketTimeout caps the whole call.
const (
	RetryAttempts  = 5
	RetryBudget    = 20 * time.Second
	AttemptTimeout = 10 * time.Second
	retryUnit      = 500 * time.Millisecond // first backoff step, doubled each time
	maxBackoff     = 8 * time.Second
)

// newHTTPClient is the one HTTP client of the Bitbucket and Atlassian
// adapters: it retries, bounds and counts every request (retryTransport).
func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout: bitbucketTimeout,
		Transport: &retryTransport{base: http.DefaultTransport, retries: RetryAttempts - 1, unit: retryUnit,
			budget: RetryBudget, attempt: AttemptTimeout},
	}
}

// retryTransport retries 429 and 5xx answers, connection resets and
// refusals, and truncated bodies, with exponential backoff and jitter,
// honouring Retry-After; bounded in attempts and total time (a Retry-After
// beyond the budget ends the call with the answer at hand); every request
// has a deadline for its answer. A request that may have changed something
// (POST, except Atlassian's read-only searches) is retried only when the
// server said it did not process it (429, 503). It reads JSON bodies whole,
// so a truncated or reset body is an error here rather than a silently
// short page inside go-bitbucket's pager. Requests counts every request sent.
type retryTransport struct {
	base    http.RoundTripper
	retries int           // retries after the first request
	unit    time.Duration // first backoff step
	budget  time.Duration // total time of one call, waits included; 0: RetryBudget
	attempt time.Duration // deadline of one request's answer; 0: none

	requests atomic.Int64
}

// Requests is how many HTTP requests the transport has sent, retries included.
func (t *retryTransport) Requests() int64 { return t.requests.Load() }

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	budget := t.budget
	if budget <= 0 {
		budget = RetryBudget
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	for attempt := 0; ; attempt++ {
		if attempt > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
		t.requests.Add(1)
		resp, err := t.send(req)
		if err == nil {
			resp, err = checkBody(resp)
		}
		var retryAfter string
		retry := false
		switch {
		case err != nil:
			retry = idempotent(req) && transient(err)
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
			retry, retryAfter = true, resp.Header.Get("Retry-After")
		case resp.StatusCode == http.StatusInternalServerError || resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout:
			retry = idempotent(req)
		}
		if !retry || !replayable || attempt >= t.retries {
			return resp, err
		}
		wait, fromServer := t.backoff(attempt, retryAfter)
		left := budget - time.Since(start)
		if wait > left {
			if fromServer || left <= 0 {
				return resp, err // the server asks for longer than the call may take
			}
			wait = left
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		timer := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		case <-timer.C:
		}
	}
}

// send makes one request with its own deadline for the answer's headers;
// the body, once the headers are in, is read under the caller's context.
func (t *retryTransport) send(req *http.Request) (*http.Response, error) {
	return sendWithDeadline(t.base, req, t.attempt)
}

// sendWithDeadline sends req through base; without its answer's headers
// within d (0: no deadline), it gives up with errAttemptTimeout.
func sendWithDeadline(base http.RoundTripper, req *http.Request, d time.Duration) (*http.Response, error) {
	if d <= 0 {
		return base.RoundTrip(req)
	}
	ctx, cancel := context.WithCancel(req.Context())
	timer := time.AfterFunc(d, cancel)
	resp, err := base.RoundTrip(req.WithContext(ctx))
	if !timer.Stop() && err != nil && req.Context().Err() == nil {
		cancel()
		return nil, fmt.Errorf("no answer from %s within %s: %w", req.URL.Host, d, errAttemptTimeout)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// errAttemptTimeout is a request that got no answer within its deadline.
var errAttemptTimeout = errors.New("request deadline exceeded")

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	defer b.cancel()
	return b.ReadCloser.Close()
}

// backoff is the wait before retry attempt+1: the server's Retry-After
// (seconds or an HTTP date) when given, else exponential with jitter.
func (t *retryTransport) backoff(attempt int, retryAfter string) (wait time.Duration, fromServer bool) {
	if retryAfter = strings.TrimSpace(retryAfter); retryAfter != "" {
		if s, err := strconv.Atoi(retryAfter); err == nil && s >= 0 {
			return time.Duration(s) * time.Second, true
		}
		if at, err := http.ParseTime(retryAfter); err == nil {
			return max(time.Until(at), 0), true
		}
	}
	d := min(t.unit<<attempt, maxBackoff)
	return d + rand.N(d/4+1), false
}

// idempotent reports a request that may be sent twice without harm: a read,
// a PUT or DELETE, or one of the Atlassian Admin API's searches (POST, but
// read-only).
func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	case http.MethodPost:
		return strings.HasSuffix(req.URL.Path, "/search")
	}
	return false
}

// transient reports a failure worth another try: a connection reset,
// refused or dropped, a body cut short, or no answer in time.
func transient(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled) && !errors.Is(err, errAttemptTimeout):
		return false
	case errors.Is(err, errAttemptTimeout), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, errIncompleteBody):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return false
}

// errIncompleteBody marks a 2xx JSON body that is not valid JSON (cut short).
var errIncompleteBody = errors.New("incomplete JSON body")

// connBreaker bounds how long the Databricks SDK goes on retrying a
// connection that keeps failing. The SDK retries resets and refusals for its
// whole retry budget (30 s), call after call: a dead endpoint would cost that
// much per revoke. After BreakerFailures connection failures in a row for a
// host and method, further requests fail at once with an error the SDK does
// not retry, until one gets through after BreakerCooldown. Requests counts
// every request sent.
type connBreaker struct {
	base http.RoundTripper

	mu    gosync.Mutex
	state map[string]*breakerState // by method and host

	requests atomic.Int64
}

type breakerState struct {
	failures int
	last     time.Time
}

const (
	BreakerFailures     = 3
	BreakerCooldown     = 30 * time.Second
	WriteAttemptTimeout = 10 * time.Second
)

// Requests is how many HTTP requests went out, retries included.
func (b *connBreaker) Requests() int64 { return b.requests.Load() }

func (b *connBreaker) RoundTrip(req *http.Request) (*http.Response, error) {
	key := req.Method + " " + req.URL.Host
	b.mu.Lock()
	if b.state == nil {
		b.state = map[string]*breakerState{}
	}
	st := b.state[key]
	if st != nil && st.failures >= BreakerFailures && time.Since(st.last) < BreakerCooldown {
		n := st.failures
		b.mu.Unlock()
		// Worded so that the SDK does not take it for a transient error.
		return nil, &BreakerError{Host: req.URL.Host, Method: req.Method, Failures: n}
	}
	b.mu.Unlock()
	b.requests.Add(1)
	deadline := time.Duration(0)
	if req.Method != http.MethodGet {
		// A change must answer in seconds; reads keep the SDK's longer
		// timeout, for big pages.
		deadline = WriteAttemptTimeout
	}
	resp, err := sendWithDeadline(b.base, req, deadline)
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case err == nil:
		delete(b.state, key)
	case transient(err) || errors.Is(err, syscall.EPIPE):
		if st == nil {
			st = &breakerState{}
			b.state[key] = st
		}
		st.failures++
		st.last = time.Now()
	}
	return resp, err
}

// BreakerError is a request not sent because the connection to its host
// failed too often in a row just before.
type BreakerError struct {
	Host, Method string
	Failures     int
}

func (e *BreakerError) Error() string {
	return fmt.Sprintf("%s %s: gave up after %d failed connections in a row (the service reset or dropped them); not tried again for %s",
		e.Method, e.Host, e.Failures, BreakerCooldown)
}
