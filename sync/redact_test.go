package sync

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	sdklogger "github.com/databricks/databricks-sdk-go/logger"
)

func TestScrubHidesSecretsInDebugText(t *testing.T) {
	const (
		pat    = "dapi0123456789abcdef0123456789abcdef"
		secret = "dose00112233445566778899aabbccddeeff"
	)
	for _, in := range []string{
		`< {"secret": "` + secret + `", "id": "7"}`,
		`< {"token_value":"` + pat + `"}`,
		`> {"client_secret": "` + secret[:12] + `… (300 more bytes)`, // cut by the SDK's truncation
		"> * Authorization: Bearer " + pat,
		"> * Authorization: Basic YWRtaW5AYWNtZS5jb206QVRBVFQzeGZvb2Jhcg==",
		`password=hunter2hunter2 next`,
		"GET /2.0/workspaces/" + pat + "/members",
	} {
		out := Scrub(in)
		for _, leak := range []string{pat[8:], secret[8:], secret[4:12], "YWRtaW5A", "hunter2"} {
			if strings.Contains(out, leak) {
				t.Errorf("Scrub(%q) = %q: still holds %q", in, out, leak)
			}
		}
	}
	if got := Scrub(`{"id": "7", "comment": "bitbricks:etl"}`); got != `{"id": "7", "comment": "bitbricks:etl"}` {
		t.Errorf("Scrub changed text without secrets: %q", got)
	}
}

func TestSDKLoggerScrubsAndHonoursItsLevel(t *testing.T) {
	var b bytes.Buffer
	l := SDKLogger(&b, false)
	l.Debugf(context.Background(), "secret %s", "dose00112233445566778899aabbccddeeff")
	if b.Len() != 0 {
		t.Fatalf("debug written without debug: %q", b.String())
	}
	l = SDKLogger(&b, true)
	l.Debugf(context.Background(), `< {"secret": "%s"}`, "dose00112233445566778899aabbccddeeff")
	if !strings.Contains(b.String(), "[DEBUG]") || strings.Contains(b.String(), "00112233445566778899") {
		t.Errorf("debug line = %q", b.String())
	}
}

// The SDK's one logger forwards to the writer the last UseSDKLogger named,
// scrubbed; pointing it elsewhere (a command per test, at once) never
// writes the SDK's variable again, which the race detector caught.
func TestUseSDKLoggerForwards(t *testing.T) {
	ctx := context.Background()
	var a, b bytes.Buffer
	UseSDKLogger(&a, false)
	sdklogger.DefaultLogger.Errorf(ctx, "token %s", "dapi0123456789abcdef0123456789abcdef")
	UseSDKLogger(&b, true)
	sdklogger.DefaultLogger.Debugf(ctx, "to b")
	UseSDKLogger(io.Discard, false)
	if !strings.Contains(a.String(), "[ERROR] token dapi") || strings.Contains(a.String(), "0123456789abcdef0123") || strings.Contains(a.String(), "to b") {
		t.Errorf("first writer got %q", a.String())
	}
	if !strings.Contains(b.String(), "[DEBUG] to b") || strings.Contains(b.String(), "token") {
		t.Errorf("second writer got %q", b.String())
	}
	done := make(chan bool)
	for range 4 {
		go func() {
			UseSDKLogger(io.Discard, false)
			sdklogger.DefaultLogger.Errorf(ctx, "x")
			done <- true
		}()
	}
	for range 4 {
		<-done
	}
}
