package warden_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

const (
	dpopAlgs  = `algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"`
	dpopBare  = `DPoP realm="api", ` + dpopAlgs
	dpopURL   = "http://api.test/entries"
	nonceDesc = "Resource server requires nonce in DPoP proof"
)

// dpopChallenge is the DPoP challenge of a refusal (RFC 9449 §7.1).
func dpopChallenge(code, desc string) string {
	return dpopBare + `, error="` + code + `", error_description="` + desc + `"`
}

// proofRefused is a 401 invalid_dpop_proof refusal.
func proofRefused(reason warden.Reason, desc string) outcome {
	return refusal(401, reason, "invalid_dpop_proof", desc, dpopChallenge("invalid_dpop_proof", desc))
}

// dpopRequest is one request of the DPoP table.
type dpopRequest struct {
	scheme string   // "DPoP" or "Bearer"
	token  string   // the access token
	proofs []string // DPoP field lines
	method string   // default GET
	target string   // default dpopURL
	header http.Header
}

func (rq dpopRequest) do(h http.Handler) *httptest.ResponseRecorder {
	method, target := rq.method, rq.target
	if method == "" {
		method = http.MethodGet
	}
	if target == "" {
		target = dpopURL
	}
	r := httptest.NewRequest(method, target, nil)
	for name, vs := range rq.header {
		r.Header[name] = vs
	}
	if rq.token != "" {
		r.Header.Set("Authorization", rq.scheme+" "+rq.token)
	}
	for _, p := range rq.proofs {
		r.Header.Add("DPoP", p)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// dpopKeys are the client's key and a stranger's, generated once: EC key
// generation is cheap, but every case needs the same client key.
type dpopKeys struct{ client, stranger, rsa, ed *wardentest.Key }

func newDPoPKeys() dpopKeys {
	return dpopKeys{wardentest.NewECKey("client"), wardentest.NewECKey("stranger"),
		wardentest.NewRSAKey("client-rsa"), wardentest.NewEd25519Key("client-ed")}
}

// TestDPoPTable: every check of a DPoP proof, each with its reason, the
// downgrades both ways and the modes, each answered with its status, every
// challenge line, the exact body and one decision.
func TestDPoPTable(t *testing.T) {
	t.Parallel()
	k := newDPoPKeys()
	type env struct {
		f     *bindFixture
		token string // bound to k.client, scope entry:read
		now   time.Time
	}
	// proof builds a valid proof for the request, changed by mod.
	proof := func(e env, key *wardentest.Key, mod func(*wardentest.Proof)) string {
		p := wardentest.Proof{Method: "GET", URL: dpopURL, AccessToken: e.token, IssuedAt: e.now}
		if mod != nil {
			mod(&p)
		}
		return key.Proof(p)
	}
	ok := func(e env, mod func(*wardentest.Proof)) dpopRequest {
		return dpopRequest{scheme: "DPoP", token: e.token, proofs: []string{proof(e, k.client, mod)}}
	}
	bearerBad := func(desc string) string {
		return `Bearer realm="api", error="invalid_token", error_description="` + desc + `"`
	}
	cases := []struct {
		name string
		cfg  func(*warden.Config)
		req  func(e env) dpopRequest
		want outcome
	}{
		{"valid proof", nil, func(e env) dpopRequest { return ok(e, nil) }, admitted},
		{"scheme name in lower case", nil, func(e env) dpopRequest { r := ok(e, nil); r.scheme = "dpop"; return r }, admitted},
		{"RSA proof key", nil, func(e env) dpopRequest {
			tok := e.f.iss.Mint(wardentest.Token{DPoPKey: k.rsa, Claims: wardentest.Claims{"scope": "entry:read"}})
			return dpopRequest{scheme: "DPoP", token: tok, proofs: []string{proof(env{e.f, tok, e.now}, k.rsa, nil)}}
		}, admitted},
		{"Ed25519 proof key", nil, func(e env) dpopRequest {
			tok := e.f.iss.Mint(wardentest.Token{DPoPKey: k.ed, Claims: wardentest.Claims{"scope": "entry:read"}})
			return dpopRequest{scheme: "DPoP", token: tok, proofs: []string{proof(env{e.f, tok, e.now}, k.ed, nil)}}
		}, admitted},
		{"htu with query and fragment", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.URL = dpopURL + "?q=1#f" })
		}, admitted},
		{"htu normalised (RFC 3986 §6.2.2-6.2.3)", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.URL = "HTTP://API.test:80/a/../%65ntries" })
		}, admitted},
		{"iat at the edge of the window, before", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.IssuedAt = e.now.Add(-60 * time.Second) })
		}, admitted},
		{"iat at the edge of the window, after", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.IssuedAt = e.now.Add(60 * time.Second) })
		}, admitted},

		{"no proof", nil, func(e env) dpopRequest { return dpopRequest{scheme: "DPoP", token: e.token} },
			proofRefused(warden.ReasonDPoPProofMissing, "The request lacks a DPoP proof")},
		{"two proofs", nil, func(e env) dpopRequest {
			r := ok(e, nil)
			r.proofs = append(r.proofs, proof(e, k.client, nil))
			return r
		}, proofRefused(warden.ReasonDPoPProofRepeated, "The request carries more than one DPoP proof")},
		{"not a JWS", nil, func(e env) dpopRequest {
			return dpopRequest{scheme: "DPoP", token: e.token, proofs: []string{"abc.def"}}
		},
			proofRefused(warden.ReasonDPoPProofMalformed, "The DPoP proof is malformed")},
		{"proof larger than MaxTokenSize", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.Claims = wardentest.Claims{"pad": strings.Repeat("x", 9000)} })
		}, proofRefused(warden.ReasonDPoPProofMalformed, "The DPoP proof is malformed")},
		{"crit header", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.Header = map[string]any{"crit": []string{"x"}, "x": 1} })
		}, proofRefused(warden.ReasonDPoPProofMalformed, "The DPoP proof is malformed")},
		{"no jti", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.Claims = wardentest.Claims{"jti": nil} })
		}, proofRefused(warden.ReasonDPoPProofMalformed, "The DPoP proof is malformed")},
		{"no iat", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.Claims = wardentest.Claims{"iat": nil} })
		}, proofRefused(warden.ReasonDPoPProofMalformed, "The DPoP proof is malformed")},
		{"htm not a string", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.Claims = wardentest.Claims{"htm": 1} })
		}, proofRefused(warden.ReasonDPoPProofMalformed, "The DPoP proof is malformed")},
		{"typ JWT", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.Header = map[string]any{"typ": "JWT"} })
		}, proofRefused(warden.ReasonDPoPWrongType, "The DPoP proof type is not dpop+jwt")},
		{"no typ", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.Header = map[string]any{"typ": nil} })
		}, proofRefused(warden.ReasonDPoPWrongType, "The DPoP proof type is not dpop+jwt")},
		{"access token as proof (typ at+jwt)", nil, func(e env) dpopRequest {
			return dpopRequest{scheme: "DPoP", token: e.token, proofs: []string{e.token}}
		}, proofRefused(warden.ReasonDPoPWrongType, "The DPoP proof type is not dpop+jwt")},
		{"alg HS256", nil, func(e env) dpopRequest {
			return dpopRequest{scheme: "DPoP", token: e.token, proofs: []string{
				wardentest.SignHMAC("HS256", make([]byte, 32), []byte(`{"typ":"dpop+jwt","alg":"HS256"}`), []byte(`{"jti":"j","htm":"GET","htu":"`+dpopURL+`","iat":1800000000}`))}}
		}, proofRefused(warden.ReasonDPoPDisallowedAlg, "The DPoP proof signing algorithm is not accepted")},
		{"alg none", nil, func(e env) dpopRequest {
			r := ok(e, nil)
			parts := strings.Split(r.proofs[0], ".")
			r.proofs[0] = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ." + parts[1] + "."
			return r
		}, proofRefused(warden.ReasonDPoPDisallowedAlg, "The DPoP proof signing algorithm is not accepted")},
		{"alg outside the configured list", func(c *warden.Config) { c.DPoP.Algorithms = []string{"ES256"} }, func(e env) dpopRequest {
			tok := e.f.iss.Mint(wardentest.Token{DPoPKey: k.ed, Claims: wardentest.Claims{"scope": "entry:read"}})
			return dpopRequest{scheme: "DPoP", token: tok, proofs: []string{proof(env{e.f, tok, e.now}, k.ed, nil)}}
		}, refusal(401, warden.ReasonDPoPDisallowedAlg, "invalid_dpop_proof", "The DPoP proof signing algorithm is not accepted",
			`DPoP realm="api", algs="ES256", error="invalid_dpop_proof", error_description="The DPoP proof signing algorithm is not accepted"`)},
		{"no jwk", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.Header = map[string]any{"jwk": nil} })
		}, proofRefused(warden.ReasonDPoPBadKey, "The DPoP proof key is not an acceptable public key")},
		{"jwk with private parts", nil, func(e env) dpopRequest {
			jwk := k.client.JWK()
			jwk["d"] = "AAAA"
			return ok(e, func(p *wardentest.Proof) { p.Header = map[string]any{"jwk": jwk} })
		}, proofRefused(warden.ReasonDPoPBadKey, "The DPoP proof key is not an acceptable public key")},
		{"jwk of the wrong type for alg", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.Header = map[string]any{"jwk": k.rsa.JWK()} })
		}, proofRefused(warden.ReasonDPoPBadKey, "The DPoP proof key is not an acceptable public key")},
		{"jwk a symmetric key", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.Header = map[string]any{"jwk": map[string]any{"kty": "oct", "k": "AAAA"}} })
		}, proofRefused(warden.ReasonDPoPBadKey, "The DPoP proof key is not an acceptable public key")},
		{"jwk point not on the curve", nil, func(e env) dpopRequest {
			jwk := k.client.JWK()
			jwk["y"] = jwk["x"]
			return ok(e, func(p *wardentest.Proof) { p.Header = map[string]any{"jwk": jwk} })
		}, proofRefused(warden.ReasonDPoPBadKey, "The DPoP proof key is not an acceptable public key")},
		{"signed by another key than its jwk", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.Header = map[string]any{"jwk": k.stranger.JWK()} })
		}, proofRefused(warden.ReasonDPoPBadSignature, "The DPoP proof signature is invalid")},
		{"htm POST on a GET", nil, func(e env) dpopRequest { return ok(e, func(p *wardentest.Proof) { p.Method = "POST" }) },
			proofRefused(warden.ReasonDPoPWrongMethod, "The DPoP proof is for another HTTP method")},
		{"htm in lower case", nil, func(e env) dpopRequest { return ok(e, func(p *wardentest.Proof) { p.Method = "get" }) },
			proofRefused(warden.ReasonDPoPWrongMethod, "The DPoP proof is for another HTTP method")},
		{"htu another path", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.URL = "http://api.test/other" })
		}, proofRefused(warden.ReasonDPoPWrongURI, "The DPoP proof is for another URI")},
		{"htu another host", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.URL = "http://evil.test/entries" })
		}, proofRefused(warden.ReasonDPoPWrongURI, "The DPoP proof is for another URI")},
		{"htu https on plain http", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.URL = "https://api.test/entries" })
		}, proofRefused(warden.ReasonDPoPWrongURI, "The DPoP proof is for another URI")},
		{"htu from X-Forwarded-Host, never trusted", nil, func(e env) dpopRequest {
			r := ok(e, func(p *wardentest.Proof) { p.URL = "http://public.example/entries" })
			r.header = http.Header{"X-Forwarded-Host": {"public.example"}, "X-Forwarded-Proto": {"http"}}
			return r
		}, proofRefused(warden.ReasonDPoPWrongURI, "The DPoP proof is for another URI")},
		{"htu the configured public URL", func(c *warden.Config) { c.DPoP.PublicURL = "https://public.example/v1/" }, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.URL = "https://public.example/v1/entries" })
		}, admitted},
		{"htu the internal URL behind a configured public URL", func(c *warden.Config) { c.DPoP.PublicURL = "https://public.example/v1" }, func(e env) dpopRequest {
			return ok(e, nil)
		}, proofRefused(warden.ReasonDPoPWrongURI, "The DPoP proof is for another URI")},
		{"iat 61 s old", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.IssuedAt = e.now.Add(-61 * time.Second) })
		}, proofRefused(warden.ReasonDPoPStale, "The DPoP proof is not fresh")},
		{"iat 61 s ahead", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.IssuedAt = e.now.Add(61 * time.Second) })
		}, proofRefused(warden.ReasonDPoPStale, "The DPoP proof is not fresh")},
		{"iat within a configured 5 s window only", func(c *warden.Config) { c.DPoP.ProofWindow = 5 * time.Second }, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.IssuedAt = e.now.Add(-6 * time.Second) })
		}, proofRefused(warden.ReasonDPoPStale, "The DPoP proof is not fresh")},
		{"no ath", nil, func(e env) dpopRequest { return ok(e, func(p *wardentest.Proof) { p.AccessToken = "" }) },
			proofRefused(warden.ReasonDPoPTokenHash, "The DPoP proof is not bound to this access token")},
		{"ath of another token", nil, func(e env) dpopRequest {
			return ok(e, func(p *wardentest.Proof) { p.AccessToken = e.f.iss.Scoped("entry:read") })
		}, proofRefused(warden.ReasonDPoPTokenHash, "The DPoP proof is not bound to this access token")},
		{"proof by another key than the token's", nil, func(e env) dpopRequest {
			return dpopRequest{scheme: "DPoP", token: e.token, proofs: []string{proof(e, k.stranger, nil)}}
		}, refusal(401, warden.ReasonDPoPKeyMismatch, "invalid_token", "Invalid DPoP key binding",
			dpopChallenge("invalid_token", "Invalid DPoP key binding"))},
		{"unbound token with DPoP", nil, func(e env) dpopRequest {
			tok := e.f.iss.Scoped("entry:read")
			return dpopRequest{scheme: "DPoP", token: tok, proofs: []string{proof(env{e.f, tok, e.now}, k.client, nil)}}
		}, refusal(401, warden.ReasonDPoPUnboundToken, "invalid_token", "The access token is not bound to a DPoP key",
			dpopChallenge("invalid_token", "The access token is not bound to a DPoP key"))},
		{"bound token as Bearer (downgrade)", nil, func(e env) dpopRequest { return dpopRequest{scheme: "Bearer", token: e.token} },
			refusal(401, warden.ReasonDPoPDowngrade, "invalid_token", "The access token is bound to a key and must be presented with DPoP",
				bearerBad("The access token is bound to a key and must be presented with DPoP"), dpopBare)},
		{"bound token as Bearer, proof attached", nil, func(e env) dpopRequest {
			r := ok(e, nil)
			r.scheme = "Bearer"
			return r
		}, refusal(401, warden.ReasonDPoPDowngrade, "invalid_token", "The access token is bound to a key and must be presented with DPoP",
			bearerBad("The access token is bound to a key and must be presented with DPoP"), dpopBare)},
		{"bound token as Bearer, DPoP off", func(c *warden.Config) { c.DPoP.Mode = warden.DPoPOff }, func(e env) dpopRequest {
			return dpopRequest{scheme: "Bearer", token: e.token}
		}, refusal(401, warden.ReasonDPoPDowngrade, "invalid_token", "The access token is bound to a key and must be presented with DPoP",
			bearerBad("The access token is bound to a key and must be presented with DPoP"))},
		{"DPoP off: the DPoP scheme is no credentials", func(c *warden.Config) { c.DPoP.Mode = warden.DPoPOff }, func(e env) dpopRequest {
			return ok(e, nil)
		}, refusal(401, warden.ReasonUnsupportedScheme, "unauthorized", "Authentication is required", `Bearer realm="api"`)},
		{"DPoP off: a malformed DPoP header is no credentials", func(c *warden.Config) { c.DPoP.Mode = warden.DPoPOff }, func(e env) dpopRequest {
			return dpopRequest{scheme: "DPoP", token: "a b"}
		}, refusal(401, warden.ReasonUnsupportedScheme, "unauthorized", "Authentication is required", `Bearer realm="api"`)},
		{"DPoP required: a bearer token is no credentials", func(c *warden.Config) { c.DPoP.Mode = warden.DPoPRequired }, func(e env) dpopRequest {
			return dpopRequest{scheme: "Bearer", token: e.f.iss.Scoped("entry:read")}
		}, refusal(401, warden.ReasonUnsupportedScheme, "unauthorized", "Authentication is required", dpopBare)},
		{"DPoP required: a valid proof", func(c *warden.Config) { c.DPoP.Mode = warden.DPoPRequired }, func(e env) dpopRequest {
			return ok(e, nil)
		}, admitted},
		{"no credentials: both challenges", nil, func(e env) dpopRequest { return dpopRequest{} },
			refusal(401, warden.ReasonMissingCredentials, "unauthorized", "Authentication is required", `Bearer realm="api"`, dpopBare)},
		{"DPoP without a token", nil, func(e env) dpopRequest { return dpopRequest{scheme: "DPoP", token: " "} },
			refusal(400, warden.ReasonMalformedRequest, "invalid_request", "The request is malformed",
				dpopChallenge("invalid_request", "The request is malformed"))},
		{"expired token with DPoP", nil, func(e env) dpopRequest {
			tok := e.f.iss.Mint(wardentest.Token{DPoPKey: k.client, Claims: wardentest.Claims{"scope": "entry:read",
				"iat": e.now.Add(-time.Hour).Unix(), "exp": e.now.Add(-10 * time.Minute).Unix()}})
			return dpopRequest{scheme: "DPoP", token: tok, proofs: []string{proof(env{e.f, tok, e.now}, k.client, nil)}}
		}, refusal(401, warden.ReasonExpired, "invalid_token", "The access token expired", dpopChallenge("invalid_token", "The access token expired"))},
		{"insufficient scope with DPoP", nil, func(e env) dpopRequest {
			tok := e.f.iss.Mint(wardentest.Token{DPoPKey: k.client, Claims: wardentest.Claims{"scope": "other"}})
			return dpopRequest{scheme: "DPoP", token: tok, proofs: []string{proof(env{e.f, tok, e.now}, k.client, nil)}}
		}, refusal(403, warden.ReasonInsufficientScope, "insufficient_scope", "The request requires higher privileges than provided by the access token",
			dpopBare+`, error="insufficient_scope", scope="entry:read"`)},
		{"token with an unknown confirmation method", nil, func(e env) dpopRequest {
			tok := e.f.iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "entry:read", "cnf": map[string]any{"jwk": map[string]any{}}}})
			return dpopRequest{scheme: "Bearer", token: tok}
		}, refusal(401, warden.ReasonInvalidClaim, "invalid_token", "The access token has an invalid claim", bearerBad("The access token has an invalid claim"))},
		{"replay store down", func(c *warden.Config) { c.DPoP.ReplayStore = failingStore{} }, func(e env) dpopRequest { return ok(e, nil) },
			outcome{status: 503, reason: warden.ReasonReplayUnavailable,
				body: `{"error":"temporarily_unavailable","error_description":"The DPoP proof cannot be checked right now"}` + "\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newBindFixture(t, tc.cfg)
			e := env{f: f, now: f.clock.Now()}
			e.token = f.iss.Mint(wardentest.Token{DPoPKey: k.client, Claims: wardentest.Claims{"scope": "entry:read"}})
			w := tc.req(e).do(f.h)
			f.check(t, w, tc.want)
			if tc.want.status == 503 && w.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if tc.want.status == 200 {
				if got := w.Header().Get("X-Scheme"); got != "DPoP" {
					t.Errorf("principal scheme %q, want DPoP", got)
				}
				if w.Header().Get("DPoP-Nonce") != "" {
					t.Error("DPoP-Nonce without nonces configured")
				}
			}
		})
	}
}

// failingStore is a Store whose backend is down.
type failingStore struct{}

func (failingStore) Claim(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("store unreachable")
}
func (failingStore) Contains(context.Context, string) (bool, error) {
	return false, errors.New("store unreachable")
}

// TestDPoPReplay: a proof is accepted once within its window; after the
// window its iat refuses it, and its jti may be used again by a fresh proof.
func TestDPoPReplay(t *testing.T) {
	t.Parallel()
	k := newDPoPKeys()
	f := newBindFixture(t, nil)
	tok := f.iss.Mint(wardentest.Token{DPoPKey: k.client, Claims: wardentest.Claims{"scope": "entry:read"}})
	send := func(jti string) *httptest.ResponseRecorder {
		p := k.client.Proof(wardentest.Proof{URL: dpopURL, AccessToken: tok, IssuedAt: f.clock.Now(), Claims: wardentest.Claims{"jti": jti}})
		return dpopRequest{scheme: "DPoP", token: tok, proofs: []string{p}}.do(f.h)
	}
	replayed := proofRefused(warden.ReasonDPoPReplayed, "The DPoP proof was already used")
	first := dpopRequest{scheme: "DPoP", token: tok, proofs: []string{k.client.Proof(wardentest.Proof{
		URL: dpopURL, AccessToken: tok, IssuedAt: f.clock.Now(), Claims: wardentest.Claims{"jti": "jti-1"}})}}
	f.check(t, first.do(f.h), admitted)
	f.check(t, first.do(f.h), replayed)
	f.clock.Advance(30 * time.Second)
	f.check(t, first.do(f.h), replayed)
	f.check(t, send("jti-1"), replayed) // the same jti in a fresh proof
	f.check(t, send("jti-2"), admitted)
	f.clock.Advance(31 * time.Second) // the first proof leaves its window: its iat refuses it
	f.check(t, first.do(f.h), proofRefused(warden.ReasonDPoPStale, "The DPoP proof is not fresh"))
	f.clock.Advance(time.Second) // and its jti has left the store
	f.check(t, send("jti-1"), admitted)
	f.check(t, send("jti-2"), replayed) // recorded 30 s later, still held
}

// TestDPoPNonce: with a nonce key, a proof without a nonce or with a stale
// one gets use_dpop_nonce and a fresh DPoP-Nonce; the nonce is accepted in
// its step and the next, by every middleware with the key; each admitted
// request carries the next nonce.
func TestDPoPNonce(t *testing.T) {
	t.Parallel()
	k := newDPoPKeys()
	key := []byte("0123456789abcdef0123456789abcdef")
	f := newBindFixture(t, func(c *warden.Config) { c.DPoP.NonceKey = key })
	tok := f.iss.Mint(wardentest.Token{DPoPKey: k.client, Claims: wardentest.Claims{"scope": "entry:read"}})
	send := func(h http.Handler, nonce string) *httptest.ResponseRecorder {
		p := k.client.Proof(wardentest.Proof{URL: dpopURL, AccessToken: tok, IssuedAt: f.clock.Now(), Nonce: nonce})
		return dpopRequest{scheme: "DPoP", token: tok, proofs: []string{p}}.do(h)
	}
	useNonce := func(reason warden.Reason) outcome {
		return refusal(401, reason, "use_dpop_nonce", nonceDesc, dpopChallenge("use_dpop_nonce", nonceDesc))
	}

	w := send(f.h, "")
	f.check(t, w, useNonce(warden.ReasonDPoPNonceMissing))
	nonce := w.Header().Get("DPoP-Nonce")
	if len(nonce) < 22 {
		t.Fatalf("DPoP-Nonce %q: want a nonce of at least 128 bits", nonce)
	}
	w = send(f.h, nonce)
	f.check(t, w, admitted)
	if got := w.Header().Get("DPoP-Nonce"); got != nonce {
		t.Errorf("admitted response's DPoP-Nonce %q, want the current %q", got, nonce)
	}

	// A second replica with the same key accepts the nonce; one with
	// another key does not.
	g := newBindFixture(t, func(c *warden.Config) { c.DPoP.NonceKey = key })
	g.clock.Advance(f.clock.Now().Sub(g.clock.Now()))
	tokG := g.iss.Mint(wardentest.Token{DPoPKey: k.client, Claims: wardentest.Claims{"scope": "entry:read"}})
	pG := k.client.Proof(wardentest.Proof{URL: dpopURL, AccessToken: tokG, IssuedAt: g.clock.Now(), Nonce: nonce})
	g.check(t, dpopRequest{scheme: "DPoP", token: tokG, proofs: []string{pG}}.do(g.h), admitted)
	other := newBindFixture(t, func(c *warden.Config) { c.DPoP.NonceKey = []byte("another key, also thirty-two b..") })
	tokO := other.iss.Mint(wardentest.Token{DPoPKey: k.client, Claims: wardentest.Claims{"scope": "entry:read"}})
	pO := k.client.Proof(wardentest.Proof{URL: dpopURL, AccessToken: tokO, IssuedAt: other.clock.Now(), Nonce: nonce})
	other.check(t, dpopRequest{scheme: "DPoP", token: tokO, proofs: []string{pO}}.do(other.h), useNonce(warden.ReasonDPoPNonceInvalid))

	// The nonce lives through the next minute's step, then goes stale.
	f.clock.Advance(time.Minute)
	w = send(f.h, nonce)
	f.check(t, w, admitted)
	next := w.Header().Get("DPoP-Nonce")
	if next == nonce || next == "" {
		t.Errorf("after a step, DPoP-Nonce %q: want a new nonce", next)
	}
	f.clock.Advance(time.Minute)
	w = send(f.h, nonce)
	f.check(t, w, useNonce(warden.ReasonDPoPNonceInvalid))
	if got := w.Header().Get("DPoP-Nonce"); got == nonce || got == "" {
		t.Errorf("stale nonce answered with DPoP-Nonce %q: want a fresh one", got)
	}
	f.check(t, send(f.h, "made-up"), useNonce(warden.ReasonDPoPNonceInvalid))
}

// TestDPoPCache: the verified-token cache never lets a request skip its
// proof. Once the token is cached by an admitted request, every later
// request with it still needs a fresh, valid proof; and a token first
// cached through a refused downgrade is still refused that way.
func TestDPoPCache(t *testing.T) {
	t.Parallel()
	k := newDPoPKeys()
	f := newBindFixture(t, nil)
	tok := f.iss.Mint(wardentest.Token{DPoPKey: k.client, Claims: wardentest.Claims{"scope": "entry:read"}})
	good := func() string {
		return k.client.Proof(wardentest.Proof{URL: dpopURL, AccessToken: tok, IssuedAt: f.clock.Now()})
	}
	downgrade := refusal(401, warden.ReasonDPoPDowngrade, "invalid_token", "The access token is bound to a key and must be presented with DPoP",
		`Bearer realm="api", error="invalid_token", error_description="The access token is bound to a key and must be presented with DPoP"`, dpopBare)
	f.check(t, dpopRequest{scheme: "Bearer", token: tok}.do(f.h), downgrade) // verified and cached here
	first := good()
	f.check(t, dpopRequest{scheme: "DPoP", token: tok, proofs: []string{first}}.do(f.h), admitted)
	for _, tc := range []struct {
		name string
		req  dpopRequest
		want outcome
	}{
		{"cached token, no proof", dpopRequest{scheme: "DPoP", token: tok}, proofRefused(warden.ReasonDPoPProofMissing, "The request lacks a DPoP proof")},
		{"cached token, the same proof again", dpopRequest{scheme: "DPoP", token: tok, proofs: []string{first}},
			proofRefused(warden.ReasonDPoPReplayed, "The DPoP proof was already used")},
		{"cached token, a stranger's proof", dpopRequest{scheme: "DPoP", token: tok, proofs: []string{
			k.stranger.Proof(wardentest.Proof{URL: dpopURL, AccessToken: tok, IssuedAt: f.clock.Now()})}},
			refusal(401, warden.ReasonDPoPKeyMismatch, "invalid_token", "Invalid DPoP key binding", dpopChallenge("invalid_token", "Invalid DPoP key binding"))},
		{"cached token, proof for another method", dpopRequest{scheme: "DPoP", token: tok, proofs: []string{
			k.client.Proof(wardentest.Proof{Method: "DELETE", URL: dpopURL, AccessToken: tok, IssuedAt: f.clock.Now()})}},
			proofRefused(warden.ReasonDPoPWrongMethod, "The DPoP proof is for another HTTP method")},
		{"cached token as Bearer", dpopRequest{scheme: "Bearer", token: tok}, downgrade},
		{"cached token, a fresh proof", dpopRequest{scheme: "DPoP", token: tok, proofs: []string{good()}}, admitted},
	} {
		f.check(t, tc.req.do(f.h), tc.want)
	}
}

// TestDPoPVerify: Middleware.Verify has no request to prove a binding
// with, so it refuses bound tokens.
func TestDPoPVerify(t *testing.T) {
	t.Parallel()
	f := newBindFixture(t, nil)
	tok := f.iss.Mint(wardentest.Token{DPoPKey: wardentest.NewECKey("k"), Claims: wardentest.Claims{"scope": "entry:read"}})
	_, err := f.mw.Verify(context.Background(), tok)
	var we *warden.Error
	if !errors.As(err, &we) || we.Reason != warden.ReasonDPoPDowngrade {
		t.Errorf("Verify of a DPoP-bound token: got %v, want %s", err, warden.ReasonDPoPDowngrade)
	}
	p, err := f.mw.Verify(context.Background(), f.iss.Scoped("entry:read"))
	if err != nil || p.Confirmation() != (warden.Confirmation{}) {
		t.Errorf("Verify of a bearer token: got %v, %v; want an unbound principal", p, err)
	}
}

// TestDPoPConfig: every mistake in Config.DPoP and Config.MTLS is an error
// from New.
func TestDPoPConfig(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	for name, mutate := range map[string]func(*warden.Config){
		"unknown mode":             func(c *warden.Config) { c.DPoP.Mode = 7 },
		"HMAC proof algorithm":     func(c *warden.Config) { c.DPoP.Algorithms = []string{"HS256"} },
		"none proof algorithm":     func(c *warden.Config) { c.DPoP.Algorithms = []string{"none"} },
		"empty algorithm list":     func(c *warden.Config) { c.DPoP.Algorithms = []string{} },
		"negative window":          func(c *warden.Config) { c.DPoP.ProofWindow = -time.Second },
		"relative public URL":      func(c *warden.Config) { c.DPoP.PublicURL = "/api" },
		"public URL with a query":  func(c *warden.Config) { c.DPoP.PublicURL = "https://api.example/?x=1" },
		"ftp public URL":           func(c *warden.Config) { c.DPoP.PublicURL = "ftp://api.example" },
		"short nonce key":          func(c *warden.Config) { c.DPoP.NonceKey = []byte("short") },
		"settings while off":       func(c *warden.Config) { c.DPoP.Mode, c.DPoP.NonceKey = warden.DPoPOff, make([]byte, 32) },
		"certificate header space": func(c *warden.Config) { c.MTLS.CertificateHeader = "X Client Cert" },
		"certificate header Authorization": func(c *warden.Config) {
			c.MTLS.CertificateHeader = "authorization"
		},
	} {
		cfg := iss.StaticConfig()
		mutate(&cfg)
		if mw, err := warden.New(cfg); err == nil {
			mw.Close()
			t.Errorf("%s: New succeeded, want an error", name)
		}
	}
}
