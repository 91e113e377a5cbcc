package warden_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// Table section H: the remote key source (IssuerConfig.JWKSURL) against a JWKS
// server on loopback that counts requests and can be told to misbehave.
// The injected clock decides when refreshes are due; real time only bounds
// how long a request may wait for one (KeySourceConfig.UnknownKIDWait).

// atkJWKS is a JWK Set server whose answer can be switched at run time.
type atkJWKS struct {
	srv     *httptest.Server
	hits    atomic.Int64
	handler atomic.Value // http.HandlerFunc
	release chan struct{}
}

func newAtkJWKS(t *testing.T, keys ...*wardentest.Key) *atkJWKS {
	t.Helper()
	j := &atkJWKS{release: make(chan struct{})}
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.hits.Add(1)
		j.handler.Load().(http.HandlerFunc)(w, r)
	}))
	t.Cleanup(j.srv.Close)
	t.Cleanup(func() { close(j.release) }) // runs first: frees hung handlers
	j.serveKeys(keys...)
	return j
}

func (j *atkJWKS) url() string { return j.srv.URL + "/jwks" }

func (j *atkJWKS) serve(h http.HandlerFunc) { j.handler.Store(h) }

func (j *atkJWKS) serveDoc(doc []byte) {
	j.serve(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
}

func (j *atkJWKS) serveKeys(keys ...*wardentest.Key) { j.serveDoc(wardentest.JWKS(keys...)) }

// atkJWKSDoc renders a JWK Set from JWKs given as maps, for hostile sets.
func atkJWKSDoc(jwks ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": jwks})
	return b
}

// Misbehaviours of a JWKS endpoint.
var (
	atkServe500 = func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream down", http.StatusInternalServerError)
	}
	atkServeHTML = func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>Sign in</body></html>"))
	}
	atkServeBadJSON = func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{bad json`))
	}
	// atkServeEndless streams a JSON-looking body until the client hangs up.
	atkServeEndless = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(`{"keys":[` + strings.Repeat(` `, 64<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
)

// hang answers nothing until the test ends or the client gives up.
func (j *atkJWKS) hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-j.release:
	case <-r.Context().Done():
	}
}

// atkRemoteConfig is the table's configuration with keys from jwksURL.
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

func (fx *atkFixture) newRemote(t *testing.T, jwksURL string, mutate func(*warden.Config)) *warden.Middleware {
	t.Helper()
	mw, err := warden.New(fx.remoteConfig(jwksURL, mutate))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = mw.Close() })
	return mw
}

// atkEventually polls cond; the bound only guards against a hung test.
func atkEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// expect sends "Bearer tok" to mw's route and checks the answer.
func (fx *atkFixture) expect(t *testing.T, mw *warden.Middleware, id, tok string, status int, desc string) {
	t.Helper()
	row := atkRow{id: id, mw: mw, auth: []string{"Bearer " + tok}, status: status}
	switch status {
	case http.StatusOK:
		row.body = atkOK("user1", "c1", "Bearer", "")
	case http.StatusUnauthorized:
		row.challenges, row.body = atkTok(desc), atkBodyTok(desc)
	case http.StatusServiceUnavailable:
		row.body = atkBodyKeys
	}
	w := fx.serve(row)
	atkCheck(t, row, w)
	if status == http.StatusServiceUnavailable {
		if got := w.Header().Get("Retry-After"); got != "5" {
			t.Errorf("Retry-After %q, want 5 (UnknownKIDInterval)", got)
		}
	}
}

// fresh mints T0 at the current clock, so the token cache never answers.
func (fx *atkFixture) fresh() string { return fx.token(nil, nil) }

// TestAttackJWKSStartup covers H1, H2, H18 and every JWKS New refuses to
// start with (H4, H5, H8, H10, H16, H17 at start-up).
func TestAttackJWKSStartup(t *testing.T) {
	t.Run("H1-H2", func(t *testing.T) {
		fx := newAtkFixture(t)
		j := newAtkJWKS(t)
		j.serve(atkServe500)
		_, err := warden.New(fx.remoteConfig(j.url(), nil))
		var kfe *warden.KeyFetchError
		if !errors.As(err, &kfe) {
			t.Fatalf("New with the JWKS down: got %v, want *KeyFetchError", err)
		}
		// H1 [POLICY] (issue 2): with LazyStart the middleware can tell it
		// has no keys at all: 503 with Retry-After, not 401.
		mw := fx.newRemote(t, j.url(), func(c *warden.Config) { c.KeySetPolicy.LazyStart = true })
		fx.expect(t, mw, "H1", fx.fresh(), 503, "")
		// H2: the JWKS recovers; the next refresh is due after a back-off on
		// the injected clock, and the request waiting for it is admitted.
		j.serveKeys(fx.k1, fx.e1)
		fx.advance(10 * time.Minute)
		fx.expect(t, mw, "H2", fx.fresh(), 200, "")
	})
	other := newAtkJWKS(t, wardentest.NewRSAKey("atk"))
	k1 := wardentest.NewRSAKey("k1")
	e1 := wardentest.NewECKey("e1")
	missingN := k1.JWK()
	delete(missingN, "n")
	missingN["kid"] = "broken"
	weak := wardentest.NewRSAKeyBits("weak", 1024)
	for _, tc := range []struct {
		id    string
		serve func(*atkJWKS)
	}{
		{"H4", func(j *atkJWKS) { j.serveDoc(atkJWKSDoc(k1.JWK(), e1.JWK(), missingN)) }},
		// H5 (issue 3): a set with no usable key is a failed fetch.
		{"H5", func(j *atkJWKS) { j.serveDoc([]byte(`{"keys":[]}`)) }},
		// H8 [POLICY]: a duplicated kid rejects the whole set.
		{"H8", func(j *atkJWKS) { j.serveKeys(wardentest.NewRSAKey("k1"), k1, e1) }},
		{"H10", func(j *atkJWKS) { j.serve(atkServeEndless) }},
		// H16 [POLICY]: an RSA key under 2048 bits rejects the whole set.
		{"H16", func(j *atkJWKS) { j.serveKeys(k1, e1, weak) }},
		{"H17", func(j *atkJWKS) {
			j.serve(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, other.url(), http.StatusFound) })
		}},
		{"H-html", func(j *atkJWKS) { j.serve(atkServeHTML) }},
	} {
		t.Run(tc.id, func(t *testing.T) {
			fx := newAtkFixture(t)
			j := newAtkJWKS(t)
			tc.serve(j)
			mw, err := warden.New(fx.remoteConfig(j.url(), nil))
			var kfe *warden.KeyFetchError
			if !errors.As(err, &kfe) {
				if mw != nil {
					_ = mw.Close()
				}
				t.Fatalf("New: got %v, want *KeyFetchError", err)
			}
			if j.hits.Load() == 0 {
				t.Errorf("the JWKS was never fetched")
			}
		})
	}
	if n := other.hits.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests, want 0", n)
	}
	t.Run("H18", func(t *testing.T) {
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
		var kfe *warden.KeyFetchError
		if err == nil || errors.As(err, &kfe) {
			if mw != nil {
				_ = mw.Close()
			}
			t.Fatalf("New with an http:// JWKS URL: got %v, want a configuration error", err)
		}
		if dialed.Load() != 0 {
			t.Errorf("%d requests were made", dialed.Load())
		}
	})
}

type atkRoundTripFunc func(*http.Request) (*http.Response, error)

func (f atkRoundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAttackJWKSRefresh covers a refresh that goes wrong after good keys
// were loaded (H3, H4, H5, H8, H10, H16, H17): the refresh fails, the last
// good keys keep serving, and nothing from the bad answer is ever used.
func TestAttackJWKSRefresh(t *testing.T) {
	other := newAtkJWKS(t, wardentest.NewRSAKey("atk"))
	for _, tc := range []struct {
		id    string
		serve func(fx *atkFixture, j *atkJWKS)
		// after checks tokens the bad answer would have made valid.
		after func(t *testing.T, fx *atkFixture, mw *warden.Middleware)
	}{
		{id: "H3-500", serve: func(_ *atkFixture, j *atkJWKS) { j.serve(atkServe500) }},
		{id: "H3-html", serve: func(_ *atkFixture, j *atkJWKS) { j.serve(atkServeHTML) }},
		{id: "H3-badjson", serve: func(_ *atkFixture, j *atkJWKS) { j.serve(atkServeBadJSON) }},
		{id: "H4", serve: func(fx *atkFixture, j *atkJWKS) {
			broken := fx.k1.JWK()
			delete(broken, "n")
			broken["kid"] = "broken"
			j.serveDoc(atkJWKSDoc(fx.k1.JWK(), fx.e1.JWK(), broken))
		}},
		// H5: the table expects the keys wiped (401); issue 3 decides an
		// empty set is a failed refresh and the last good keys stay.
		{id: "H5", serve: func(_ *atkFixture, j *atkJWKS) { j.serveDoc([]byte(`{"keys":[]}`)) }},
		{id: "H8", serve: func(fx *atkFixture, j *atkJWKS) {
			wrong := wardentest.NewRSAKey("k1")
			j.serveKeys(wrong, fx.k1, fx.e1)
		}, after: func(t *testing.T, fx *atkFixture, mw *warden.Middleware) {
			// The duplicate was never taken: a token signed with it fails.
			wrong := wardentest.NewRSAKey("k1")
			fx.expect(t, mw, "H8-wrong", fx.signJSON(wrong, map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "k1"}, fx.claims()), 401, atkDescSig)
		}},
		{id: "H10", serve: func(_ *atkFixture, j *atkJWKS) { j.serve(atkServeEndless) }},
		{id: "H16", serve: func(fx *atkFixture, j *atkJWKS) {
			j.serveKeys(fx.k1, fx.e1, wardentest.NewRSAKeyBits("weak", 1024))
		}, after: func(t *testing.T, fx *atkFixture, mw *warden.Middleware) {
			weak := wardentest.NewRSAKeyBits("weak", 1024)
			fx.expect(t, mw, "H16-weak", fx.signJSON(weak, map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "weak"}, fx.claims()), 401, atkDescKID)
		}},
		{id: "H17", serve: func(_ *atkFixture, j *atkJWKS) {
			j.serve(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, other.url(), http.StatusFound) })
		}, after: func(t *testing.T, fx *atkFixture, mw *warden.Middleware) {
			atk := wardentest.NewRSAKey("atk")
			fx.expect(t, mw, "H17-atk", fx.signJSON(atk, map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "atk"}, fx.claims()), 401, atkDescKID)
		}},
	} {
		t.Run(tc.id, func(t *testing.T) {
			fx := newAtkFixture(t)
			j := newAtkJWKS(t, fx.k1, fx.e1)
			mw := fx.newRemote(t, j.url(), nil)
			fx.expect(t, mw, "before", fx.fresh(), 200, "")
			tc.serve(fx, j)
			hits := j.hits.Load()
			// Past any refresh delay (at most 0.9 × the default 1 h lifetime),
			// well inside MaxStaleness (24 h).
			fx.advance(2 * time.Hour)
			fx.expect(t, mw, "during", fx.fresh(), 200, "")
			atkEventually(t, "the refresh to fail", func() bool {
				return j.hits.Load() > hits && mw.KeyStatus()[0].LastError != ""
			})
			fx.expect(t, mw, "after", fx.fresh(), 200, "")
			if got := mw.KeyStatus()[0].KeyIDs; !slices.Equal(got, []string{"k1", "e1"}) {
				t.Errorf("keys held %q, want the last good [k1 e1]", got)
			}
			if tc.after != nil {
				tc.after(t, fx, mw)
			}
		})
	}
	if n := other.hits.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests, want 0", n)
	}
}

// TestAttackJWKSContent covers keys a JWKS may hold but warden must not use
// (H6, H7, H9) and an issuer binding (H15).
func TestAttackJWKSContent(t *testing.T) {
	fx := newAtkFixture(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	oct := map[string]any{"kty": "oct", "kid": "h1", "alg": "HS256", "use": "sig", "k": base64.RawURLEncoding.EncodeToString(secret)}
	akp := map[string]any{"kty": "AKP", "kid": "pq", "alg": "ML-DSA-44", "pub": "AAAA"}
	encK1 := fx.k1.JWK()
	encK1["use"] = "enc"
	t.Run("H6", func(t *testing.T) {
		j := newAtkJWKS(t)
		j.serveDoc(atkJWKSDoc(akp, fx.k1.JWK(), fx.e1.JWK()))
		fx.expect(t, fx.newRemote(t, j.url(), nil), "H6", fx.fresh(), 200, "")
	})
	t.Run("H7", func(t *testing.T) {
		// H7 [POLICY]: oct keys in a remote JWKS are ignored, and HS256 is
		// never accepted for an issuer whose keys come from a JWKS.
		j := newAtkJWKS(t)
		j.serveDoc(atkJWKSDoc(oct, fx.k1.JWK(), fx.e1.JWK()))
		mw := fx.newRemote(t, j.url(), nil)
		tok := signInput("HS256", atkB64(`{"alg":"HS256","typ":"at+jwt","kid":"h1"}`)+"."+atkB64(fx.claimsJSON(nil)), secret)
		fx.expect(t, mw, "H7", tok, 401, atkDescAlg)
		if got := mw.KeyStatus()[0].KeyIDs; slices.Contains(got, "h1") {
			t.Errorf("oct key h1 is held: %q", got)
		}
	})
	t.Run("H9", func(t *testing.T) {
		j := newAtkJWKS(t)
		j.serveDoc(atkJWKSDoc(encK1, fx.e1.JWK()))
		fx.expect(t, fx.newRemote(t, j.url(), nil), "H9", fx.fresh(), 401, atkDescKID)
	})
	// C16's limits (issue 3): a token without kid is tried against one key
	// only. Two keys that fit its alg, or a set of more than four keys, and
	// it is refused rather than tried against several.
	noKID := func(k *wardentest.Key) string {
		return fx.signJSON(k, map[string]any{"alg": "RS256", "typ": "at+jwt"}, fx.claims())
	}
	t.Run("C16-ambiguous", func(t *testing.T) {
		j := newAtkJWKS(t, fx.k1, wardentest.NewRSAKey("k1b"), fx.e1)
		fx.expect(t, fx.newRemote(t, j.url(), nil), "C16-ambiguous", noKID(fx.k1), 401, atkDescKID)
	})
	t.Run("C16-large-set", func(t *testing.T) {
		j := newAtkJWKS(t, fx.k1, fx.e1, wardentest.NewECKey("e2"), wardentest.NewECKey("e3"), wardentest.NewEd25519Key("ed"))
		mw := fx.newRemote(t, j.url(), nil)
		fx.expect(t, mw, "C16-large-set", noKID(fx.k1), 401, atkDescKID)
		fx.expect(t, mw, "C16-large-set-kid", fx.fresh(), 200, "")
	})
	t.Run("H15", func(t *testing.T) {
		ka, kb := wardentest.NewRSAKey("k1"), wardentest.NewRSAKey("k1")
		ja, jb := newAtkJWKS(t, ka), newAtkJWKS(t, kb)
		mw := fx.newRemote(t, "", func(c *warden.Config) {
			c.Issuers = []warden.IssuerConfig{
				{URL: "https://a.test", Audience: fx.iss.Audience, JWKSURL: ja.url()},
				{URL: "https://b.test", Audience: fx.iss.Audience, JWKSURL: jb.url()},
			}
		})
		hdr := map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "k1"}
		claims := func(iss string) map[string]any { c := fx.claims(); c["iss"] = iss; return c }
		fx.expect(t, mw, "H15", fx.signJSON(ka, hdr, claims("https://b.test")), 401, atkDescSig)
		fx.expect(t, mw, "H15-a", fx.signJSON(ka, hdr, claims("https://a.test")), 200, "")
		fx.expect(t, mw, "H15-b", fx.signJSON(kb, hdr, claims("https://b.test")), 200, "")
	})
}

// TestAttackJWKSRotation covers H11..H14: unknown kids never block long or
// storm the issuer, a rotation is picked up, a removal revokes.
func TestAttackJWKSRotation(t *testing.T) {
	t.Run("H11", func(t *testing.T) {
		fx := newAtkFixture(t)
		j := newAtkJWKS(t, fx.k1, fx.e1)
		mw := fx.newRemote(t, j.url(), func(c *warden.Config) { c.KeySetPolicy.UnknownKIDWait = 200 * time.Millisecond })
		j.serve(j.hang)
		k9 := wardentest.NewRSAKey("k9")
		tok := fx.signJSON(k9, map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "k9"}, fx.claims())
		done := make(chan struct{})
		go func() {
			defer close(done)
			fx.expect(t, mw, "H11", tok, 401, atkDescKID)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second): // the JWKS hangs until the test ends
			t.Fatalf("a request waited on a hung JWKS")
		}
		fx.expect(t, mw, "H11-known", fx.fresh(), 200, "")
	})
	t.Run("H12", func(t *testing.T) {
		fx := newAtkFixture(t)
		j := newAtkJWKS(t, fx.k1, fx.e1)
		mw := fx.newRemote(t, j.url(), nil)
		_, p, s := atkSplit(fx.fresh())
		var wg sync.WaitGroup
		var kids sync.Map
		for w := 0; w < 20; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					kid := "rk-" + atkRandID()
					kids.Store(kid, true)
					fx.expect(t, mw, "H12", atkB64(`{"alg":"RS256","typ":"at+jwt","kid":"`+kid+`"}`)+"."+p+"."+s, 401, atkDescKID)
				}
			}()
		}
		wg.Wait()
		// One fetch at start-up, at most one for the whole flood: the clock
		// did not move, so UnknownKIDInterval never passed.
		if n := j.hits.Load(); n > 2 {
			t.Errorf("1000 unknown kids caused %d JWKS fetches, want ≤ 2", n)
		}
		logs := fx.logs.String()
		kids.Range(func(k, _ any) bool {
			if strings.Contains(logs, k.(string)) {
				t.Errorf("kid %q was logged", k)
				return false
			}
			return true
		})
	})
	t.Run("H13-H14", func(t *testing.T) {
		fx := newAtkFixture(t)
		j := newAtkJWKS(t, fx.k1, fx.e1)
		mw := fx.newRemote(t, j.url(), nil)
		long := fx.token(nil, map[string]any{"exp": fx.now().Unix() + 20*3600})
		fx.expect(t, mw, "T0", long, 200, "")
		// H13: k2 is published; the first token naming it triggers one
		// refresh and is admitted.
		k2 := wardentest.NewRSAKey("k2")
		j.serveKeys(k2, fx.k1, fx.e1)
		hits := j.hits.Load()
		fx.expect(t, mw, "H13", fx.signJSON(k2, map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "k2"}, fx.claims()), 200, "")
		if n := j.hits.Load() - hits; n != 1 {
			t.Errorf("rotation cost %d fetches, want 1", n)
		}
		// H14: k1 leaves the set; after the next refresh the cached,
		// unexpired T0 is refused.
		j.serveKeys(k2, fx.e1)
		fx.advance(2 * time.Hour)
		fx.expect(t, mw, "H14-refresh", fx.signJSON(k2, map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "k2"}, fx.claims()), 200, "")
		atkEventually(t, "k1 to leave the key set", func() bool { return !slices.Contains(mw.KeyStatus()[0].KeyIDs, "k1") })
		fx.expect(t, mw, "H14", long, 401, atkDescKID)
	})
	t.Run("H14-same-kid", func(t *testing.T) {
		// The issuer replaces k1's key material but keeps the kid: tokens
		// cached under the old key must not survive the refresh.
		fx := newAtkFixture(t)
		j := newAtkJWKS(t, fx.k1, fx.e1)
		mw := fx.newRemote(t, j.url(), nil)
		long := fx.token(nil, map[string]any{"exp": fx.now().Unix() + 20*3600})
		fx.expect(t, mw, "T0", long, 200, "")
		j.serveKeys(wardentest.NewRSAKey("k1"), fx.e1)
		fx.advance(2 * time.Hour)
		fx.expect(t, mw, "refresh", fx.token(map[string]any{"alg": "ES256", "kid": "e1"}, nil), 200, "")
		atkEventually(t, "the refresh", func() bool { return mw.KeyStatus()[0].LastRefresh.Equal(fx.now()) })
		fx.expect(t, mw, "H14-same-kid", long, 401, atkDescSig)
	})
}
