package jwks

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/wardenhq/warden/internal/fetch"
)

// startLocked starts a refresh; s.mu is held and none is running.
func (s *Remote) startLocked() *refreshCall {
	call := &refreshCall{done: make(chan struct{})}
	s.inflight = call
	s.due.Store(math.MaxInt64)
	s.wg.Add(1)
	go s.refresh(call)
	return call
}

// refresh fetches the key set once and schedules the next attempt: ahead of
// the response's expiry after a success, with exponential backoff after a
// failure. A failure never replaces the keys held.
func (s *Remote) refresh(call *refreshCall) {
	defer s.wg.Done()
	started := time.Now() // real time: Options.Now may be a frozen test clock
	set, ttl, err := s.fetchKeys()
	took := time.Since(started)
	now := s.opt.Now()
	s.mu.Lock()
	if err == nil {
		if prev := s.snap.Load(); prev != nil {
			set.KeepUnchanged(prev.set) // cached tokens survive a refresh that kept their key
		}
		s.snap.Store(&snapshot{set: set, fetched: now})
		if !s.closed {
			s.due.Store(now.Add(s.refreshDelay(ttl)).UnixNano())
		}
	} else if !s.closed { // a fetch Close cancelled is no issuer failure
		s.failures++
		s.lastErr = err
		if s.firstOnly && s.snap.Load() == nil {
			s.failedAt = now // no retry of its own: the registry decides (Registry.Source)
		} else {
			s.due.Store(now.Add(s.backoff()).UnixNano())
		}
	}
	report := s.noteLocked(err, set, now)
	failures, closed := s.failures, s.closed
	if err == nil {
		s.failures, s.lastErr = 0, nil
	}
	s.inflight = nil
	call.err = err
	s.mu.Unlock()
	// Reported before waiters are released, so the first refresh is
	// recorded by the time NewRemote returns.
	if s.opt.OnRefresh != nil && !closed {
		ev := Refresh{Err: err, Duration: took}
		if err == nil {
			ev.Keys = set.Len()
		}
		s.opt.OnRefresh(ev)
	}
	close(call.done)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if report != nil {
		report(s.opt.Logger, s.issuer, failures)
	}
}

// noteLocked moves the health state after a refresh and returns the log
// line the move deserves, or nil: one line per change of state, never one
// per retry, and nothing for the first fetch NewRemote waits for (its
// caller reports that failure) or for a fetch Close cancelled.
func (s *Remote) noteLocked(err error, set *Set, now time.Time) func(*slog.Logger, string, int) {
	prev := s.state
	if err == nil {
		s.state = healthOK
		switch prev {
		case healthNone:
			n := set.Len()
			return func(l *slog.Logger, iss string, _ int) {
				l.Info("warden: key set loaded", "issuer", iss, "keys", n)
			}
		case healthFailing, healthUnusable:
			n := set.Len()
			return func(l *slog.Logger, iss string, failures int) {
				l.Info("warden: key set refresh recovered", "issuer", iss, "keys", n, "failed_attempts", failures)
			}
		}
		return nil
	}
	if s.closed || s.starting {
		return nil
	}
	snap := s.snap.Load()
	next := healthFailing
	if !s.usable(snap, now) {
		next = healthUnusable
	}
	s.state = next
	if next == prev {
		return func(l *slog.Logger, iss string, failures int) {
			l.Debug("warden: key refresh failed again", "issuer", iss, "error", err, "failures", failures)
		}
	}
	switch {
	case next == healthFailing:
		fetched := snap.fetched
		return func(l *slog.Logger, iss string, failures int) {
			l.Warn("warden: key refresh failing; serving the last good key set", "issuer", iss, "error", err,
				"fetched_at", fetched, "max_staleness", s.opt.MaxStaleness)
		}
	case snap == nil:
		return func(l *slog.Logger, iss string, failures int) {
			l.Error("warden: no key set fetched yet; requests get 503 until a refresh succeeds", "issuer", iss, "error", err)
		}
	default:
		fetched := snap.fetched
		return func(l *slog.Logger, iss string, failures int) {
			l.Error("warden: key set stale beyond MaxStaleness; requests get 503 until a refresh succeeds", "issuer", iss,
				"error", err, "fetched_at", fetched, "failures", failures)
		}
	}
}

// fetchKeys discovers the JWK Set URL if needed, then fetches and parses the
// set. It returns the response's freshness lifetime, or -1 if it gave none.
func (s *Remote) fetchKeys() (*Set, time.Duration, error) {
	if s.jwksURL == "" {
		md, err := Discover(s.ctx, s.fetch, s.issuer, s.discoveryURL)
		if err != nil {
			return nil, 0, err
		}
		s.jwksURL, s.discovered = md.JWKSURI, true
	}
	body, header, err := s.fetch.Get(s.ctx, s.jwksURL, "application/jwk-set+json, application/json")
	if err != nil {
		var se *fetch.StatusError
		if s.discovered && errors.As(err, &se) && (se.Code == http.StatusNotFound || se.Code == http.StatusGone) {
			s.jwksURL = "" // the issuer may have moved its keys: discover again next time
		}
		return nil, 0, err
	}
	set, err := Parse(body)
	if err == nil && set.Len() == 0 {
		err = ErrNoUsableKeys
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", fetch.RedactString(s.jwksURL), err)
	}
	ttl, ok := fetch.Freshness(header)
	if !ok {
		ttl = -1
	}
	return set, ttl, nil
}

// defaultKeyLifetime is assumed for a JWK Set response without max-age.
const defaultKeyLifetime = time.Hour

// refreshDelay turns a response's freshness lifetime into the wait before
// the next refresh: 80-90 % of it (ahead of expiry, and spread so a fleet
// of servers does not refresh in step), clamped to [MinRefreshInterval,
// MaxRefreshInterval], and never more than half of MaxStaleness, so a
// failed refresh is retried before the keys expire.
func (s *Remote) refreshDelay(ttl time.Duration) time.Duration {
	lo, hi := s.opt.RefreshWindow(ttl)
	return lo + jitter(hi-lo)
}

// RefreshWindow returns when a set fetched with freshness lifetime ttl
// (negative: the response gave none) is refreshed next, as a range the
// delay is drawn from: see refreshDelay.
func (o Options) RefreshWindow(ttl time.Duration) (lo, hi time.Duration) {
	if ttl < 0 {
		ttl = defaultKeyLifetime
	}
	clamp := func(d time.Duration) time.Duration {
		d = min(max(d, o.MinRefreshInterval), o.MaxRefreshInterval)
		return max(min(d, o.MaxStaleness/2), time.Millisecond)
	}
	return clamp(ttl - ttl/10 - ttl/10), clamp(ttl - ttl/10)
}

// backoff is the wait after the n-th consecutive failure: 1 s doubling up
// to MinRefreshInterval (and at most 5 min), with jitter.
func (s *Remote) backoff() time.Duration {
	ceiling := min(s.opt.MinRefreshInterval, 5*time.Minute)
	d := ceiling
	if s.failures < 20 {
		d = min(time.Second<<(s.failures-1), ceiling)
	}
	return max(d-jitter(d/2), time.Millisecond)
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// startLoop runs the background refresh loop until Close.
func (s *Remote) startLoop() {
	s.mu.Lock()
	s.startedLooper = true
	s.mu.Unlock()
	go s.loop()
}

// loop starts each scheduled refresh when it is due. Requests do the same
// (refreshIfDue), so the loop only matters while no request arrives.
func (s *Remote) loop() {
	defer close(s.loopDone)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-timer.C:
		case <-s.wake:
		}
		now := s.opt.Now()
		s.refreshIfDue(now)
		// Re-read the clock at least once a minute: Options.Now may jump.
		wait := 10 * time.Millisecond
		if due, at := s.due.Load(), now.UnixNano(); due > at {
			wait = max(time.Duration(min(due-at, int64(time.Minute))), wait)
		}
		timer.Reset(wait)
	}
}
