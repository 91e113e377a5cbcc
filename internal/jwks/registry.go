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
//     room it closes the least recently used one (Source moves a source to
//     the front; a source whose cached tokens were presented since the last
//     eviction, as Holds records, gets a second chance);
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

// Source returns the source of issuer, creating it if the bounds allow.
// Errors wrap ErrUnavailable.
func (r *Registry) Source(issuer string) (Source, error) {
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
			return e.src, nil
		}
		if now.Sub(failedAt) < r.opt.MinRefreshInterval {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, cause)
		}
		r.drop(el)
		retired = append(retired, e.src)
	}
	if r.closed {
		return nil, fmt.Errorf("%w: closed", ErrUnavailable)
	}
	if !r.mayCreate(now) {
		return nil, ErrCreationLimit
	}
	o := r.opt
	if hook := r.ro.OnRefresh; hook != nil {
		o.OnRefresh = func(rf Refresh) { hook(issuer, rf) }
	}
	src := newRemote(issuer, "", r.ro.DiscoveryURL(issuer), o, r.fetch)
	src.sharedFetch, src.firstOnly = true, true
	src.startLoop()
	r.byName[issuer] = r.lru.PushFront(&regEntry{issuer: issuer, src: src})
	for r.lru.Len() > r.ro.Size {
		back := r.lru.Back()
		if old := back.Value.(*regEntry).src; old.used.Swap(false) {
			r.lru.MoveToFront(back) // a second chance; each is given at most one per sweep
			continue
		}
		r.drop(back)
		retired = append(retired, back.Value.(*regEntry).src)
	}
	return src, nil
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

func (r *Registry) drop(el *list.Element) {
	r.lru.Remove(el)
	delete(r.byName, el.Value.(*regEntry).issuer)
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
