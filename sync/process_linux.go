//go:build linux

package sync

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
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

// procStat reads a process's state letter and start time (clock ticks
// after boot, as the kernel writes it) from /proc/PID/stat. err wraps
// fs.ErrNotExist when there is no such process.
func procStat(pid int) (state byte, start string, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, "", err
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses,
	// so the fields are counted after its last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, "", errors.New("unreadable /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || f[0] == "" {
		return 0, "", errors.New("unreadable /proc stat")
	}
	return f[0][0], f[19], nil // fields 3 (state) and 22 (starttime)
}

// processStart is the start time of process pid of this machine, as
// procStat reads it; "" when it cannot be read.
func processStart(pid int) string {
	_, start, err := procStat(pid)
	if err != nil {
		return ""
	}
	return start
}

// processState tells whether the process pid of this machine runs: known
// false only when the kernel says there is no such process, or that it
// ended (a zombie its parent has not reaped yet, state Z or X), or that the
// process of that id started at another time than start (the id was
// reused; start "" skips that check).
func processState(pid int, start string) (alive, known bool) {
	if pid <= 0 {
		return false, false
	}
	err := syscall.Kill(pid, 0)
	switch {
	case errors.Is(err, syscall.ESRCH):
		return false, true
	case err != nil && !errors.Is(err, syscall.EPERM):
		return false, false
	}
	state, got, err := procStat(pid)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, true // it ended meanwhile
	case err != nil:
		return true, true // /proc hidden from us: the kill answer stands
	case state == 'Z' || state == 'X':
		return false, true
	case start != "" && got != start:
		return false, true
	}
	return true, true
}
