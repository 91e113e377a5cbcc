package wardentest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issuer is an in-process OAuth 2.0 authorization server. Its URL is its
// issuer identifier; it serves /.well-known/openid-configuration,
// /.well-known/oauth-authorization-server, /jwks.json and the client
// credentials token endpoint /oauth/token. Issuer is an http.Handler, so it
// can also be mounted on a server of your own (see NewIssuerAt).
//
// An Issuer is safe for concurrent use. Its exported fields must be set
// before the first token is minted or requested.
type Issuer struct {
	// URL is the issuer identifier (the server's base URL).
	URL string
	// Audience is the default "aud" of minted tokens.
	Audience string
	// TokenLifetime is the lifetime of tokens from the token endpoint. Zero
	// means DefaultTokenLifetime.
	TokenLifetime time.Duration
	// Server is the underlying test server, or nil for an issuer made by
	// NewIssuerAt.
	Server *httptest.Server

	mux       *http.ServeMux
	mu        sync.Mutex
	keys      []*Key // published keys; keys[0] signs by default
	jwks      *jwksEndpoint
	now       func() time.Time
	handlerMu sync.Mutex
	extra     map[string]http.Handler
	clients   clientRegistry
	tokens    opaqueRegistry // opaque and revoked tokens, introspection (introspection.go)
}

// DefaultAudience is the audience of an Issuer's tokens unless changed.
const DefaultAudience = "https://api.example.test"

// DefaultTokenLifetime is the lifetime of tokens from the token endpoint
// unless Issuer.TokenLifetime says otherwise: five minutes, as the seed
// vendors issue.
const DefaultTokenLifetime = 5 * time.Minute

// NewIssuer starts an issuer with one RSA key ("rsa-1"), one EC key
// ("ec-1") and one Ed25519 key ("ed-1"), and stops it when t's test ends.
//
// The keys are generated in the test process, and every issuer of one test
// and of the tests it runs in has keys of its own. RSA generation dominates
// the time of a test suite, though, so the RSA key material of NewIssuer is
// reused by issuers of other tests, sibling subtests included (the rows of
// one table), which never trust each other's URLs.
// Use NewRSAKey, SetKeys or Rotate for a key no other issuer ever had.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	i := startIssuer(pooledRSAKey(t))
	t.Cleanup(i.Close)
	return i
}

// StartIssuer starts an issuer on 127.0.0.1 without a *testing.T; call
// Close when done. Its keys are freshly generated.
func StartIssuer() *Issuer { return startIssuer(nil) }

func startIssuer(rsaKey *rsa.PrivateKey) *Issuer {
	srv := httptest.NewUnstartedServer(nil) // listens on 127.0.0.1
	i := newIssuerAt("http://"+srv.Listener.Addr().String(), rsaKey)
	srv.Config.Handler = i
	srv.Start()
	i.Server = srv
	return i
}

// NewIssuerAt returns an issuer whose identifier is baseURL and which
// starts no server: mount it (it is an http.Handler) on a server that
// answers at baseURL, for example next to your API on one listener, as the
// demo in examples/resourceserver does. It has the same keys as StartIssuer.
// NewIssuerAt panics if baseURL is not an absolute http or https URL
// without query or fragment.
func NewIssuerAt(baseURL string) *Issuer { return newIssuerAt(baseURL, nil) }

// newIssuerAt is NewIssuerAt with the RSA key material given, or freshly
// generated when rsaKey is nil.
func newIssuerAt(baseURL string, rsaKey *rsa.PrivateKey) *Issuer {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		panic(fmt.Sprintf("wardentest: issuer URL %q is not an absolute http(s) URL", baseURL))
	}
	i := &Issuer{
		URL:      strings.TrimSuffix(baseURL, "/"),
		Audience: DefaultAudience,
		keys:     []*Key{rsaKeyOr(rsaKey, "rsa-1"), NewECKey("ec-1"), NewEd25519Key("ed-1")},
		now:      time.Now,
		extra:    map[string]http.Handler{},
	}
	i.mux = http.NewServeMux()
	i.mux.HandleFunc("GET /.well-known/openid-configuration", i.serveDiscovery)
	i.mux.HandleFunc("GET /.well-known/oauth-authorization-server", i.serveDiscovery)
	i.jwks = newJWKSEndpoint(i.Keys, "/jwks-moved.json", "/jwks-hop")
	i.jwks.mount(func(p string, h http.Handler) { i.mux.Handle("GET "+p, h) }, "/jwks.json")
	i.mux.HandleFunc("/oauth/token", i.serveToken)
	i.mux.HandleFunc("/oauth/introspect", i.serveIntrospection)
	i.mux.HandleFunc("/oauth/revoke", i.serveRevocation)
	i.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		i.handlerMu.Lock()
		h := i.extra[r.URL.Path]
		i.handlerMu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
	return i
}

// ServeHTTP serves the issuer's documents, its token endpoint and the
// handlers added with Handle. Paths are those under URL.
func (i *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) { i.mux.ServeHTTP(w, r) }

// Close stops the issuer's server, if it started one.
func (i *Issuer) Close() {
	i.jwks.stop() // first: a hung JWK Set handler would keep Close waiting
	i.tokens.stop()
	if i.Server != nil {
		i.Server.Close()
	}
}

// JWKSURL returns the URL of the issuer's JWK Set.
func (i *Issuer) JWKSURL() string { return i.URL + "/jwks.json" }

// JWKSFetches returns how many requests reached the JWK Set URL.
func (i *Issuer) JWKSFetches() int64 { return i.jwks.hits.Load() }

// FailJWKS switches the issuer's JWK Set endpoint to f (Healthy switches
// it back), to test outages of a real issuer's keys; discovery keeps
// answering. See JWKSServer for a JWK Set endpoint of its own.
func (i *Issuer) FailJWKS(f Failure) { i.jwks.mode.Store(int32(f)) }

// SetClock sets the clock used for iat and exp of minted tokens, for the
// token endpoint, and for the middleware built from Config.
func (i *Issuer) SetClock(now func() time.Time) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.now = now
}

// Now returns the time on the issuer's clock.
func (i *Issuer) Now() time.Time {
	i.mu.Lock()
	now := i.now
	i.mu.Unlock()
	return now()
}

// Keys returns the published keys; the first one signs by default.
func (i *Issuer) Keys() []*Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]*Key(nil), i.keys...)
}

// SetKeys replaces the published keys (a rotation); keys[0] signs by default.
func (i *Issuer) SetKeys(keys ...*Key) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = append([]*Key(nil), keys...)
}

// Rotate publishes a new RSA key with the given kid in front of the current
// ones, so it signs from now on, and returns it.
func (i *Issuer) Rotate(kid string) *Key {
	k := NewRSAKey(kid)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = append([]*Key{k}, i.keys...)
	return k
}

// Key returns the published key with the given kid, or nil.
func (i *Issuer) Key(kid string) *Key {
	for _, k := range i.Keys() {
		if k.ID == kid {
			return k
		}
	}
	return nil
}

// Handle serves h at path on the issuer's server, next to the built-in
// documents.
func (i *Issuer) Handle(path string, h http.Handler) {
	i.handlerMu.Lock()
	defer i.handlerMu.Unlock()
	i.extra[path] = h
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                i.URL,
		"jwks_uri":                              i.JWKSURL(),
		"token_endpoint":                        i.URL + "/oauth/token",
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"introspection_endpoint":                i.IntrospectionURL(),
		"revocation_endpoint":                   i.URL + "/oauth/revoke",
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Claims are token claims. In Mint, a nil value removes a default claim.
type Claims map[string]any

// Token describes a token to mint. Zero fields take the defaults below.
type Token struct {
	// Claims are merged over the defaults: iss, aud, sub "user-1",
	// client_id "client-1", iat now, exp now+5m, jti random, scope "".
	Claims Claims
	// Header members are merged over {"alg": Key.Alg, "kid": Key.ID,
	// "typ": "at+jwt"}; a nil value removes a member.
	Header map[string]any
	// Key signs the token; default the issuer's first key.
	Key *Key
	// DPoPKey, when set, binds the token to that key: cnf "jkt" is its
	// RFC 7638 thumbprint (RFC 9449 §6.1), so warden admits the token only
	// with the scheme DPoP and a proof signed by the key (Key.Proof).
	DPoPKey *Key
	// Certificate, when set, binds the token to that client certificate:
	// cnf "x5t#S256" is its SHA-256 thumbprint (RFC 8705 §3.1), so warden
	// admits the token only over a connection presenting it.
	Certificate *x509.Certificate
}

// Mint signs an access token.
func (i *Issuer) Mint(t Token) string {
	i.mu.Lock()
	now := i.now()
	key := t.Key
	if key == nil {
		key = i.keys[0]
	}
	i.mu.Unlock()
	claims := i.claims(t.Claims, now, confirmation(t.DPoPKey, t.Certificate))
	header := map[string]any{"alg": key.Alg, "kid": key.ID, "typ": "at+jwt"}
	for k, v := range t.Header {
		if v == nil {
			delete(header, k)
		} else {
			header[k] = v
		}
	}
	hb, _ := json.Marshal(header)
	pb, _ := json.Marshal(claims)
	alg, _ := header["alg"].(string)
	return key.Sign(alg, hb, pb)
}

// claims merges over the default claims of a token minted at now, bound by
// cnf (RFC 7800 §3.1) unless cnf is nil.
func (i *Issuer) claims(over Claims, now time.Time, cnf map[string]any) Claims {
	claims := Claims{
		"iss":       i.URL,
		"aud":       i.Audience,
		"sub":       "user-1",
		"client_id": "client-1",
		"iat":       now.Unix(),
		"exp":       now.Add(5 * time.Minute).Unix(),
		"jti":       randomID(),
	}
	if cnf != nil {
		claims["cnf"] = cnf
	}
	for k, v := range over {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	return claims
}

// Scoped mints a default token carrying the given space-separated scopes.
func (i *Issuer) Scoped(scope string) string {
	return i.Mint(Token{Claims: Claims{"scope": scope}})
}

// confirmation is the cnf claim binding a token to a DPoP key and/or a
// certificate, or nil.
func confirmation(key *Key, cert *x509.Certificate) map[string]any {
	if key == nil && cert == nil {
		return nil
	}
	cnf := map[string]any{}
	if key != nil {
		cnf["jkt"] = key.Thumbprint()
	}
	if cert != nil {
		cnf["x5t#S256"] = certThumbprint(cert)
	}
	return cnf
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
