package jwks

import (
	"container/list"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/fetch"
)

// ErrCreationLimit: a Registry has created as many sources as it may in the
// last minute. It wraps ErrUnavailable: the issuer's keys cannot be had
// right now.
var ErrCreationLimit = fmt.Errorf("%w: too many new issuers in the last minute", ErrUnavailable)

// Registry holds the key sources of issuers that are only known when a
// token names them (the tenants of a multi-tenant issuer). Each source is
// created on first use and shared by every later request; a source finds
// its keys by one discovery fetch (RegistryOptions.DiscoveryURL), then
// refreshes like any Remote.
//
// The registry is bounded three ways, so that names an attacker invents
// cost bounded memory, goroutines and requests to the issuer:
//
//   - it holds at most Size sources (one background goroutine each); to make
//     room it drops the least recently used one other than the one being
//     created (Source moves a source to the front; a source whose cached
//     tokens were presented since the last eviction, as Holds records, gets
//     a second chance), and closes it once no request holds it (at most one
//     more source per request in flight);
//   - it creates at most PerMinute sources in any minute (on Options.Now);
//     beyond that Source answers ErrCreationLimit, so a flood of new names
//     costs the issuer at most PerMinute discovery fetches a minute;
//   - a source whose first fetch fails makes no further attempt of its own:
//     Source answers ErrUnavailable for it until MinRefreshInterval has
//     passed, then creates it anew (which counts against PerMinute).
//
// Registry.mu is taken before a Remote's mu, never after; it is never held
// across I/O or while a source closes.
type Registry struct {
	opt   Options
	ro    RegistryOptions
	fetch *fetch.Client // shared by every source

	mu      sync.Mutex
	closed  bool
	lru     list.List // of *regEntry, most recently used first
	byName  map[string]*list.Element
	created []time.Time // ring of the last PerMinute creation times
	next    int         // the oldest slot of created
}

// RegistryOptions bound a Registry.
type RegistryOptions struct {
	// Size is the most sources held at once. Required.
	Size int
	// PerMinute is the most sources created in any minute. Required.
	PerMinute int
	// DiscoveryURL returns the one discovery document to read for an
	// issuer. Required.
	DiscoveryURL func(issuer string) string
	// OnRefresh, when set, is called after every fetch of every source.
	OnRefresh func(issuer string, r Refresh)
}

type regEntry struct {
	issuer string
	src    *Remote
	// holders counts the callers of Source that have not released the
	// source yet; dropped is set when the registry let go of it. Both
	// under Registry.mu.
	holders int
	dropped bool
}

// NewRegistry returns an empty registry whose sources use opt (which must
// have been through WithDefaults; LazyStart is implied: a source is
// created by a request, which waits at most UnknownKIDWait for its keys).
func NewRegistry(opt Options, ro RegistryOptions) (*Registry, error) {
	if ro.Size <= 0 || ro.PerMinute <= 0 || ro.DiscoveryURL == nil {
		return nil, errors.New("jwks: a registry needs a positive Size and PerMinute and a DiscoveryURL")
	}
	opt.LazyStart = true
	return &Registry{
		opt: opt, ro: ro,
		fetch:   fetch.New(opt.HTTPClient, opt.FetchTimeout, opt.MaxResponseSize),
		byName:  map[string]*list.Element{},
		created: make([]time.Time, ro.PerMinute),
	}, nil
}

// Source returns the source of issuer, creating it if the bounds allow,
// and a release the caller must call once it no longer looks keys up in
// it (once, when the signature is checked). Until every caller holding a
// source has released it, eviction only takes it out of the registry: the
// source is closed, and its keys released, by the last release, so a
// request's lookup never runs on a source closed under it. A source being
// created is never the one evicted to make room for it. Errors wrap
// ErrUnavailable.
func (r *Registry) Source(issuer string) (Source, func(), error) {
	now := r.opt.Now()
	var retired []*Remote
	defer func() {
		for _, s := range retired {
			s.retire()
		}
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.byName[issuer]; ok {
		e := el.Value.(*regEntry)
		failedAt, cause := e.src.failedFirst()
		if failedAt.IsZero() {
			r.lru.MoveToFront(el)
			return e.src, r.hold(e), nil
		}
		if now.Sub(failedAt) < r.opt.MinRefreshInterval {
			return nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, cause)
		}
		retired = r.drop(el, retired)
	}
	if r.closed {
		return nil, nil, fmt.Errorf("%w: closed", ErrUnavailable)
	}
	if !r.mayCreate(now) {
		return nil, nil, ErrCreationLimit
	}
	o := r.opt
	if hook := r.ro.OnRefresh; hook != nil {
		o.OnRefresh = func(rf Refresh) { hook(issuer, rf) }
	}
	src := newRemote(issuer, "", r.ro.DiscoveryURL(issuer), o, r.fetch)
	src.sharedFetch, src.firstOnly = true, true
	src.startLoop()
	e := &regEntry{issuer: issuer, src: src}
	added := r.lru.PushFront(e)
	r.byName[issuer] = added
	for r.lru.Len() > r.ro.Size {
		retired = r.drop(r.victim(added), retired)
	}
	return src, r.hold(e), nil
}

// victim picks the source to evict: the least recently used one other than
// keep (the source just created), skipping once each source whose cached
// tokens were presented since the last eviction (a second chance). There
// is one, since the registry holds more than Size ≥ 1 sources.
func (r *Registry) victim(keep *list.Element) *list.Element {
	// The first pass spends the chance of every used source it passes; the
	// second finds one whose chance is spent (unless Holds, which takes no
	// lock, marked them all again meanwhile: then the least recent goes).
	for range 2 {
		for el := r.lru.Back(); el != nil; el = el.Prev() {
			if el != keep && !el.Value.(*regEntry).src.used.Swap(false) {
				return el
			}
		}
	}
	if back := r.lru.Back(); back != keep {
		return back
	}
	return keep.Prev()
}

// hold counts one more caller of e's source, and returns its release.
// r.mu is held.
func (r *Registry) hold(e *regEntry) func() {
	e.holders++
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			e.holders--
			retire := e.holders == 0 && e.dropped
			r.mu.Unlock()
			if retire {
				e.src.retire()
			}
		})
	}
}

// mayCreate reports whether a source may be created at now, and counts it:
// fewer than PerMinute were created in the minute before now.
func (r *Registry) mayCreate(now time.Time) bool {
	oldest := r.created[r.next]
	if !oldest.IsZero() && now.Sub(oldest) < time.Minute {
		return false
	}
	r.created[r.next] = now
	r.next = (r.next + 1) % len(r.created)
	return true
}

// drop takes el out of the registry and returns retired with its source
// added, to be retired once r.mu is released, unless a caller still holds
// it: the last release retires it then.
func (r *Registry) drop(el *list.Element, retired []*Remote) []*Remote {
	e := el.Value.(*regEntry)
	r.lru.Remove(el)
	delete(r.byName, e.issuer)
	e.dropped = true
	if e.holders > 0 {
		return retired
	}
	return append(retired, e.src)
}

// Len returns the number of sources held.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lru.Len()
}

// Close stops every source's background work and creates no more sources.
// Like a closed Remote, the sources held keep serving the keys they hold.
func (r *Registry) Close() {
	r.mu.Lock()
	r.closed = true
	var all []*Remote
	for el := r.lru.Front(); el != nil; el = el.Next() {
		all = append(all, el.Value.(*regEntry).src)
	}
	r.mu.Unlock()
	for _, s := range all {
		s.Close()
	}
	r.fetch.CloseIdle()
}
