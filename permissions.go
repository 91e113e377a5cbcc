package warden

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// This file is the cache of the impersonation step's permission resolver
// (Impersonation.Permissions): a slow directory is asked once per subject
// and PermissionsTTL, not on every request.

// maxPermissionEntries bounds the subjects whose permissions are cached.
const maxPermissionEntries = 4096

// permissionCache remembers the resolver's answers per issuer and subject
// until they are ttl old. Concurrent requests for a subject that is not
// cached share one call; errors are passed to the requests that shared the
// call and not remembered. The cache holds at most maxPermissionEntries
// subjects: to make room it drops expired answers, then arbitrary ones.
type permissionCache struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[string]*permissionEntry
}

// permissionEntry is one subject's answer, or the call that will give it
// while done is open. perms and err are written before done is closed and
// never after.
type permissionEntry struct {
	done    chan struct{}
	perms   []string
	err     error
	expires time.Time
}

func newPermissionCache(ttl time.Duration, now func() time.Time) *permissionCache {
	return &permissionCache{ttl: ttl, now: now, m: map[string]*permissionEntry{}}
}

// get returns the permissions of the subject named by key (its issuer and
// subject), asking resolve when no live answer is held.
func (c *permissionCache) get(ctx context.Context, key string, resolve func(context.Context) ([]string, error)) ([]string, error) {
	for {
		c.mu.Lock()
		e := c.m[key]
		switch {
		case e == nil || (isClosed(e.done) && !c.now().Before(e.expires)):
			e = &permissionEntry{done: make(chan struct{})}
			c.makeRoom()
			c.m[key] = e
			c.mu.Unlock()
			return c.call(ctx, key, e, resolve)
		case isClosed(e.done):
			c.mu.Unlock()
			return e.perms, nil
		}
		c.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// The call this request waited for ended because its own request
		// went away: ask again rather than fail for someone else's reason.
		if e.err != nil && errors.Is(e.err, context.Canceled) {
			continue
		}
		return e.perms, e.err
	}
}

// call asks the resolver on behalf of every request waiting for e.
func (c *permissionCache) call(ctx context.Context, key string, e *permissionEntry, resolve func(context.Context) ([]string, error)) ([]string, error) {
	perms, err := resolve(ctx)
	perms = slices.Clip(slices.Clone(perms)) // the caller's slice may change
	c.mu.Lock()
	e.perms, e.err, e.expires = perms, err, c.now().Add(c.ttl)
	if err != nil && c.m[key] == e {
		delete(c.m, key)
	}
	close(e.done)
	c.mu.Unlock()
	return perms, err
}

// makeRoom drops answers until a new entry fits; c.mu is held. It drops
// every expired answer and, while that is not enough, further answers
// (in map order, so arbitrary ones) down to 7/8 of the bound, so a flood of
// new subjects costs one scan per maxPermissionEntries/8 of them. Calls in
// progress are kept: there are at most as many as requests in flight.
func (c *permissionCache) makeRoom() {
	if len(c.m) < maxPermissionEntries {
		return
	}
	now := c.now()
	for k, e := range c.m {
		if isClosed(e.done) && !now.Before(e.expires) {
			delete(c.m, k)
		}
	}
	for k, e := range c.m {
		if len(c.m) <= maxPermissionEntries*7/8 {
			break
		}
		if isClosed(e.done) {
			delete(c.m, k)
		}
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
