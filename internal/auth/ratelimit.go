package auth

import (
	"sync"
	"time"
)

// RateLimit caps sign-ins and sign-ups. Zero fields take the defaults.
type RateLimit struct {
	// PerIP is the attempts one client address may make per Window;
	// default 30.
	PerIP int
	// PerEmail is the attempts for one email per Window; default 10.
	PerEmail int
	// Window defaults to one minute.
	Window time.Duration
}

func (r RateLimit) withDefaults() RateLimit {
	if r.PerIP <= 0 {
		r.PerIP = 30
	}
	if r.PerEmail <= 0 {
		r.PerEmail = 10
	}
	if r.Window <= 0 {
		r.Window = time.Minute
	}
	return r
}

// limiter is a fixed-window counter per key, kept in memory.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	start  time.Time
	counts map[string]int
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, counts: map[string]int{}}
}

func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= l.window {
		l.start, l.counts = now, map[string]int{}
	}
	l.counts[key]++
	return l.counts[key] <= l.max
}
