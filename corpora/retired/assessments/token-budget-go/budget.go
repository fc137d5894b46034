// Package gateway charges each tenant's token budget before a request reaches the
// embeddings provider.
package gateway

import (
	"sync"
	"time"
)

// Limiter tracks the tokens each tenant has spent in the current window.
type Limiter struct {
	mu           sync.RWMutex
	buckets      map[string]*bucket
	limits       map[string]int // tokens per window, loaded from the plans table at start-up
	defaultLimit int
	window       time.Duration
	now          func() time.Time
}

type bucket struct {
	mu          sync.Mutex
	used        int
	limit       int
	windowStart time.Time
}

// Reservation is handed back by Reserve; exactly one of Settle or Release must follow it.
type Reservation struct {
	tenant string
	tokens int
}

func NewLimiter(limits map[string]int, defaultLimit int, window time.Duration) *Limiter {
	return &Limiter{
		buckets:      make(map[string]*bucket),
		limits:       limits,
		defaultLimit: defaultLimit,
		window:       window,
		now:          time.Now,
	}
}

func (l *Limiter) bucketFor(tenant string) *bucket {
	l.mu.RLock()
	b, ok := l.buckets[tenant]
	l.mu.RUnlock()
	if ok {
		return b
	}
	limit, ok := l.limits[tenant]
	if !ok {
		limit = l.defaultLimit
	}
	b = &bucket{limit: limit, windowStart: l.now()}
	l.buckets[tenant] = b
	return b
}

// Reserve charges est tokens to tenant, or says how long until its window resets.
func (l *Limiter) Reserve(tenant string, est int) (*Reservation, time.Duration, bool) {
	b := l.bucketFor(tenant)
	b.mu.Lock()
	defer b.mu.Unlock()
	now := l.now()
	if now.Sub(b.windowStart) >= l.window {
		b.windowStart = now
		b.used = 0
	}
	if b.used >= b.limit {
		return nil, b.windowStart.Add(l.window).Sub(now), false
	}
	b.used += est
	return &Reservation{tenant: tenant, tokens: est}, 0, true
}

// Settle replaces the estimate with the tokens the provider actually billed.
func (l *Limiter) Settle(r *Reservation, actual int) {
	b := l.bucketFor(r.tenant)
	b.mu.Lock()
	b.used += actual - r.tokens
	b.mu.Unlock()
}

// Release returns a reservation for a call the provider never billed.
func (l *Limiter) Release(r *Reservation) {
	l.Settle(r, 0)
}

// Remaining reports the tokens tenant has left in the current window.
func (l *Limiter) Remaining(tenant string) int {
	b := l.bucketFor(tenant)
	b.mu.Lock()
	defer b.mu.Unlock()
	// the remaining tokens
	left := b.limit - b.used
	if left < 0 {
		return 0
	}
	return left
}

func EstimateTokens(inputs []string) int {
	n := 0
	for _, s := range inputs {
		n += len(s)
	}
	return n/4 + len(inputs)
}
