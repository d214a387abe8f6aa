package sync

import (
	"bytes"
	"context"
	"strings"
	"testing"
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
