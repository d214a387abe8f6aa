package config

import (
	"errors"
	"strings"
	"testing"
)

// databricks.rate_limit is a whole number of requests per second, 1 to
// MaxRateLimit; left out it is 0 (the SDK's default); anything else is one
// error at its line and column.
func TestDatabricksRateLimit(t *testing.T) {
	const head = "bitbucket:\n  workspace: acme\ndatabricks:\n  host: https://adb-1.cloud.databricks.com\n"
	for _, tc := range []struct {
		src  string
		want int
	}{
		{head, 0},
		{head + "  rate_limit: 50\n", 50},
		{head + "  rate_limit: 1000\n", 1000},
	} {
		c, err := Parse("bitbricks.yaml", []byte(tc.src))
		if err != nil || c.Databricks.RateLimit != tc.want {
			t.Errorf("%q: rate limit %v, %v; want %d", tc.src, c, err, tc.want)
		}
	}
	for _, tc := range []struct {
		src       string
		line, col int
		want      string
	}{
		{head + "  rate_limit: 0\n", 5, 15, "databricks.rate_limit must be a whole number of requests per second from 1 to 1000, not 0; leave it out for the Databricks SDK's default (15)"},
		{head + "  rate_limit: -3\n", 5, 15, "from 1 to 1000, not -3"},
		{head + "  rate_limit: 5000\n", 5, 15, "from 1 to 1000, not 5000"},
		{head + "  rate_limit: fast\n", 5, 15, "databricks.rate_limit must be a whole number"},
		{head + "  rate_limit: 2.5\n", 5, 15, "databricks.rate_limit must be a whole number"},
	} {
		_, err := Parse("bitbricks.yaml", []byte(tc.src))
		var ce *Error
		if err == nil || !errors.As(err, &ce) || ce.Line != tc.line || ce.Col != tc.col || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want one line at %d:%d containing %q", tc.src, err, tc.line, tc.col, tc.want)
		}
	}
}
