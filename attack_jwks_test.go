package warden_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// Table section H: the remote key source (IssuerConfig.JWKSURL) against a
// wardentest.JWKSServer, which counts requests and misbehaves on demand.
// The injected clock decides when refreshes are due; real time only bounds
// how long a request may wait for one (KeySetPolicy.UnknownKIDWait).

// atkJWKSDoc renders a JWK Set from JWKs given as maps, for hostile sets.
func atkJWKSDoc(jwks ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": jwks})
	return b
}

// missingNDoc is the JWK Set of row H4: k1, e1 and an RSA key without "n".
func (fx *atkFixture) missingNDoc() []byte {
	broken := fx.k1.JWK()
	delete(broken, "n")
	broken["kid"] = "broken"
	return atkJWKSDoc(fx.k1.JWK(), fx.e1.JWK(), broken)
}

// remoteConfig is the table's configuration with keys from jwksURL.
func (fx *atkFixture) remoteConfig(jwksURL string, mutate func(*warden.Config)) warden.Config {
	return fx.config(func(c *warden.Config) {
		c.Issuers[0].JWKS = nil
		c.Issuers[0].JWKSURL = jwksURL
		c.KeySetPolicy = warden.KeySetPolicy{FetchTimeout: 5 * time.Second}
		if mutate != nil {
			mutate(c)
		}
	})
}

// newRemote builds the remote configuration and returns the middleware and
// the log of its key refreshes.
func (fx *atkFixture) newRemote(t *testing.T, jwksURL string, mutate func(*warden.Config)) (*warden.Middleware, *refreshLog) {
	t.Helper()
	cfg := fx.remoteConfig(jwksURL, mutate)
	refreshes := recordRefreshes(&cfg)
	return newMiddleware(t, cfg), refreshes
}

// expect sends "Bearer tok" to mw's route and checks the answer.
func (fx *atkFixture) expect(t *testing.T, mw *warden.Middleware, id, tok string, status int, desc string) {
	t.Helper()
	row := atkRow{id: id, mw: mw, auth: []string{"Bearer " + tok}, status: status}
	switch status {
	case http.StatusOK:
		row.body = echoBody("user1", "c1", "Bearer", "")
	case http.StatusUnauthorized:
		row.challenges, row.body = tokChallenge(desc), tokBody(desc)
	case http.StatusServiceUnavailable:
		row.body = bodyKeys
	}
	w := fx.serve(row)
	atkCheck(t, row, w)
	if status == http.StatusServiceUnavailable {
		assert.Equal(t, "5", w.Header().Get("Retry-After"), "%s: Retry-After is UnknownKIDInterval", id)
	}
}

// fresh mints T0 at the current clock, so the token cache never answers.
func (fx *atkFixture) fresh() string { return fx.token(nil, nil) }

// kidToken signs T0's claims with k under its own kid.
func (fx *atkFixture) kidToken(k *wardentest.Key) string {
	return fx.signJSON(k, map[string]any{"alg": k.Alg, "typ": "at+jwt", "kid": k.ID}, fx.claims())
}

// TestAttackJWKSStartup covers H1, H2, H18 and every JWKS New refuses to
// start with (H4, H5, H8, H10, H16, H17 at start-up).
func TestAttackJWKSStartup(t *testing.T) {
	t.Parallel()
	t.Run("H1-H2", func(t *testing.T) {
		t.Parallel()
		fx := newAtkFixture(t)
		j := wardentest.NewJWKSServer(t, fx.k1, fx.e1)
		j.Fail(wardentest.Status500)
		_, err := warden.New(fx.remoteConfig(j.URL, nil))
		var kfe *warden.KeyFetchError
		require.ErrorAs(t, err, &kfe, "New with the JWKS down")
		// H1 [POLICY] (issue 2): with LazyStart the middleware can tell it
		// has no keys at all: 503 with Retry-After, not 401.
		mw, _ := fx.newRemote(t, j.URL, func(c *warden.Config) { c.KeySetPolicy.LazyStart = true })
		fx.expect(t, mw, "H1", fx.fresh(), 503, "")
		// H2: the JWKS recovers; the next refresh is due after a back-off on
		// the injected clock, and the request waiting for it is admitted.
		j.Fail(wardentest.Healthy)
		fx.clock.Advance(10 * time.Minute)
		fx.expect(t, mw, "H2", fx.fresh(), 200, "")
	})
	for _, tc := range []struct {
		id    string
		serve func(*atkFixture, *wardentest.JWKSServer)
	}{
		{"H4", func(fx *atkFixture, j *wardentest.JWKSServer) { j.SetDocument(fx.missingNDoc()) }},
		// H5 (issue 3): a set with no usable key is a failed fetch.
		{"H5", func(_ *atkFixture, j *wardentest.JWKSServer) { j.Fail(wardentest.EmptySet) }},
		// H8 [POLICY]: a duplicated kid rejects the whole set.
		{"H8", func(fx *atkFixture, j *wardentest.JWKSServer) { j.SetKeys(spareRSAKey("k1"), fx.k1, fx.e1) }},
		{"H10", func(_ *atkFixture, j *wardentest.JWKSServer) { j.Fail(wardentest.Endless) }},
		// H16 [POLICY]: an RSA key under 2048 bits rejects the whole set.
		{"H16", func(fx *atkFixture, j *wardentest.JWKSServer) { j.SetKeys(fx.k1, fx.e1, weakRSAKey("weak")) }},
		{"H17", func(_ *atkFixture, j *wardentest.JWKSServer) { j.Fail(wardentest.RedirectOffHost) }},
		{"H-html", func(_ *atkFixture, j *wardentest.JWKSServer) { j.Fail(wardentest.HTMLPage) }},
	} {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			fx := newAtkFixture(t)
			j := wardentest.NewJWKSServer(t, fx.k1, fx.e1)
			tc.serve(fx, j)
			mw, err := warden.New(fx.remoteConfig(j.URL, nil))
			if mw != nil {
				_ = mw.Close()
			}
			var kfe *warden.KeyFetchError
			require.ErrorAs(t, err, &kfe, "New")
			assert.NotZero(t, j.Fetches(), "the JWKS was never fetched")
			assert.Zero(t, j.OffHostFetches(), "the redirect target was fetched")
		})
	}
	t.Run("H18", func(t *testing.T) {
		t.Parallel()
		fx := newAtkFixture(t)
		var dialed atomic.Int64
		client := &http.Client{Transport: atkRoundTripFunc(func(*http.Request) (*http.Response, error) {
			dialed.Add(1)
			return nil, errors.New("no network in this test")
		})}
		mw, err := warden.New(fx.remoteConfig("http://jwks.example.test/keys", func(c *warden.Config) {
			c.HTTPClient = client
			c.KeySetPolicy.LazyStart = true
		}))
		if mw != nil {
			_ = mw.Close()
		}
		var kfe *warden.KeyFetchError
		require.Error(t, err, "New with an http:// JWKS URL")
		assert.False(t, errors.As(err, &kfe), "New with an http:// JWKS URL: got %v, want a configuration error", err)
		assert.Zero(t, dialed.Load(), "requests made")
	})
}

type atkRoundTripFunc func(*http.Request) (*http.Response, error)

func (f atkRoundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAttackJWKSRefresh covers a refresh that goes wrong after good keys
// were loaded (H3, H4, H5, H8, H10, H16, H17): the refresh fails, the last
// good keys keep serving, and nothing from the bad answer is ever used.
func TestAttackJWKSRefresh(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id    string
		serve func(fx *atkFixture, j *wardentest.JWKSServer)
		// after checks tokens the bad answer would have made valid.
		after func(t *testing.T, fx *atkFixture, mw *warden.Middleware)
	}{
		{id: "H3-500", serve: func(_ *atkFixture, j *wardentest.JWKSServer) { j.Fail(wardentest.Status500) }},
		{id: "H3-html", serve: func(_ *atkFixture, j *wardentest.JWKSServer) { j.Fail(wardentest.HTMLPage) }},
		{id: "H3-badjson", serve: func(_ *atkFixture, j *wardentest.JWKSServer) { j.Fail(wardentest.BadJSON) }},
		{id: "H4", serve: func(fx *atkFixture, j *wardentest.JWKSServer) { j.SetDocument(fx.missingNDoc()) }},
		// H5: the table expects the keys wiped (401); issue 3 decides an
		// empty set is a failed refresh and the last good keys stay.
		{id: "H5", serve: func(_ *atkFixture, j *wardentest.JWKSServer) { j.Fail(wardentest.EmptySet) }},
		{id: "H8", serve: func(fx *atkFixture, j *wardentest.JWKSServer) {
			j.SetKeys(spareRSAKey("k1"), fx.k1, fx.e1)
		}, after: func(t *testing.T, fx *atkFixture, mw *warden.Middleware) {
			// The duplicate was never taken: a token signed with it fails.
			fx.expect(t, mw, "H8-wrong", fx.kidToken(spareRSAKey("k1")), 401, descSig)
		}},
		{id: "H10", serve: func(_ *atkFixture, j *wardentest.JWKSServer) { j.Fail(wardentest.Endless) }},
		{id: "H16", serve: func(fx *atkFixture, j *wardentest.JWKSServer) {
			j.SetKeys(fx.k1, fx.e1, weakRSAKey("weak"))
		}, after: func(t *testing.T, fx *atkFixture, mw *warden.Middleware) {
			fx.expect(t, mw, "H16-weak", fx.kidToken(weakRSAKey("weak")), 401, descKID)
		}},
		// H17: the redirect target (another origin) is never fetched; a key
		// only it could have published stays unknown.
		{id: "H17", serve: func(_ *atkFixture, j *wardentest.JWKSServer) {
			j.Fail(wardentest.RedirectOffHost)
		}, after: func(t *testing.T, fx *atkFixture, mw *warden.Middleware) {
			fx.expect(t, mw, "H17-atk", fx.kidToken(spareRSAKey("atk")), 401, descKID)
		}},
	} {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			fx := newAtkFixture(t)
			j := wardentest.NewJWKSServer(t, fx.k1, fx.e1)
			mw, refreshes := fx.newRemote(t, j.URL, nil)
			fx.expect(t, mw, "before", fx.fresh(), 200, "")
			tc.serve(fx, j)
			hits, done := j.Fetches(), refreshes.count()
			// Past any refresh delay (at most 0.9 × the default 1 h lifetime),
			// well inside MaxStaleness (24 h).
			fx.clock.Advance(2 * time.Hour)
			fx.expect(t, mw, "during", fx.fresh(), 200, "")
			require.Error(t, refreshes.await(t, done+1).Err, "the refresh the request started")
			assert.Greater(t, j.Fetches(), hits, "the refresh reached the JWKS")
			assert.NotEmpty(t, mw.KeyStatus()[0].LastError)
			fx.expect(t, mw, "after", fx.fresh(), 200, "")
			assert.Equal(t, []string{"k1", "e1"}, mw.KeyStatus()[0].KeyIDs, "keys held: the last good ones")
			if tc.after != nil {
				tc.after(t, fx, mw)
			}
			assert.Zero(t, j.OffHostFetches(), "the redirect target was fetched")
		})
	}
}

// TestAttackJWKSContent covers keys a JWKS may hold but warden must not use
// (H6, H7, H9) and an issuer binding (H15).
func TestAttackJWKSContent(t *testing.T) {
	t.Parallel()
	fx := newAtkFixture(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	oct := map[string]any{"kty": "oct", "kid": "h1", "alg": "HS256", "use": "sig", "k": base64.RawURLEncoding.EncodeToString(secret)}
	akp := map[string]any{"kty": "AKP", "kid": "pq", "alg": "ML-DSA-44", "pub": "AAAA"}
	encK1 := fx.k1.JWK()
	encK1["use"] = "enc"
	remote := func(t *testing.T, doc []byte) *warden.Middleware {
		j := wardentest.NewJWKSServer(t)
		j.SetDocument(doc)
		mw, _ := fx.newRemote(t, j.URL, nil)
		return mw
	}
	t.Run("H6", func(t *testing.T) {
		t.Parallel()
		fx.expect(t, remote(t, atkJWKSDoc(akp, fx.k1.JWK(), fx.e1.JWK())), "H6", fx.fresh(), 200, "")
	})
	t.Run("H7", func(t *testing.T) {
		t.Parallel()
		// H7 [POLICY]: oct keys in a remote JWKS are ignored, and HS256 is
		// never accepted for an issuer whose keys come from a JWKS.
		mw := remote(t, atkJWKSDoc(oct, fx.k1.JWK(), fx.e1.JWK()))
		tok := signInput("HS256", b64(`{"alg":"HS256","typ":"at+jwt","kid":"h1"}`)+"."+b64(fx.claimsJSON(nil)), secret)
		fx.expect(t, mw, "H7", tok, 401, descAlg)
		assert.NotContains(t, mw.KeyStatus()[0].KeyIDs, "h1", "oct key h1 is held")
	})
	t.Run("H9", func(t *testing.T) {
		t.Parallel()
		fx.expect(t, remote(t, atkJWKSDoc(encK1, fx.e1.JWK())), "H9", fx.fresh(), 401, descKID)
	})
	// C16's limits (issue 3): a token without kid is tried against one key
	// only. Two keys that fit its alg, or a set of more than four keys, and
	// it is refused rather than tried against several.
	noKID := func(k *wardentest.Key) string {
		return fx.signJSON(k, map[string]any{"alg": "RS256", "typ": "at+jwt"}, fx.claims())
	}
	t.Run("C16-ambiguous", func(t *testing.T) {
		t.Parallel()
		j := wardentest.NewJWKSServer(t, fx.k1, spareRSAKey("k1b"), fx.e1)
		mw, _ := fx.newRemote(t, j.URL, nil)
		fx.expect(t, mw, "C16-ambiguous", noKID(fx.k1), 401, descKID)
	})
	t.Run("C16-large-set", func(t *testing.T) {
		t.Parallel()
		j := wardentest.NewJWKSServer(t, fx.k1, fx.e1, wardentest.NewECKey("e2"), wardentest.NewECKey("e3"), wardentest.NewEd25519Key("ed"))
		mw, _ := fx.newRemote(t, j.URL, nil)
		fx.expect(t, mw, "C16-large-set", noKID(fx.k1), 401, descKID)
		fx.expect(t, mw, "C16-large-set-kid", fx.fresh(), 200, "")
	})
	t.Run("H15", func(t *testing.T) {
		t.Parallel()
		// Two issuers publish a key under the same kid k1.
		ka, kb := fx.k1, spareRSAKey("k1")
		ja, jb := wardentest.NewJWKSServer(t, ka), wardentest.NewJWKSServer(t, kb)
		mw, _ := fx.newRemote(t, "", func(c *warden.Config) {
			c.Issuers = []warden.IssuerConfig{
				{URL: "https://a.test", Audience: atkAudience, JWKSURL: ja.URL},
				{URL: "https://b.test", Audience: atkAudience, JWKSURL: jb.URL},
			}
		})
		hdr := map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "k1"}
		claims := func(iss string) map[string]any { c := fx.claims(); c["iss"] = iss; return c }
		fx.expect(t, mw, "H15", fx.signJSON(ka, hdr, claims("https://b.test")), 401, descSig)
		fx.expect(t, mw, "H15-a", fx.signJSON(ka, hdr, claims("https://a.test")), 200, "")
		fx.expect(t, mw, "H15-b", fx.signJSON(kb, hdr, claims("https://b.test")), 200, "")
	})
}

// TestAttackJWKSRotation covers H11..H14: unknown kids never block long or
// storm the issuer, a rotation is picked up, a removal revokes.
func TestAttackJWKSRotation(t *testing.T) {
	t.Parallel()
	t.Run("H11", func(t *testing.T) {
		t.Parallel()
		fx := newAtkFixture(t)
		j := wardentest.NewJWKSServer(t, fx.k1, fx.e1)
		// A real-time bound: as short as a request may robustly wait.
		mw, _ := fx.newRemote(t, j.URL, func(c *warden.Config) { c.KeySetPolicy.UnknownKIDWait = 20 * time.Millisecond })
		j.Fail(wardentest.Hang)
		done := make(chan struct{})
		go func() {
			defer close(done)
			fx.expect(t, mw, "H11", fx.kidToken(spareRSAKey("k9")), 401, descKID)
		}()
		select {
		case <-done:
		case <-time.After(waitBound): // the JWKS hangs until the test ends
			require.FailNow(t, "a request waited on a hung JWKS")
		}
		fx.expect(t, mw, "H11-known", fx.fresh(), 200, "")
	})
	t.Run("H12", func(t *testing.T) {
		t.Parallel()
		fx := newAtkFixture(t)
		j := wardentest.NewJWKSServer(t, fx.k1, fx.e1)
		mw, _ := fx.newRemote(t, j.URL, nil)
		_, p, s := atkSplit(fx.fresh())
		var wg sync.WaitGroup
		var kids sync.Map
		for range 20 {
			wg.Go(func() {
				for range 50 {
					kid := "rk-" + atkRandID()
					kids.Store(kid, true)
					fx.expect(t, mw, "H12", b64(`{"alg":"RS256","typ":"at+jwt","kid":"`+kid+`"}`)+"."+p+"."+s, 401, descKID)
				}
			})
		}
		wg.Wait()
		// One fetch at start-up, at most one for the whole flood: the clock
		// did not move, so UnknownKIDInterval never passed.
		assert.LessOrEqual(t, j.Fetches(), int64(2), "JWKS fetches for 1000 unknown kids")
		logs := fx.logs.String()
		kids.Range(func(k, _ any) bool {
			return assert.NotContains(t, logs, k.(string), "a kid was logged")
		})
	})
	// cachedLong returns a remote middleware that has verified, and cached, a
	// token valid for 20 hours.
	cachedLong := func(t *testing.T) (fx *atkFixture, j *wardentest.JWKSServer, mw *warden.Middleware, refreshes *refreshLog, long string) {
		fx = newAtkFixture(t)
		j = wardentest.NewJWKSServer(t, fx.k1, fx.e1)
		mw, refreshes = fx.newRemote(t, j.URL, nil)
		long = fx.token(nil, map[string]any{"exp": fx.now().Unix() + 20*3600})
		fx.expect(t, mw, "T0", long, 200, "")
		return fx, j, mw, refreshes, long
	}
	t.Run("H13-H14", func(t *testing.T) {
		t.Parallel()
		fx, j, mw, refreshes, long := cachedLong(t)
		// H13: k2 is published; the first token naming it triggers one
		// refresh and is admitted.
		k2 := spareRSAKey("k2")
		j.SetKeys(k2, fx.k1, fx.e1)
		hits := j.Fetches()
		fx.expect(t, mw, "H13", fx.kidToken(k2), 200, "")
		assert.Equal(t, int64(1), j.Fetches()-hits, "fetches the rotation cost")
		// H14: k1 leaves the set; after the next refresh the cached,
		// unexpired T0 is refused.
		j.SetKeys(k2, fx.e1)
		done := refreshes.count()
		fx.clock.Advance(2 * time.Hour)
		fx.expect(t, mw, "H14-refresh", fx.kidToken(k2), 200, "")
		require.NoError(t, refreshes.await(t, done+1).Err, "the scheduled refresh")
		require.NotContains(t, mw.KeyStatus()[0].KeyIDs, "k1")
		fx.expect(t, mw, "H14", long, 401, descKID)
	})
	t.Run("H14-same-kid", func(t *testing.T) {
		t.Parallel()
		// The issuer replaces k1's key material but keeps the kid: tokens
		// cached under the old key must not survive the refresh.
		fx, j, mw, refreshes, long := cachedLong(t)
		j.SetKeys(spareRSAKey("k1"), fx.e1)
		done := refreshes.count()
		fx.clock.Advance(2 * time.Hour)
		fx.expect(t, mw, "refresh", fx.token(map[string]any{"alg": "ES256", "kid": "e1"}, nil), 200, "")
		require.NoError(t, refreshes.await(t, done+1).Err, "the scheduled refresh")
		require.True(t, fx.now().Equal(mw.KeyStatus()[0].LastRefresh), "the keys held are the refreshed ones")
		fx.expect(t, mw, "H14-same-kid", long, 401, descSig)
	})
}
