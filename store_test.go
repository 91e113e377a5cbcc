package warden_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden"
)

// TestMemoryStore: a key is claimed once until its deadline, and again
// after it; Contains agrees.
func TestMemoryStore(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	s := warden.NewMemoryStore(0, clock.Now)
	ctx := context.Background()
	deadline := clock.Now().Add(time.Minute)
	for _, step := range []struct {
		name    string
		advance time.Duration
		key     string
		claimed bool
		has     bool
	}{
		{"first claim", 0, "a", true, true},
		{"replay", 0, "a", false, true},
		{"another key", 0, "b", true, true},
		{"replay just before the deadline", time.Minute - time.Nanosecond, "a", false, true},
		{"claim again at the deadline", time.Nanosecond, "a", true, true},
	} {
		clock.Advance(step.advance)
		got, err := s.Claim(ctx, step.key, deadline)
		require.NoError(t, err, step.name)
		assert.Equal(t, step.claimed, got, step.name)
		if step.name == "claim again at the deadline" {
			deadline = clock.Now().Add(time.Minute)
			continue
		}
		has, err := s.Contains(ctx, step.key)
		require.NoError(t, err)
		assert.Equal(t, step.has, has, step.name)
	}
	has, err := s.Contains(ctx, "never")
	require.NoError(t, err)
	assert.False(t, has)
}

// TestMemoryStoreFull: a full store refuses new keys with ErrStoreFull
// rather than forget one early, and takes them again once some expire.
func TestMemoryStoreFull(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	s := warden.NewMemoryStore(100, clock.Now)
	ctx := context.Background()
	for i := range 100 {
		ok, err := s.Claim(ctx, fmt.Sprint("k", i), clock.Now().Add(time.Duration(i+1)*time.Second))
		require.NoError(t, err)
		require.True(t, ok)
	}
	_, err := s.Claim(ctx, "one too many", clock.Now().Add(time.Hour))
	assert.ErrorIs(t, err, warden.ErrStoreFull)
	ok, err := s.Claim(ctx, "k0", clock.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, ok, "a replay of a held key is still answered")
	clock.Advance(10 * time.Second) // k0…k9 expire
	for i := range 10 {
		ok, err := s.Claim(ctx, fmt.Sprint("new", i), clock.Now().Add(time.Hour))
		require.NoError(t, err, "key %d after expiry", i)
		assert.True(t, ok)
	}
	_, err = s.Claim(ctx, "full again", clock.Now().Add(time.Hour))
	assert.ErrorIs(t, err, warden.ErrStoreFull)
}

// TestMemoryStoreConcurrentClaims: of many concurrent claims of one key,
// exactly one wins.
func TestMemoryStoreConcurrentClaims(t *testing.T) {
	t.Parallel()
	s := warden.NewMemoryStore(0, nil)
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() {
			ok, err := s.Claim(context.Background(), "proof-jti", time.Now().Add(time.Minute))
			if err == nil && ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), wins.Load())
}

// BenchmarkMemoryStoreClaim measures recording a new key, the cost a DPoP
// proof's replay check adds to a request.
func BenchmarkMemoryStoreClaim(b *testing.B) {
	s := warden.NewMemoryStore(0, nil)
	ctx := context.Background()
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprintf("jti-%016x", i)
	}
	exp := time.Now().Add(time.Second)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Claim(ctx, keys[i%len(keys)], exp); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
