package jwks

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenhq/warden/internal/fetch"
)

// Remote serves the keys of an issuer whose JWK Set is fetched over HTTP:
// from a JWK Set URL, a discovery document URL, or by discovery from the
// issuer. Parsing uses jwkset (Parse), but lookups go to our own immutable
// Set snapshot, not to keyfunc: keyfunc's Keyfunc re-marshals the JWK on
// every call and blocks on its rate limiter (up to a minute by default)
// when a kid is unknown. Here a known kid costs an atomic load and a map
// lookup, and every wait is bounded by UnknownKIDWait. See the package
// documentation for the concurrency invariants.
type Remote struct {
	issuer       string
	discoveryURL string // explicit discovery document, or "" to derive it
	opt          Options
	fetch        *fetch.Client

	snap atomic.Pointer[snapshot]
	// due is when (UnixNano on the injected clock) the next scheduled
	// refresh or retry is due; math.MaxInt64 while one is running.
	due atomic.Int64

	ctx      context.Context // cancelled by Close
	cancel   context.CancelFunc
	wake     chan struct{} // a refresh finished: the loop recomputes its timer
	loopDone chan struct{}
	wg       sync.WaitGroup // running refreshes

	// jwksURL is the JWK Set location, from the configuration or discovery.
	// Only refreshes touch it, and refreshes never overlap.
	jwksURL    string
	discovered bool

	// Set by a Registry: the fetch client is the registry's (Close leaves
	// its connections alone); a failed first fetch is not retried (the
	// registry decides when to try the issuer again); and retired makes
	// Holds false once the registry dropped the source, so tokens cached
	// with its keys are verified again rather than trusted on keys that no
	// longer refresh.
	sharedFetch bool
	firstOnly   bool
	retired     atomic.Bool
	// used is set by Holds (a cached token of the issuer was presented) and
	// cleared by the registry's eviction, which gives a used source a
	// second chance: tokens served from the cache keep their issuer held.
	used atomic.Bool

	mu            sync.Mutex
	closed        bool
	failedAt      time.Time    // when a firstOnly source's first fetch failed
	starting      bool         // NewRemote waits for the first refresh: it reports, not the log
	inflight      *refreshCall // the one running refresh, shared by all callers
	lastKIDFetch  time.Time    // start of the last refresh an unknown kid triggered
	unknown       *kidMemo
	failures      int
	lastErr       error
	state         health // what the log last said
	startedLooper bool
}

// health is the state the log reports changes of.
type health int

const (
	healthNone     health = iota // no set fetched yet
	healthOK                     // the last refresh succeeded
	healthFailing                // refreshes fail; the last good set still serves
	healthUnusable               // refreshes fail; no set, or stale beyond MaxStaleness
)

// snapshot is the key set of the last successful refresh and when it was
// fetched, on the injected clock.
type snapshot struct {
	set     *Set
	fetched time.Time
}

// refreshCall is one running refresh; done is closed when it ends.
type refreshCall struct {
	done chan struct{}
	err  error
}

// ErrNoUsableKeys: a JWK Set held no key warden can verify with. An issuer
// never legitimately publishes an empty set, so such a refresh counts as
// failed and the previous keys stay: an outage or a misconfigured issuer
// must not log everyone out.
var ErrNoUsableKeys = errors.New("JWK Set holds no usable signing key")

// NewRemote builds the key source of issuer, whose keys are at jwksURL, or
// found through the discovery document at discoveryURL, or by discovery
// from issuer when both are empty. opt must have been through WithDefaults.
// Unless opt.LazyStart is set, it waits up to FetchTimeout for the first
// key set and returns the cause if there is none.
func NewRemote(issuer, jwksURL, discoveryURL string, opt Options) (*Remote, error) {
	s := newRemote(issuer, jwksURL, discoveryURL, opt, fetch.New(opt.HTTPClient, opt.FetchTimeout, opt.MaxResponseSize))
	if opt.LazyStart {
		s.startLoop()
		return s, nil
	}
	s.mu.Lock()
	s.starting = true
	call := s.startLocked()
	s.mu.Unlock()
	timer := time.NewTimer(opt.FetchTimeout)
	defer timer.Stop()
	var cause error
	select {
	case <-call.done:
		cause = call.err
	case <-timer.C:
		cause = errors.New("no key set within FetchTimeout (" + opt.FetchTimeout.String() + ")")
	}
	if cause != nil {
		s.Close()
		return nil, cause
	}
	s.mu.Lock()
	s.starting = false
	s.mu.Unlock()
	s.startLoop()
	return s, nil
}

func newRemote(issuer, jwksURL, discoveryURL string, opt Options, f *fetch.Client) *Remote {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Remote{
		issuer: issuer, discoveryURL: discoveryURL, jwksURL: jwksURL, opt: opt, fetch: f,
		ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), loopDone: make(chan struct{}),
		unknown: newKIDMemo(),
	}
	s.due.Store(math.MinInt64) // the first refresh is due at once
	return s
}

// Key returns the key for a token header. A known kid never waits; an
// unknown one waits at most UnknownKIDWait for a refresh it shares with
// every other request waiting at the time.
func (s *Remote) Key(ctx context.Context, kid string, hasKID bool, alg string) (*Key, error) {
	now := s.opt.Now()
	s.refreshIfDue(now)
	snap := s.snap.Load()
	if !s.usable(snap, now) {
		return s.awaitRefresh(ctx, kid, hasKID, alg, false)
	}
	if k, ok := snap.set.Find(kid, hasKID, alg); ok {
		return k, nil
	}
	if !hasKID || snap.set.has(kid) {
		// A fresh set cannot fix a kid that is present with another alg,
		// nor make a token without kid unambiguous: no refresh for those.
		return nil, ErrUnknownKID
	}
	return s.awaitRefresh(ctx, kid, hasKID, alg, true)
}

// Holds reports whether k is in the current set and that set is usable.
func (s *Remote) Holds(k *Key) bool {
	if s.firstOnly {
		if s.retired.Load() {
			return false
		}
		if !s.used.Load() { // written once per eviction sweep, not per hit
			s.used.Store(true)
		}
	}
	now := s.opt.Now()
	s.refreshIfDue(now)
	snap := s.snap.Load()
	return s.usable(snap, now) && snap.set.Holds(k)
}

// usable reports whether snap may verify tokens at now: it exists and was
// confirmed no longer than MaxStaleness ago.
func (s *Remote) usable(snap *snapshot, now time.Time) bool {
	return snap != nil && now.Sub(snap.fetched) <= s.opt.MaxStaleness
}

// refreshIfDue starts the scheduled refresh (or retry) when its time has
// come, without waiting for it.
func (s *Remote) refreshIfDue(now time.Time) {
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
func (s *Remote) awaitRefresh(ctx context.Context, kid string, hasKID bool, alg string, forKID bool) (*Key, error) {
	now := s.opt.Now()
	s.mu.Lock()
	if forKID && s.unknown.has(kid, now) {
		s.mu.Unlock()
		return nil, ErrUnknownKID
	}
	call := s.inflight
	if call == nil && forKID && !s.closed &&
		(s.lastKIDFetch.IsZero() || now.Sub(s.lastKIDFetch) >= s.opt.UnknownKIDInterval) {
		s.lastKIDFetch = now
		call = s.startLocked()
	}
	s.mu.Unlock()
	if call != nil {
		timer := time.NewTimer(s.opt.UnknownKIDWait)
		select {
		case <-call.done:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
	}
	now = s.opt.Now()
	snap := s.snap.Load()
	if !s.usable(snap, now) {
		return nil, ErrUnavailable
	}
	if k, ok := snap.set.Find(kid, hasKID, alg); ok {
		return k, nil
	}
	if forKID && call != nil && isDone(call) && call.err == nil {
		// Still unknown after a successful refresh: remember it, so a flood
		// of random kids costs no further waiting until the interval passes.
		s.mu.Lock()
		s.unknown.add(kid, now, now.Add(s.opt.UnknownKIDInterval))
		s.mu.Unlock()
	}
	return nil, ErrUnknownKID
}

func isDone(c *refreshCall) bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Status reports the source's health.
func (s *Remote) Status() Status {
	now := s.opt.Now()
	var st Status
	if snap := s.snap.Load(); snap != nil {
		st.KIDs = snap.set.KIDs()
		st.LastRefresh = snap.fetched
		st.Staleness = max(now.Sub(snap.fetched), 0)
		st.Usable = s.usable(snap, now)
	}
	s.mu.Lock()
	st.LastErr = s.lastErr
	s.mu.Unlock()
	return st
}

// Close stops the background loop and any running refresh and waits for
// them. The keys held keep serving; no refresh starts again.
func (s *Remote) Close() {
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
	if !s.sharedFetch {
		s.fetch.CloseIdle()
	}
}

// retire closes a source a Registry dropped and releases its keys: Holds
// is false from now on.
func (s *Remote) retire() {
	s.retired.Store(true)
	s.Close()
	s.snap.Store(nil)
	s.mu.Lock()
	s.unknown = newKIDMemo()
	s.mu.Unlock()
}

// failedFirst reports when a firstOnly source's first fetch failed, and
// why; the time is zero when it did not (yet).
func (s *Remote) failedFirst() (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failedAt, s.lastErr
}
