package sync

import "testing"

// The canary of the email query is a member whose address has capitals when
// there is one, so a case-sensitive filter shows as an implausible answer.
func TestPresenceCanaryPrefersCapitals(t *testing.T) {
	for _, c := range []struct {
		known []string
		want  string
	}{
		{[]string{"bob@acme.com", "alice@acme.com"}, "alice@acme.com"},
		{[]string{"bob@acme.com", "Zed@acme.com", "alice@acme.com"}, "Zed@acme.com"},
		{[]string{"Zed@acme.com", "Bob@acme.com", "alice@acme.com"}, "Bob@acme.com"},
		{[]string{"carol@acme.com"}, "carol@acme.com"},
	} {
		if got := presenceCanary(c.known); got != c.want {
			t.Errorf("presenceCanary(%v) = %q, want %q", c.known, got, c.want)
		}
	}
}
