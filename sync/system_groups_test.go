package sync

import "testing"

func TestSystemGroup(t *testing.T) {
	for name, want := range map[string]bool{"admins": true, "users": true, "account users": true, "de-team": false, "Admins": false, "": false} {
		why, ok := SystemGroup(name)
		if ok != want || (ok && why == "") {
			t.Errorf("SystemGroup(%q) = %q, %v; want %v with a reason", name, why, ok, want)
		}
	}
}
