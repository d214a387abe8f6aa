package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	day         = 24 * time.Hour
	maxDuration = 100 * 365 * day
)

// ParseDuration parses a positive duration made of days, hours and minutes, largest unit
// first: "90d", "12h", "30m", "1d12h". Used for config values and flags like --older-than.
func ParseDuration(s string) (Duration, error) {
	q := quoteShort(s) // what errors show of s: quoted, and cut when long
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty duration; write it like 90d, 12h, 30m or 1d12h")
	}
	if strings.HasPrefix(in, "-") {
		return 0, fmt.Errorf("duration %s is negative; durations must be greater than zero", q)
	}
	var total time.Duration
	rest := in
	lastUnit := -1 // index into units, to keep units in order and unrepeated
	units := []struct {
		suffix byte
		size   time.Duration
	}{{'d', day}, {'h', time.Hour}, {'m', time.Minute}}
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("%s is not a duration; write it like 90d, 12h, 30m or 1d12h", q)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil || n > 100000 {
			return 0, fmt.Errorf("duration %s is too large", q)
		}
		u := -1
		for j, unit := range units {
			if rest[i] == unit.suffix {
				u = j
			}
		}
		if u < 0 || u <= lastUnit {
			return 0, fmt.Errorf("%s is not a duration; write it like 90d, 12h, 30m or 1d12h", q)
		}
		lastUnit = u
		total += time.Duration(n) * units[u].size
		rest = rest[i+1:]
	}
	if total <= 0 {
		return 0, fmt.Errorf("duration %s must be greater than zero", q)
	}
	if total > maxDuration {
		return 0, fmt.Errorf("duration %s is too large", q)
	}
	return Duration(total), nil
}

// quoteShort quotes s for an error message, cut to its first 40 characters
// so a long or garbled value cannot flood the line.
func quoteShort(s string) string {
	if r := []rune(s); len(r) > 40 {
		return strconv.Quote(string(r[:40])) + "…"
	}
	return strconv.Quote(s)
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Days returns the whole days in d.
func (d Duration) Days() int { return int(time.Duration(d) / day) }

// String prints d in the config's own notation: "90d", "1d12h", "30m".
func (d Duration) String() string {
	t := time.Duration(d)
	if t == 0 {
		return "0d"
	}
	if t < 0 || t%time.Minute != 0 {
		return t.String()
	}
	var b strings.Builder
	if n := t / day; n > 0 {
		fmt.Fprintf(&b, "%dd", n)
		t -= n * day
	}
	if n := t / time.Hour; n > 0 {
		fmt.Fprintf(&b, "%dh", n)
		t -= n * time.Hour
	}
	if n := t / time.Minute; n > 0 {
		fmt.Fprintf(&b, "%dm", n)
	}
	return b.String()
}

// MarshalText writes d as String does, so JSON and YAML output round-trip.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses d with ParseDuration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Set implements pflag.Value, so a Duration can back a flag such as --older-than 30d.
func (d *Duration) Set(s string) error { return d.UnmarshalText([]byte(s)) }

// Type implements pflag.Value.
func (d *Duration) Type() string { return "duration" }
