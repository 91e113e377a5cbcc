package warden

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Limits on the password hashing that failed Basic credentials cost. A
// ClientVerifier such as ClientStore spends tens of milliseconds of CPU (and,
// for argon2id, its memory) on every check, and RFC 6749 §2.3.1 and §10.10
// require protection against guessing client secrets. Three limits apply,
// none of them configurable:
//
//   - at most GOMAXPROCS checks run at once; a request that finds no free
//     slot within basicSlotWait is refused with ReasonBasicOverloaded (503);
//   - credentials that failed are refused without a check for BasicCacheTTL
//     (failureMemory, keyed like the success cache);
//   - after basicThrottleFailures failed checks for one client id within
//     basicThrottleWindow, further new credentials for that id are refused
//     without a check until the window ends, with ReasonBasicThrottled (429).
//     Known and unknown client ids are counted alike.
const (
	// basicSlotWait is how long a request waits for a free hashing slot:
	// a few checks' worth, so a short burst queues instead of failing.
	basicSlotWait = 200 * time.Millisecond
	// basicThrottleFailures failed checks per client id and window are
	// allowed: enough for a client whose secret was just rotated to retry.
	basicThrottleFailures = 10
	// maxBasicFailureEntries bounds failureMemory and failureThrottle each.
	// Every entry is created by a check, and checks are bounded by the
	// slots, so a flood of random ids or secrets only churns the map.
	maxBasicFailureEntries = 4096
)

// Causes of the refusals decided here, for logs and errors.Is.
var (
	errThrottled  = errors.New("too many failed checks for this client id")
	errOverloaded = errors.New("no free slot to check client credentials")
)

// hashSlots bounds how many ClientVerifier calls run at once.
type hashSlots struct {
	ch      chan struct{}
	waiting atomic.Int32 // requests waiting for a slot, for tests
}

func newHashSlots(n int) *hashSlots { return &hashSlots{ch: make(chan struct{}, n)} }

// acquire takes a slot, waiting at most wait and never past the end of
// ctx. It reports whether a slot was taken; release must follow.
func (s *hashSlots) acquire(ctx context.Context, wait time.Duration) bool {
	select {
	case s.ch <- struct{}{}:
		return true
	default:
	}
	if wait <= 0 {
		return false
	}
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	// A real timer, not Config.Now: this bounds a wait, it does not read
	// the time of day (as Decision.Duration).
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case s.ch <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (s *hashSlots) release() { <-s.ch }

// failureMemory remembers credentials that failed until an expiry, keyed by
// the HMAC of the token68 (never the secret). A remembered failure answers
// at once: the client already knows those credentials fail.
type failureMemory struct {
	mu sync.RWMutex
	m  map[[32]byte]time.Time // expiry
}

func (f *failureMemory) has(key [32]byte, now time.Time) bool {
	f.mu.RLock()
	exp, ok := f.m[key]
	f.mu.RUnlock()
	return ok && now.Before(exp)
}

func (f *failureMemory) add(key [32]byte, expires, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.m) >= maxBasicFailureEntries {
		evictOne(f.m, func(exp time.Time) bool { return !now.Before(exp) }, nil)
	}
	f.m[key] = expires
}

// failureThrottle counts failed checks per client id, keyed by the HMAC of
// the id, in fixed windows that start with a window's first failure.
type failureThrottle struct {
	mu sync.Mutex
	m  map[[32]byte]throttleEntry
}

type throttleEntry struct {
	start    time.Time // of the window
	failures int
}

func (e throttleEntry) ended(now time.Time) bool {
	return !now.Before(e.start.Add(basicThrottleWindow))
}

func (e throttleEntry) blocks(now time.Time) bool {
	return e.failures >= basicThrottleFailures && !e.ended(now)
}

// blocked reports whether the id has used up its failures in this window.
func (t *failureThrottle) blocked(id [32]byte, now time.Time) bool {
	t.mu.Lock()
	e, ok := t.m[id]
	t.mu.Unlock()
	return ok && e.blocks(now)
}

// fail counts one failed check for id.
func (t *failureThrottle) fail(id [32]byte, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[id]
	if !ok || e.ended(now) {
		if !ok && len(t.m) >= maxBasicFailureEntries {
			// Ended windows go first, then ids that are not blocked, so a
			// flood of random ids cannot easily free a blocked one.
			evictOne(t.m, func(e throttleEntry) bool { return e.ended(now) },
				func(e throttleEntry) bool { return !e.blocks(now) })
		}
		e = throttleEntry{start: now}
	}
	e.failures++
	t.m[id] = e
}

// evictOne makes room in a full map: it drops every dead entry, and when none
// was dead one entry that is cheap to lose (cheap may be nil: any entry).
// Each call scans the map, which is fine because each insertion follows a
// password hash that costs far more.
func evictOne[V any](m map[[32]byte]V, dead, cheap func(V) bool) {
	// Keys are kept by value: taking the address of the loop variable
	// would allocate it on every iteration.
	var victim, fallback [32]byte
	var haveVictim, haveFallback bool
	for k, v := range m {
		switch {
		case dead(v):
			delete(m, k)
		case !haveVictim && (cheap == nil || cheap(v)):
			victim, haveVictim = k, true
		case !haveFallback:
			fallback, haveFallback = k, true
		}
	}
	if len(m) < maxBasicFailureEntries {
		return
	}
	switch {
	case haveVictim:
		delete(m, victim)
	case haveFallback:
		delete(m, fallback)
	}
}
