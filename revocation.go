package warden

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// This file is the revocation deny-list: (issuer, jti) pairs that are
// refused until the token would have expired anyway, recorded by Revoke and
// consulted for every bearer token once it is authentic.

// denyList is the part of the bearer step that refuses revoked tokens. Its
// entries are (issuer, jti) pairs, never a hash of the token: the same
// token re-encoded (another JSON spelling, another signature of the same
// claims) keeps its jti and is refused all the same.
type denyList struct {
	store Store
	// shared: the Store was given by the user and may be written by other
	// replicas or an operator, so it is asked on every request. The default
	// memory store is written only by Revoke, so until Revoke was called
	// (armed) there is nothing to ask.
	shared      bool
	armed       atomic.Bool
	failOpen    bool
	leeway      time.Duration
	maxLifetime time.Duration
	now         func() time.Time
	logger      *slog.Logger
	outage      alarm
}

// denyKey is the store key of a revoked (issuer, jti) pair. The issuer's
// length comes first, so no two pairs share a key whatever bytes they
// hold; the prefix keeps the deny-list apart from other users of the same
// Store (DPoP proof jtis).
func denyKey(issuer, jti string) string {
	return "warden/revoked/" + strconv.Itoa(len(issuer)) + "/" + issuer + jti
}

// check refuses p when its (issuer, jti) is on the list. A store that
// cannot answer refuses with 503, or, with Revocation.FailOpen, admits and
// logs loudly.
func (d *denyList) check(ctx context.Context, p *Principal) *Error {
	if p.tokenID == "" || (!d.shared && !d.armed.Load()) {
		return nil
	}
	revoked, err := d.store.Contains(ctx, denyKey(p.issuer, p.tokenID))
	if err != nil {
		if d.failOpen {
			d.outage.fail(ctx, d.logger, "warden: revocation store unreachable; admitting tokens unchecked (Revocation.FailOpen)", err)
			return nil
		}
		d.outage.fail(ctx, d.logger, "warden: revocation store unreachable; bearer requests get 503", err)
		return newError(ReasonRevocationUnavailable, SchemeBearer, err)
	}
	d.outage.ok(ctx, d.logger, "warden: revocation store reachable again")
	if revoked {
		return newError(ReasonTokenRevoked, SchemeBearer, nil)
	}
	return nil
}

// revoke records (issuer, jti) until exp plus the leeway, when the token
// is refused by its own exp anyway. A zero exp means the longest lifetime
// any token is admitted with (Config.MaxTokenLifetime). A token whose exp
// plus the leeway has passed is refused by its exp already: nothing is
// written, and a Store that refuses a deadline in the past (store/redis)
// is not asked.
func (d *denyList) revoke(ctx context.Context, issuer, jti string, exp time.Time) error {
	if exp.IsZero() {
		exp = d.now().Add(d.maxLifetime)
	}
	if !exp.Add(d.leeway).After(d.now()) {
		return nil
	}
	// Armed before the write: a request that starts once Revoke returns
	// must consult the store.
	d.armed.Store(true)
	_, err := d.store.Claim(ctx, denyKey(issuer, jti), exp.Add(d.leeway))
	return err
}

// Errors of Revoke.
var (
	errRevokeNoIssuer = errors.New("warden: Revoke: the issuer is not configured")
	errRevokeNoJTI    = errors.New("warden: Revoke: the jti is empty")
)

// alarm logs the failures of a dependency loudly without flooding the log:
// at Error on the first failure after a success, then at most once a
// minute while failures last, and at Info on recovery. Times are real
// (monotonic): Config.Now may be a test clock.
type alarm struct {
	failing atomic.Bool // read without the lock on every success
	mu      sync.Mutex
	last    time.Time
	missed  int // failures not logged since last
}

// alarmInterval is the least time between two log lines of one outage.
const alarmInterval = time.Minute

func (a *alarm) fail(ctx context.Context, logger *slog.Logger, msg string, cause error) {
	a.mu.Lock()
	now := time.Now()
	if a.failing.Load() && now.Sub(a.last) < alarmInterval {
		a.missed++
		a.mu.Unlock()
		return
	}
	missed := a.missed
	a.failing.Store(true)
	a.last, a.missed = now, 0
	a.mu.Unlock()
	logger.ErrorContext(ctx, msg, "error", cause, "failures_not_logged", missed)
}

func (a *alarm) ok(ctx context.Context, logger *slog.Logger, msg string) {
	if !a.failing.Load() {
		return
	}
	a.mu.Lock()
	was := a.failing.Swap(false)
	missed := a.missed
	a.missed = 0
	a.mu.Unlock()
	if was {
		logger.InfoContext(ctx, msg, "failures_not_logged", missed)
	}
}
