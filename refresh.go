package warden

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// startLocked starts a refresh; s.mu is held and none is running.
func (s *remoteSource) startLocked() *refreshCall {
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
func (s *remoteSource) refresh(call *refreshCall) {
	defer s.wg.Done()
	started := time.Now() // real time: Config.Now may be a frozen test clock
	set, ttl, err := s.fetchKeys()
	took := time.Since(started)
	now := s.now()
	s.mu.Lock()
	var stale time.Duration
	if err == nil {
		if prev := s.snap.Load(); prev != nil {
			set.keepUnchanged(prev.set) // cached tokens survive a refresh that kept their key
		}
		s.snap.Store(&snapshot{set: set, fetched: now})
		s.failures, s.lastErr, s.wasUnusable = 0, nil, false
		if !s.closed {
			s.due.Store(now.Add(s.refreshDelay(ttl)).UnixNano())
		}
	} else if !s.closed { // a fetch Close cancelled is no issuer failure
		s.failures++
		s.lastErr = err
		s.due.Store(now.Add(s.backoff()).UnixNano())
		if snap := s.snap.Load(); snap != nil {
			stale = now.Sub(snap.fetched)
		}
	}
	failures, closed := s.failures, s.closed
	unusable := err != nil && !s.usable(s.snap.Load(), now)
	firstUnusable := unusable && !s.wasUnusable
	s.wasUnusable = s.wasUnusable || unusable
	s.inflight = nil
	call.err = err
	s.mu.Unlock()
	// Reported before waiters are released, so the first refresh is
	// recorded by the time New returns.
	if s.cfg.OnRefresh != nil && !closed {
		ev := KeyRefresh{Issuer: s.issuer, Err: err, Duration: took}
		if err == nil {
			ev.Keys = len(set.all)
		}
		s.cfg.OnRefresh(ev)
	}
	close(call.done)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	switch {
	case err == nil:
		s.logger.Debug("warden: key set refreshed", "issuer", s.issuer, "keys", len(set.all))
	case closed:
		// Close cancelled the request: not an issuer failure.
	case firstUnusable:
		s.logger.Error("warden: no usable key set; requests get 503 until a refresh succeeds",
			"issuer", s.issuer, "error", err, "failures", failures, "stale_for", stale)
	default:
		s.logger.Warn("warden: key refresh failed; serving the last good key set",
			"issuer", s.issuer, "error", err, "failures", failures, "stale_for", stale)
	}
}

// fetchKeys discovers the JWK Set URL if needed, then fetches and parses the
// set. It returns the response's freshness lifetime, or -1 if it gave none.
func (s *remoteSource) fetchKeys() (*keySet, time.Duration, error) {
	if s.jwksURL == "" {
		u, err := discover(s.ctx, s.fetch, s.issuer, s.discoveryURL)
		if err != nil {
			return nil, 0, err
		}
		s.jwksURL, s.discovered = u, true
	}
	body, header, err := s.fetch.get(s.ctx, s.jwksURL, "application/jwk-set+json, application/json")
	if err != nil {
		var se *statusError
		if s.discovered && errors.As(err, &se) && (se.code == http.StatusNotFound || se.code == http.StatusGone) {
			s.jwksURL = "" // the issuer may have moved its keys: discover again next time
		}
		return nil, 0, err
	}
	set, err := parseJWKS(body)
	if err == nil && len(set.all) == 0 {
		err = errNoUsableKeys
	}
	if err != nil {
		u, _ := url.Parse(s.jwksURL) // just fetched, so it parses
		return nil, 0, fmt.Errorf("%s: %w", redact(u), err)
	}
	ttl, ok := freshness(header)
	if !ok {
		ttl = -1
	}
	return set, ttl, nil
}

// defaultKeyLifetime is assumed for a JWK Set response without max-age.
const defaultKeyLifetime = time.Hour

// refreshDelay turns a response's freshness lifetime into the wait before
// the next refresh: 80-90 % of it (ahead of expiry, and spread so a fleet of
// servers does not refresh in step), clamped to [MinRefreshInterval,
// MaxRefreshInterval], and never more than half of MaxStaleness, so a failed
// refresh is retried before the keys expire.
func (s *remoteSource) refreshDelay(ttl time.Duration) time.Duration {
	if ttl < 0 {
		ttl = defaultKeyLifetime
	}
	d := ttl - ttl/10 - jitter(ttl/10)
	d = min(max(d, s.cfg.MinRefreshInterval), s.cfg.MaxRefreshInterval)
	return max(min(d, s.cfg.MaxStaleness/2), time.Millisecond)
}

// backoff is the wait after the n-th consecutive failure: 1 s doubling up
// to MinRefreshInterval (and at most 5 min), with jitter.
func (s *remoteSource) backoff() time.Duration {
	ceiling := min(s.cfg.MinRefreshInterval, 5*time.Minute)
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

// startLoop runs the background refresh loop until close.
func (s *remoteSource) startLoop() {
	s.mu.Lock()
	s.startedLooper = true
	s.mu.Unlock()
	go s.loop()
}

// loop starts each scheduled refresh when it is due. Requests do the same
// (refreshIfDue), so the loop only matters while no request arrives.
func (s *remoteSource) loop() {
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
		now := s.now()
		s.refreshIfDue(now)
		// Re-read the clock at least once a minute: Config.Now may jump.
		wait := 10 * time.Millisecond
		if due, at := s.due.Load(), now.UnixNano(); due > at {
			wait = max(time.Duration(min(due-at, int64(time.Minute))), wait)
		}
		timer.Reset(wait)
	}
}

// isLoopbackHost reports whether host is localhost or a loopback address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
