// Package redis is a warden.Store in Redis, shared by every replica of a
// service: a DPoP proof's jti recorded by one replica is a replay on all of
// them (RFC 9449 §11.1), and a revoked token's jti is revoked everywhere.
//
//	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
//	mw, err := warden.New(warden.Config{
//		// …
//		DPoP: warden.DPoPConfig{ReplayStore: redis.New(rdb, redis.Options{})},
//	})
//
// Claim is one atomic command, SET key 1 NX PX ms: of any number of
// concurrent claims of one key, on any number of replicas, Redis lets
// exactly one set it. There is no read-then-write for two replicas to
// interleave. Every error of Redis (connection refused, a timeout, a
// failover in progress) is returned, and warden answers it with 503 and
// Retry-After: a proof it could not record is never accepted.
//
// Keys are namespaced: Options.Prefix (default "warden:") before warden's
// own key, which already names what it records and for which issuer
// ("dpop:<issuer tag>:<digest>"). Each key expires by itself (PX), so the
// store needs no sweeping and holds at most the keys of one proof window.
package redis

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden"
)

// Options configures a Store. The zero value is the default.
type Options struct {
	// Prefix is put before every key, so that several services (or several
	// environments) can share one Redis. Default "warden:".
	Prefix string
	// Now is the clock that turns a deadline into a time to live. Default
	// time.Now; set it to the clock of warden.Config.Now: a deadline this
	// clock says has passed fails the Claim.
	Now func() time.Time
}

// Store is a warden.Store in Redis. It is safe for concurrent use.
type Store struct {
	rdb    goredis.UniversalClient
	prefix string
	now    func() time.Time
}

var _ warden.Store = (*Store)(nil)

// New returns a Store on rdb: a *goredis.Client, a *goredis.ClusterClient,
// a failover client or a ring. The Store does not own rdb and never closes
// it.
func New(rdb goredis.UniversalClient, o Options) *Store {
	s := &Store{rdb: rdb, prefix: o.Prefix, now: o.Now}
	if s.prefix == "" {
		s.prefix = "warden:"
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Claim records key until expires with SET NX PX, and reports whether it
// was absent. PX is a time to live, counted by Redis from when it receives
// the command, so the Redis server's clock plays no part; the time to live
// is expires minus Options.Now.
//
// A deadline that is not after Options.Now fails the Claim (warden answers
// 503) instead of claiming the key unrecorded: warden never asks to
// record a proof whose window has passed, so such a deadline means its
// clock and this store's disagree, and a claim nobody recorded could be
// replayed. No key is ever written without a time to live.
func (s *Store) Claim(ctx context.Context, key string, expires time.Time) (bool, error) {
	ttl := expires.Sub(s.now()) // saturates at about 292 years: never overflows
	if ttl <= 0 {
		return false, errDeadlinePassed
	}
	// PX takes whole milliseconds: round up, never forget a key early.
	ms := ttl.Milliseconds()
	if ttl%time.Millisecond != 0 {
		ms++
	}
	err := s.rdb.Do(ctx, "SET", s.prefix+key, "1", "NX", "PX", ms).Err()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, goredis.Nil):
		return false, nil // NX: the key was there
	}
	return false, err
}

// errDeadlinePassed: Claim was asked to record a key until a deadline the
// store's clock has already passed.
var errDeadlinePassed = errors.New("warden/store/redis: the deadline is not after the store's clock (Options.Now): the clocks of warden and the store disagree")

// Contains reports whether key is recorded and unexpired.
func (s *Store) Contains(ctx context.Context, key string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.prefix+key).Result()
	return n == 1, err
}
