//go:build linux

package sync

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// machineID names this machine and process namespace: the kernel's boot id
// and the pid namespace, so that a process id is only ever judged where it
// means the same process (two containers with one host name, or one host
// rebooted, give different ids). "" when it cannot be told.
func machineID() string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil || strings.TrimSpace(string(boot)) == "" {
		return ""
	}
	return strings.TrimSpace(string(boot)) + "/" + ns
}

// processState tells whether the process pid of this machine runs: known
// false only when the kernel says there is no such process.
func processState(pid int) (alive, known bool) {
	if pid <= 0 {
		return false, false
	}
	err := syscall.Kill(pid, 0)
	switch {
	case err == nil, errors.Is(err, syscall.EPERM):
		return true, true
	case errors.Is(err, syscall.ESRCH):
		return false, true
	}
	return false, false
}
