package warden

// The internals the external tests (package warden_test) look at, and
// nothing more: the behaviour tests go through the public API and the
// shared harness of helpers_test.go, and read unexported state only here.
// Tests of the unexported parsers and of the token cache's own structure
// stay in package warden (fuzz_internal_test.go, cache_internal_test.go).

import (
	"runtime/debug"
	"time"
)

// Defaults and limits the tests count against.
const (
	DefaultLeeway          = defaultLeeway
	DefaultBasicCacheTTL   = defaultBasicCacheTTL
	BasicThrottleFailures  = basicThrottleFailures
	BasicThrottleWindow    = basicThrottleWindow
	MaxBasicFailureEntries = maxBasicFailureEntries
)

// CachedTokens returns how many verified tokens m's token cache holds.
func CachedTokens(m *Middleware) int { return m.tokens.tokens.len() }

// TokenCached reports whether m's token cache answers for raw at now.
func TokenCached(m *Middleware, raw string, now time.Time) bool {
	_, ok := m.tokens.tokens.get(raw, now)
	return ok
}

// ParseAuthorization reports whether an Authorization field value holds
// well-formed credentials (of at most the default size).
func ParseAuthorization(v string) bool {
	_, e := parseAuthorization(v, defaultMaxTokenSize)
	return e == nil
}

// SetBasicSlotWait sets how long a Basic check waits for a hashing slot
// (basicSlotWait by default).
func SetBasicSlotWait(m *Middleware, d time.Duration) { m.clients.slotWait = d }

// BasicSlotWaiters returns how many Basic checks wait for a hashing slot.
func BasicSlotWaiters(m *Middleware) int { return int(m.clients.slots.waiting.Load()) }

// BasicMAC returns the key under which m remembers the Basic credentials
// token68.
func BasicMAC(m *Middleware, token68 string) [32]byte { return m.clients.macOf(token68) }

// BasicFailureKeys returns the keys of m's memory of failed Basic
// credentials.
func BasicFailureKeys(m *Middleware) [][32]byte {
	f := &m.clients.failures
	f.mu.RLock()
	defer f.mu.RUnlock()
	keys := make([][32]byte, 0, len(f.m))
	for k := range f.m {
		keys = append(keys, k)
	}
	return keys
}

// BasicThrottledIDs returns how many client ids m's Basic throttle counts.
func BasicThrottledIDs(m *Middleware) int {
	t := &m.clients.throttle
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// RaceEnabled reports whether the test binary was built with -race.
func RaceEnabled() bool { return raceEnabled() }

func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
