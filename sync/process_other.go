//go:build !linux

package sync

// Elsewhere a process id cannot be tied to this machine safely: a lease is
// never taken over early, and `unlock` treats a holder on this host as
// possibly running.
func machineID() string { return "" }

func processStart(int) string { return "" }

func processState(int, string) (alive, known bool) { return false, false }
