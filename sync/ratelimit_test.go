package sync

import (
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// databricks.rate_limit reaches the SDK config of the clients built from
// the config (workspace and account); options given by a caller (tests,
// the demo) win; unset, the SDK keeps its own default.
func TestDatabricksRateLimitReachesTheSDK(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	cfg := *e.cfg
	for _, tc := range []struct {
		config, option, want int
	}{
		{0, 0, 0}, // the SDK's default (15) applies
		{40, 0, 40},
		{40, 1000, 1000},
	} {
		cfg.Databricks.RateLimit = tc.config
		d, err := NewDatabricks(&cfg, withAccount(e.org, DatabricksOptions{Host: e.http.URL, Token: e.org.Creds.DatabricksToken, RateLimit: tc.option}))
		if err != nil {
			t.Fatal(err)
		}
		if got := d.w.Config.RateLimitPerSecond; got != tc.want {
			t.Errorf("config %d, option %d: workspace client rate limit %d, want %d", tc.config, tc.option, got, tc.want)
		}
		if d.a == nil {
			t.Fatalf("no account client (account access: %v)", d.accErr)
		}
		if got := d.a.Config.RateLimitPerSecond; got != tc.want {
			t.Errorf("config %d, option %d: account client rate limit %d, want %d", tc.config, tc.option, got, tc.want)
		}
	}
}
