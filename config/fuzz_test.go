package config

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Errors reach a terminal as one line of bounded length, whatever the input.
func checkErrorLine(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("error is not one line: %q", msg)
	}
	if n := utf8.RuneCountInString(msg); n > 2000 {
		t.Fatalf("error line of %d characters", n)
	}
}

// FuzzParse feeds arbitrary bytes to the config parser: it never panics, and
// either returns a config or one bounded line of error.
func FuzzParse(f *testing.F) {
	f.Add(Example())
	f.Add([]byte("bitbucket:\n  workspace: acme\ndatabricks:\n  host: https://adb-1.cloud.databricks.com\nmappings: []\n"))
	f.Add([]byte("policy:\n  token_max_age: 90d\n  token_warn_age: 120d\n"))
	f.Add([]byte("\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, src []byte) {
		t.Setenv("BITBRICKS_FUZZ_UNSET", "")
		cfg, err := Parse("/fuzz/bitbricks.yaml", src)
		checkErrorLine(t, err)
		if err == nil && cfg == nil {
			t.Fatal("no config and no error")
		}
	})
}

// FuzzParseDuration: a duration that parses is positive, bounded, and
// prints as text that parses back to it.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90d", "12h", "30m", "1d12h", "0d", "-1d", "1h1d", "99999999999d", " 7d ", "1d2h3m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		checkErrorLine(t, err)
		if err != nil {
			return
		}
		if d <= 0 || d.Std() > maxDuration {
			t.Fatalf("ParseDuration(%q) = %v, out of range", s, d.Std())
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, printed %q, parsed back %v, %v", s, d.Std(), d.String(), back.Std(), err)
		}
	})
}

// FuzzParseIdentityMap: a map that parses has keys that are an account id
// or a braced {uuid} and a userName for each; otherwise one line of error.
func FuzzParseIdentityMap(f *testing.F) {
	f.Add([]byte("\"557058:4f2c\": dee@partner.com\n\"{b2c3d4e5-0000-0000-0000-000000000000}\": ann@acme.com\n"))
	f.Add([]byte("{b2c3}: x@y.z\n"))
	f.Add([]byte("a: \n"))
	f.Add([]byte("- a\n- b\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		m, err := ParseIdentityMap("/fuzz/identities.yaml", src)
		checkErrorLine(t, err)
		if err != nil {
			return
		}
		for k, v := range m {
			if k == "" || strings.TrimSpace(v) == "" || strings.HasPrefix(k, "{") != strings.HasSuffix(k, "}") {
				t.Fatalf("identity map entry %q: %q accepted", k, v)
			}
		}
	})
}
