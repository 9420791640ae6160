// Package inngest speaks the Inngest SDK wire protocol on both sides: as
// the server, apps sync their functions (POST /fn/register) and errand runs
// them by calling the app's serve endpoint, turning the opcodes it answers
// with into errand steps (Executor); as an SDK, Server hosts Go functions
// behind such an endpoint (errand.ServeHandler).
package inngest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// units of Inngest time strings ("1w2d3h4m5s6ms"), longest suffix first
// where one is a prefix of another.
var units = []struct {
	suffix string
	d      time.Duration
}{{"ms", time.Millisecond}, {"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}

// ParseDuration reads an Inngest time string such as "1h30m", "2d" or
// "500ms". A bare number is milliseconds.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * float64(time.Millisecond)), nil
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		s = s[i:]
		matched := false
		for _, u := range units {
			if strings.HasPrefix(s, u.suffix) {
				total += time.Duration(n * float64(u.d))
				s = s[len(u.suffix):]
				matched = true
				break
			}
		}
		if !matched {
			return 0, fmt.Errorf("invalid duration unit in %q", s)
		}
	}
	return total, nil
}

// ParseTime reads a sleep target: an RFC 3339 time, or a duration from now.
func ParseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := ParseDuration(s)
	if err != nil {
		return time.Time{}, err
	}
	return now.Add(d), nil
}
