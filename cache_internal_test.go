package warden

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden/internal/jwks"
)

// The token cache's own structure: its bounds, its CLOCK eviction, the
// memory it counts and retains. How a request sees the cache is tested
// from outside, in cache_test.go. Tokens are signed here with a fresh
// Ed25519 key, the cheapest real signature, and the clock stands still.

const (
	ctIssuer   = "https://issuer.cache.test"
	ctAudience = "https://api.cache.test"
)

// ctKeys is a test issuer: one Ed25519 key "ed-1" and a fixed now.
type ctKeys struct {
	priv ed25519.PrivateKey
	jwks []byte
	now  time.Time
}

func newCTKeys(tb testing.TB) *ctKeys {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(tb, err)
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]any{{
		"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "alg": "EdDSA", "use": "sig",
		"x": base64.RawURLEncoding.EncodeToString(pub),
	}}})
	return &ctKeys{priv: priv, jwks: jwks, now: time.Unix(1_800_000_000, 0)}
}

func (k *ctKeys) clock() time.Time { return k.now }

// mint signs a token valid for five minutes from now.
func (k *ctKeys) mint(tb testing.TB, scope, jti string) string {
	tb.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss": ctIssuer, "aud": ctAudience, "sub": "user-1", "client_id": "client-1",
		"iat": k.now.Unix(), "exp": k.now.Add(5 * time.Minute).Unix(), "jti": jti, "scope": scope,
	})
	tok.Header["kid"] = "ed-1"
	s, err := tok.SignedString(k.priv)
	require.NoError(tb, err)
	return s
}

// middleware trusts the key with a token cache of the given size.
func (k *ctKeys) middleware(tb testing.TB, size int) *Middleware {
	tb.Helper()
	m, err := New(Config{Issuers: []IssuerConfig{{URL: ctIssuer, Audience: ctAudience, JWKS: k.jwks}}, TokenCacheSize: size, Now: k.clock})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = m.Close() })
	return m
}

// ctStaticSource is a static source of the test keys, and its key.
func ctStaticSource(tb testing.TB, keys *ctKeys) (*jwks.Static, *jwks.Key) {
	tb.Helper()
	set, err := jwks.Parse(keys.jwks)
	require.NoError(tb, err)
	src := jwks.NewStatic(set, keys.clock())
	k, err := src.Key(context.Background(), "ed-1", true, "EdDSA")
	require.NoError(tb, err)
	return src, k
}

// ctSource is a key source whose set can be replaced, as a remote source's
// is on rotation.
type ctSource struct {
	jwks.Source
	mu  sync.Mutex
	set *jwks.Set
}

func (s *ctSource) Key(_ context.Context, kid string, hasKID bool, alg string) (*jwks.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.set.Find(kid, hasKID, alg); ok {
		return k, nil
	}
	return nil, jwks.ErrUnknownKID
}

func (s *ctSource) Holds(k *jwks.Key) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set.Holds(k)
}

// ctFixture returns a verifier that builds principals, a key source and key
// to cache them under, and the clock's now.
func ctFixture(t *testing.T) (*verifier, *jwks.Static, *jwks.Key, time.Time) {
	t.Helper()
	keys := newCTKeys(t)
	src, key := ctStaticSource(t, keys)
	return keys.middleware(t, 0).tokens, src, key, keys.clock()
}

// TestTokenCacheBounds checks the entry and byte bounds of the cache itself
// at sizes where minting real tokens would be slow.
func TestTokenCacheBounds(t *testing.T) {
	t.Parallel()
	keys := newCTKeys(t)
	src, key := ctStaticSource(t, keys)
	now := keys.clock()
	p := &Principal{expiresAt: now.Add(time.Hour)}
	for _, size := range []int{1, 2, 7, 1000, defaultTokenCacheSize} {
		c := newTokenCache(size)
		for i := range 10 * size {
			c.put(fmt.Sprint("token-", i), p, src, key, time.Minute, now)
		}
		assert.NotZero(t, c.len(), "size %d: entries after %d puts", size, 10*size)
		assert.LessOrEqual(t, c.len(), size, "size %d: entries after %d puts", size, 10*size)
	}
	// Byte bound: large tokens evict by size before the count is reached.
	c := newTokenCache(1000)
	c.maxBytes = 256 << 10
	big := strings.Repeat("x", 4096)
	for i := range 1000 {
		c.put(fmt.Sprintf("%d-%s", i, big), p, src, key, time.Minute, now)
		require.LessOrEqual(t, c.bytes, c.maxBytes, "bytes counted after %d puts", i+1)
	}
	assert.NotZero(t, c.len(), "entries of 4 KiB under a 256 KiB bound")
	assert.Less(t, c.len(), 1000/4, "entries of 4 KiB under a 256 KiB bound")
	// An entry already past exp+leeway is never stored.
	c = newTokenCache(10)
	c.put("stale", &Principal{expiresAt: now.Add(-2 * time.Minute)}, src, key, time.Minute, now)
	assert.Zero(t, c.len(), "stale token cached")
}

// TestTokenCacheKeyLeavesSet: when the key that verified a cached token
// leaves its issuer's key source, the token is refused at once.
func TestTokenCacheKeyLeavesSet(t *testing.T) {
	t.Parallel()
	keys := newCTKeys(t)
	m := keys.middleware(t, 0)
	ti := m.tokens.issuers[ctIssuer]
	set, err := jwks.Parse(keys.jwks)
	require.NoError(t, err)
	src := &ctSource{Source: ti.keys, set: set}
	ti.keys = src
	h := m.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	tok := keys.mint(t, "", "jti-rot")
	serve := func() int {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	require.Equal(t, http.StatusNoContent, serve(), "before rotation")
	_, ok := m.tokens.tokens.get(tok, keys.clock())
	require.True(t, ok, "token cached after a successful request")
	src.mu.Lock()
	src.set = &jwks.Set{}
	src.mu.Unlock()
	assert.Equal(t, http.StatusUnauthorized, serve(), "after the key left the set")
	assert.Zero(t, m.tokens.tokens.len(), "revoked entry still cached")
}

// ctHeap returns the live heap after a full collection.
func ctHeap() int64 {
	runtime.GC()
	runtime.GC() // the second cycle frees what the first one's finalizers released
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestTokenCacheHoldsSize: a cache of size N fed N distinct live tokens
// holds all N, whatever shards they hash to, and then answers every one of
// them; more tokens leave exactly N.
func TestTokenCacheHoldsSize(t *testing.T) {
	t.Parallel()
	_, src, key, now := ctFixture(t)
	p := &Principal{subject: "s", expiresAt: now.Add(time.Hour)}
	for _, size := range []int{1, 3, 16, 100, 1000, 10007, defaultTokenCacheSize} {
		t.Run(fmt.Sprint("size=", size), func(t *testing.T) {
			t.Parallel()
			c := newTokenCache(size)
			for i := range size {
				c.put(fmt.Sprint("token-", i), p, src, key, 0, now)
			}
			assert.Equal(t, size, c.len(), "entries after %d distinct puts", size)
			misses := 0
			for i := range size {
				if _, ok := c.get(fmt.Sprint("token-", i), now); !ok {
					misses++
				}
			}
			assert.Zero(t, misses, "tokens of %d missed", size)
			for i := range size {
				c.put(fmt.Sprint("more-", i), p, src, key, 0, now)
				require.Equal(t, size, c.len(), "entries after %d more puts", i+1)
			}
		})
	}
}

// TestTokenCacheKeepsHotEntries: under a flood of tokens seen once, CLOCK
// keeps the entries that are being hit. Random eviction, or dropping a
// quarter of a shard, would lose most of them.
func TestTokenCacheKeepsHotEntries(t *testing.T) {
	t.Parallel()
	_, src, key, now := ctFixture(t)
	p := &Principal{subject: "s", expiresAt: now.Add(time.Hour)}
	const size = 1000
	c := newTokenCache(size)
	hot := func(i int) string { return fmt.Sprint("hot-", i) }
	for i := range size / 2 { // hot and cold entries interleaved in the ring
		c.put(hot(i), p, src, key, 0, now)
		c.put(fmt.Sprint("cold-", i), p, src, key, 0, now)
	}
	lost := 0
	for round := range 40 {
		lost = 0
		for i := range size / 2 {
			if _, ok := c.get(hot(i), now); !ok {
				lost++
				c.put(hot(i), p, src, key, 0, now) // a miss is verified and cached again
			}
		}
		for i := range 100 { // 4000 one-shot tokens in all: four times the size
			c.put(fmt.Sprintf("flood-%d-%d", round, i), p, src, key, 0, now)
		}
	}
	// Evictions past clockMaxScan may take a hot entry; nearly all stay.
	assert.LessOrEqual(t, lost, size/2/20, "hot entries of %d evicted by one-shot tokens in the last round", size/2)
}

// TestTokenCacheExpiredFirst: the hand evicts an expired entry even when
// it was hit, before entries that were hit and are still live.
func TestTokenCacheExpiredFirst(t *testing.T) {
	t.Parallel()
	_, src, key, now := ctFixture(t)
	short := &Principal{subject: "s", expiresAt: now.Add(time.Minute)}
	long := &Principal{subject: "l", expiresAt: now.Add(time.Hour)}
	const size = 8
	c := newTokenCache(size)
	names := make([]string, 0, size)
	for i := range size {
		name, p := fmt.Sprint("long-", i), long
		if i == size/2 {
			name, p = "short", short
		}
		names = append(names, name)
		c.put(name, p, src, key, 0, now)
	}
	for _, name := range names { // every entry hit: every reference bit set
		_, ok := c.get(name, now)
		require.True(t, ok, "%s: miss before any eviction", name)
	}
	later := now.Add(2 * time.Minute)
	c.put("new", long, src, key, 0, later)
	for _, name := range append(names, "new") {
		_, ok := c.get(name, later)
		assert.Equal(t, name != "short", ok, "%s cached", name)
	}
	assert.Equal(t, size, c.len(), "entries")
}

// TestTokenCacheInvariants runs puts, hits, expiries and revocations from
// several goroutines (run with -race), then checks the structure: the ring
// and the shards hold the same entries, each knows its ring position, and
// the bytes counted are the fixed part, the entries' costs and the slots.
func TestTokenCacheInvariants(t *testing.T) {
	t.Parallel()
	_, src, key, now := ctFixture(t)
	revoked := &ctSource{Source: src, set: &jwks.Set{}}
	for _, size := range []int{1, 7, 64} {
		t.Run(fmt.Sprint("size=", size), func(t *testing.T) {
			t.Parallel()
			c := newTokenCache(size)
			fixed := c.bytes
			c.maxBytes = fixed + 20000 + size*900 // tight enough that bytes evict too
			var wg sync.WaitGroup
			var hits atomic.Int64
			for g := range 4 {
				wg.Go(func() {
					for i := range 3000 {
						n := (i*7 + g*13) % (3 * size)
						raw := fmt.Sprintf("tok-%d-%s", n, strings.Repeat("x", n%5*300))
						at := now.Add(time.Duration(i%4) * time.Minute)
						if _, ok := c.get(raw, at); ok {
							hits.Add(1)
							continue
						}
						p := &Principal{subject: "s", scopes: []string{"a", "b"}, expiresAt: now.Add(time.Duration(n%3) * time.Minute)}
						var ks jwks.Source = src
						if n%11 == 0 {
							ks = revoked
						}
						c.put(raw, p, ks, key, time.Minute, at)
					}
				})
			}
			wg.Wait()
			assert.NotZero(t, hits.Load(), "hits: the cache held nothing")
			c.mu.Lock()
			defer c.mu.Unlock()
			assert.LessOrEqual(t, len(c.ring), size, "entries")
			assert.LessOrEqual(t, c.bytes, c.maxBytes, "bytes")
			want, inShards := fixed, 0
			for i := range c.shards {
				s := &c.shards[i]
				inShards += len(s.entries)
				want += s.peak * entrySlotBytes
				for h, e := range s.entries {
					assert.True(t, e.hash == h && e.index >= 0 && e.index < len(c.ring) && c.ring[e.index] == e,
						"shard entry %x is at its ring position %d", h, e.index)
				}
			}
			for _, e := range c.ring {
				want += e.cost
			}
			assert.Equal(t, len(c.ring), inShards, "entries in the shards and in the ring")
			assert.Equal(t, want, c.bytes, "bytes counted")
		})
	}
}

// ctShapes are the claim shapes of the memory tests: a typical token, and
// the large one of the hardening issue (200 scopes, several audiences, the
// longest actor chain decodeActor accepts).
var ctShapes = []struct {
	name  string
	shape ctShape
	n     int
}{
	{"typical", ctShape{scopes: 3, audiences: 1}, 4000},
	{"large", ctShape{scopes: 200, audiences: 6, actors: maxActorDepth}, 800},
}

// TestEntryCostMatchesHeap: the bytes the cache counts for n entries are
// never fewer than the heap they really retain, and at most 20 % more. The
// tokens are built as the verifier builds them, and kept alive throughout,
// so the growth is the cache's own.
func TestEntryCostMatchesHeap(t *testing.T) {
	// Not parallel: the heap is measured.
	c0, src, key, now := ctFixture(t)
	for _, sh := range ctShapes {
		t.Run(sh.name, func(t *testing.T) {
			toks := ctTokens(t, c0, now, sh.n, sh.shape)
			c := newTokenCache(sh.n)
			c.maxBytes = 1 << 40
			counted0 := c.bytes
			before := ctHeap()
			for _, tk := range toks {
				c.put(tk.raw, tk.p, src, key, 0, now)
			}
			measured := ctHeap() - before
			counted := int64(c.bytes - counted0)
			runtime.KeepAlive(toks)
			require.Equal(t, sh.n, c.len(), "entries")
			t.Logf("%d entries: counted %d B (%d B each), heap grew %d B", sh.n, counted, counted/int64(sh.n), measured)
			assert.GreaterOrEqual(t, counted, measured, "bytes counted, at least what the heap grew")
			assert.LessOrEqual(t, counted, measured*6/5, "bytes counted, at most 1.2 × what the heap grew")
		})
	}
}

// TestTokenCacheMemoryBound floods a default cache with large tokens, many
// times what fits in its byte bound, and reads runtime.MemStats: the heap the
// cache retains stays within tokenCacheMaxBytes. The slack covers what the
// measurement itself and the test binary's idle goroutines allocate; it is
// not a share of the bound.
func TestTokenCacheMemoryBound(t *testing.T) {
	// Not parallel: the heap is measured.
	if raceEnabled() {
		t.Skip("-race makes the flood ten times slower and changes no allocation; TestTokenCacheInvariants covers races")
	}
	const slack = 1 << 20
	c0, src, key, now := ctFixture(t)
	g := newCTTokenGen(t, c0, now, ctShapes[1].shape)
	before := ctHeap()
	c := newTokenCache(defaultTokenCacheSize)
	fixed := c.bytes
	first := g.token(t, 0)
	c.put(first.raw, first.p, src, key, 0, now)
	// Twice as many tokens as the bound holds, by the cost of the first,
	// from GOMAXPROCS goroutines; the heap is read once they are done.
	n := min(2*tokenCacheMaxBytes/max(c.bytes-fixed, 1), 4*defaultTokenCacheSize)
	require.NoError(t, ctEach(n-1, func(i int) error {
		tk, err := g.build(i + 1)
		if err == nil {
			c.put(tk.raw, tk.p, src, key, 0, now)
		}
		return err
	}))
	retained := ctHeap() - before
	entries := c.len()
	runtime.KeepAlive(c)
	t.Logf("%d tokens of %d bytes: %d entries, %d bytes counted, heap retains %d bytes (bound %d)",
		n, len(first.raw), entries, c.bytes, retained, tokenCacheMaxBytes)
	require.NotZero(t, entries, "entries after %d puts: some cached", n)
	require.Less(t, entries, n, "entries after %d puts: some evicted", n)
	assert.LessOrEqual(t, c.bytes, tokenCacheMaxBytes, "bytes counted")
	assert.LessOrEqual(t, retained, int64(tokenCacheMaxBytes+slack), "heap the cache retains (bound + slack)")
	assert.GreaterOrEqual(t, retained, int64(tokenCacheMaxBytes*3/4), "heap the cache retains: the byte bound is what limits it")
}

// TestTokenEntryOwnsPrincipal: the entry's principal equals the verifier's
// and shares no memory with it, field by field over every field Principal
// has, so a field added later without being copied (and counted) fails here.
func TestTokenEntryOwnsPrincipal(t *testing.T) {
	t.Parallel()
	c0, _, _, now := ctFixture(t)
	tk := ctTokens(t, c0, now, 1, ctShape{scopes: 5, audiences: 3, actors: 3})[0]
	tk.p.issuedAt = now // every field set
	e := newTokenEntry(tk.raw, tk.p)
	require.Equal(t, *tk.p, e.principal, "the entry's principal and the verifier's")
	assert.Equal(t, tk.raw, e.raw, "the entry's token")
	assert.True(t, unsafe.StringData(e.raw) != unsafe.StringData(tk.raw), "the entry's token is a copy")
	ctDisjoint(t, "Principal", reflect.ValueOf(e.principal), reflect.ValueOf(*tk.p))

	// A principal with nothing to copy stays as it is.
	empty := &Principal{scopes: []string{}, scheme: SchemeBasic}
	e = newTokenEntry("t", empty)
	assert.Equal(t, *empty, e.principal, "an empty principal's copy")
	assert.NotNil(t, e.principal.scopes, "an empty principal's copy keeps empty scopes")
}

// ctDisjoint fails unless got and want, equal values, share no memory:
// every string, slice and pointer reachable from got points elsewhere than
// the same one in want.
func ctDisjoint(t *testing.T, path string, got, want reflect.Value) {
	t.Helper()
	switch got.Kind() {
	case reflect.Struct:
		for i := range got.NumField() {
			f := got.Type().Field(i)
			if f.Type == reflect.TypeFor[time.Time]() {
				continue // its *Location is the shared time.Local
			}
			ctDisjoint(t, path+"."+f.Name, got.Field(i), want.Field(i))
		}
	case reflect.String:
		if got.Len() > 0 && unsafe.StringData(got.String()) == unsafe.StringData(want.String()) {
			t.Errorf("%s shares its bytes with the verifier's principal", path)
		}
	case reflect.Slice:
		if got.Len() > 0 && got.UnsafePointer() == want.UnsafePointer() {
			t.Errorf("%s shares its backing array with the verifier's principal", path)
		}
		for i := range got.Len() {
			ctDisjoint(t, fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i))
		}
	case reflect.Pointer:
		if got.IsNil() {
			return
		}
		if got.UnsafePointer() == want.UnsafePointer() {
			t.Errorf("%s points to the verifier's principal's memory", path)
		}
		ctDisjoint(t, path, got.Elem(), want.Elem())
	case reflect.Bool, reflect.Int, reflect.Int64, reflect.Uint8, reflect.Uint64:
	default:
		t.Errorf("%s: kind %s is not known to newTokenEntry and entryCost", path, got.Kind())
	}
}
