package warden

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// normalizeKeySourceConfig applies the KeySourceConfig defaults.
func normalizeKeySourceConfig(k KeySourceConfig) (KeySourceConfig, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&k.MinRefreshInterval, time.Minute)
	def(&k.MaxRefreshInterval, 24*time.Hour)
	def(&k.UnknownKIDInterval, 5*time.Second)
	def(&k.UnknownKIDWait, time.Second)
	def(&k.MaxStaleness, 24*time.Hour)
	def(&k.FetchTimeout, 10*time.Second)
	if k.MaxResponseSize == 0 {
		k.MaxResponseSize = 1 << 20
	}
	if k.MinRefreshInterval < 0 || k.MaxRefreshInterval < k.MinRefreshInterval || k.UnknownKIDInterval < 0 ||
		k.UnknownKIDWait < 0 || k.MaxStaleness < 0 || k.FetchTimeout < 0 || k.MaxResponseSize < 0 {
		return k, configErrorf("Keys: intervals must be positive and MinRefreshInterval ≤ MaxRefreshInterval")
	}
	return k, nil
}

// KeyFetchError is returned by New when an issuer's first key set cannot be
// obtained and Keys.LazyStart is not set. Err is the cause (connection
// refused, a status other than 200, a discovery document naming another
// issuer, a JWK Set with no usable key, a timeout, and so on).
type KeyFetchError struct {
	// Issuer is the configured issuer whose keys are missing.
	Issuer string
	// Err is the cause.
	Err error
}

// Error names the issuer and the cause.
func (e *KeyFetchError) Error() string {
	return "warden: issuer " + strconv.Quote(e.Issuer) + ": no key set: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *KeyFetchError) Unwrap() error { return e.Err }

// remoteSource serves the keys of an issuer whose JWK Set is fetched over
// HTTP. Parsing uses jwkset (parseJWKS), but lookups go to our own immutable
// keySet snapshot, not to keyfunc: keyfunc's Keyfunc re-marshals the JWK on
// every call and blocks on its rate limiter (up to a minute by default) when
// a kid is unknown. Here a known kid costs an atomic load and a map lookup,
// and every wait is bounded by UnknownKIDWait.
type remoteSource struct {
	issuer       string
	discoveryURL string // explicit discovery document, or "" to derive it
	cfg          KeySourceConfig
	fetch        *fetcher
	logger       *slog.Logger
	now          func() time.Time

	snap atomic.Pointer[snapshot]
	// due is when (UnixNano on the injected clock) the next scheduled refresh
	// or retry is due; math.MaxInt64 while one is running. Requests compare
	// it with the clock and start the refresh themselves, so refresh-ahead
	// also works when Config.Now is not the wall clock.
	due atomic.Int64

	ctx      context.Context // cancelled by close
	cancel   context.CancelFunc
	wake     chan struct{} // a refresh finished: the loop recomputes its timer
	loopDone chan struct{}
	wg       sync.WaitGroup // running refreshes

	// jwksURL is the JWK Set location, from the configuration or discovery.
	// Only refreshes touch it, and refreshes never overlap.
	jwksURL    string
	discovered bool

	mu            sync.Mutex
	closed        bool
	inflight      *refreshCall // the one running refresh, shared by all callers
	lastKIDFetch  time.Time    // start of the last refresh an unknown kid triggered
	unknown       *kidMemo
	failures      int
	lastErr       error
	wasUnusable   bool
	startedLooper bool
}

// snapshot is the key set of the last successful refresh and when it was
// fetched, on the injected clock.
type snapshot struct {
	set     *keySet
	fetched time.Time
}

// refreshCall is one running refresh; done is closed when it ends.
type refreshCall struct {
	done chan struct{}
	err  error
}

// errNoUsableKeys: a JWK Set held no key warden can verify with. An issuer
// never legitimately publishes an empty set, so such a refresh counts as
// failed and the previous keys stay (attack table H5): an outage or a
// misconfigured issuer must not log everyone out.
var errNoUsableKeys = errors.New("JWK Set holds no usable signing key")

// newRemoteSource builds the key source of an issuer whose keys are fetched
// over HTTP: a JWKS URL, a discovery document URL, or discovery from the
// issuer. Unless ks.LazyStart is set, it waits up to ks.FetchTimeout for the
// first key set and returns a *KeyFetchError if there is none.
func newRemoteSource(ic IssuerConfig, ks KeySourceConfig, client *http.Client, logger *slog.Logger, now func() time.Time) (keySource, error) {
	if ic.JWKSURL == "" && ic.DiscoveryURL == "" {
		if _, err := discoveryURLs(ic.Issuer); err != nil {
			return nil, configErrorf("%v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &remoteSource{
		issuer: ic.Issuer, discoveryURL: ic.DiscoveryURL, jwksURL: ic.JWKSURL,
		cfg: ks, fetch: newFetcher(client, ks), logger: logger, now: now,
		ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), loopDone: make(chan struct{}),
		unknown: newKIDMemo(),
	}
	s.due.Store(math.MinInt64) // the first refresh is due at once
	if ks.LazyStart {
		s.startLoop()
		return s, nil
	}
	s.mu.Lock()
	call := s.startLocked()
	s.mu.Unlock()
	timer := time.NewTimer(ks.FetchTimeout)
	defer timer.Stop()
	var cause error
	select {
	case <-call.done:
		cause = call.err
	case <-timer.C:
		cause = errors.New("no key set within FetchTimeout (" + ks.FetchTimeout.String() + ")")
	}
	if cause != nil {
		s.close()
		return nil, &KeyFetchError{Issuer: ic.Issuer, Err: cause}
	}
	s.startLoop()
	return s, nil
}

// key returns the key for a token header. A known kid never waits; an
// unknown one waits at most UnknownKIDWait for a refresh it shares with
// every other request waiting at the time.
func (s *remoteSource) key(ctx context.Context, kid string, hasKID bool, alg string) (*verificationKey, error) {
	now := s.now()
	s.refreshIfDue(now)
	snap := s.snap.Load()
	if !s.usable(snap, now) {
		return s.awaitRefresh(ctx, kid, hasKID, alg, false)
	}
	if k, ok := snap.set.find(kid, hasKID, alg); ok {
		return k, nil
	}
	if _, known := snap.set.byKID[kid]; !hasKID || known {
		// A fresh set cannot fix a kid that is present with another alg, nor
		// make a token without kid unambiguous: no refresh for those.
		return nil, errUnknownKID
	}
	return s.awaitRefresh(ctx, kid, hasKID, alg, true)
}

// holds reports whether k is in the current set and that set is usable.
func (s *remoteSource) holds(k *verificationKey) bool {
	now := s.now()
	s.refreshIfDue(now)
	snap := s.snap.Load()
	return s.usable(snap, now) && snap.set.holds(k)
}

// usable reports whether snap may verify tokens at now: it exists and was
// confirmed no longer than MaxStaleness ago.
func (s *remoteSource) usable(snap *snapshot, now time.Time) bool {
	return snap != nil && now.Sub(snap.fetched) <= s.cfg.MaxStaleness
}

// refreshIfDue starts the scheduled refresh (or retry) when its time has
// come, without waiting for it.
func (s *remoteSource) refreshIfDue(now time.Time) {
	if now.UnixNano() < s.due.Load() {
		return
	}
	s.mu.Lock()
	if s.inflight == nil && !s.closed && now.UnixNano() >= s.due.Load() {
		s.startLocked()
	}
	s.mu.Unlock()
}

// awaitRefresh handles a request the current set cannot answer: an unknown
// kid (forKID), or no usable set at all. It joins the running refresh, or
// starts one when an unknown kid may (at most one per UnknownKIDInterval),
// and waits at most UnknownKIDWait for it.
func (s *remoteSource) awaitRefresh(ctx context.Context, kid string, hasKID bool, alg string, forKID bool) (*verificationKey, error) {
	now := s.now()
	s.mu.Lock()
	if forKID && s.unknown.has(kid, now) {
		s.mu.Unlock()
		return nil, errUnknownKID
	}
	call := s.inflight
	if call == nil && forKID && !s.closed &&
		(s.lastKIDFetch.IsZero() || now.Sub(s.lastKIDFetch) >= s.cfg.UnknownKIDInterval) {
		s.lastKIDFetch = now
		call = s.startLocked()
	}
	s.mu.Unlock()
	if call != nil {
		timer := time.NewTimer(s.cfg.UnknownKIDWait)
		select {
		case <-call.done:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
	}
	now = s.now()
	snap := s.snap.Load()
	if !s.usable(snap, now) {
		return nil, errKeysUnavailable
	}
	if k, ok := snap.set.find(kid, hasKID, alg); ok {
		return k, nil
	}
	if forKID && call != nil && isDone(call) && call.err == nil {
		// Still unknown after a successful refresh: remember it, so a flood
		// of random kids costs no further waiting until the interval passes.
		s.mu.Lock()
		s.unknown.add(kid, now, now.Add(s.cfg.UnknownKIDInterval))
		s.mu.Unlock()
	}
	return nil, errUnknownKID
}

func isDone(c *refreshCall) bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// status reports the source's health for readiness checks.
func (s *remoteSource) status() KeySourceStatus {
	now := s.now()
	st := KeySourceStatus{Issuer: s.issuer}
	if snap := s.snap.Load(); snap != nil {
		st.KeyIDs = snap.set.kids()
		st.LastRefresh = snap.fetched
		st.Staleness = max(now.Sub(snap.fetched), 0)
		st.Usable = s.usable(snap, now)
	}
	s.mu.Lock()
	if s.lastErr != nil {
		st.LastError = s.lastErr.Error()
	}
	s.mu.Unlock()
	return st
}

// close stops the background loop and any running refresh and waits for
// them. The keys held keep serving; no refresh starts again.
func (s *remoteSource) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.due.Store(math.MaxInt64) // requests stop looking at the schedule
	looping := s.startedLooper
	s.mu.Unlock()
	s.cancel()
	if looping {
		<-s.loopDone
	}
	s.wg.Wait()
	s.fetch.closeIdle()
}
