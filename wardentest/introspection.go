package wardentest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wardenhq/warden"
)

// This file is the issuer's RFC 7662 introspection endpoint, its opaque
// tokens and their revocation (a method, and the RFC 7009 endpoint).

// opaqueRegistry holds what the issuer knows of the tokens it minted
// beyond their signature: the claims of its opaque tokens, the tokens it
// revoked, and how its introspection endpoint behaves.
type opaqueRegistry struct {
	mu      sync.Mutex
	opaque  map[string]Claims
	revoked map[string]bool
	calls   atomic.Int64
	mode    atomic.Int32 // a Failure
	release chan struct{}
	once    sync.Once
}

// IntrospectionURL returns the URL of the issuer's RFC 7662 introspection
// endpoint, /oauth/introspect, which the discovery document names as
// "introspection_endpoint". It authenticates its callers like the token
// endpoint (any client added with AddClient, with client_secret_basic or
// client_secret_post) and answers for the issuer's JWTs (active while
// their signature verifies with a published key and exp has not passed)
// and its opaque tokens, until they expire or are revoked. A caller that
// asks for application/token-introspection+jwt gets an RFC 9701 answer
// signed with the issuer's first key and addressed to it.
func (i *Issuer) IntrospectionURL() string { return i.URL + "/oauth/introspect" }

// Introspections returns how many requests reached the introspection
// endpoint.
func (i *Issuer) Introspections() int64 { return i.tokens.calls.Load() }

// FailIntrospection switches the introspection endpoint to f (Healthy
// switches it back), to test how a resource server rides out its outages.
// EmptySet answers {} (no "active" member); the redirects lead to the
// endpoint itself.
func (i *Issuer) FailIntrospection(f Failure) { i.tokens.mode.Store(int32(f)) }

// MintOpaque issues an opaque access token: a random string that means
// nothing by itself, whose claims (Mint's defaults merged with t.Claims;
// t.Header and t.Key are unused) the introspection endpoint answers with
// until exp passes or the token is revoked.
func (i *Issuer) MintOpaque(t Token) string {
	claims := i.claims(t.Claims, i.Now(), confirmation(t.DPoPKey, t.Certificate))
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	r := &i.tokens
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.opaque == nil {
		r.opaque = map[string]Claims{}
	}
	r.opaque[tok] = claims
	return tok
}

// Revoke revokes a token the issuer minted, opaque or JWT: its
// introspection answers {"active": false} from now on. Clients can do the
// same at the RFC 7009 endpoint /oauth/revoke.
func (i *Issuer) Revoke(token string) {
	r := &i.tokens
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.revoked == nil {
		r.revoked = map[string]bool{}
	}
	r.revoked[token] = true
}

// stop frees introspection requests held by Hang.
func (r *opaqueRegistry) stop() { r.once.Do(func() { close(r.releaseChan()) }) }

func (r *opaqueRegistry) releaseChan() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.release == nil {
		r.release = make(chan struct{})
	}
	return r.release
}

// answer returns the claims of an active token, or nil.
func (i *Issuer) answer(token string) Claims {
	r := &i.tokens
	r.mu.Lock()
	claims, opaque := r.opaque[token]
	revoked := r.revoked[token]
	r.mu.Unlock()
	if revoked {
		return nil
	}
	if !opaque {
		claims = i.verifyOwn(token)
	}
	if claims == nil {
		return nil
	}
	if exp, ok := unixSeconds(claims["exp"]); ok && !i.Now().Before(time.Unix(exp, 0)) {
		return nil
	}
	return maps.Clone(claims)
}

// unixSeconds reads a NumericDate claim as Mint or a JSON decoder left it.
func unixSeconds(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		return int64(n), true
	}
	return 0, false
}

// verifyOwn returns the claims of a JWT signed by one of the issuer's
// published keys, or nil.
func (i *Issuer) verifyOwn(token string) Claims {
	var claims jwt.MapClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k := i.Key(kid); k != nil && k.Alg == t.Method.Alg() {
			return k.Signer.Public(), nil
		}
		return nil, jwt.ErrTokenUnverifiable
	}, jwt.WithoutClaimsValidation())
	if err != nil {
		return nil
	}
	return Claims(claims)
}

// serveIntrospection is the introspection endpoint: POST only (RFC 7662
// §2.1), failures as switched, then client authentication.
func (i *Issuer) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	i.tokens.calls.Add(1)
	if i.failIntrospection(w, r) {
		return
	}
	i.authenticated(w, r, func(a *tokenAuth) http.Handler { return a.introspect }, i.introspect)
}

// serveRevocation is the RFC 7009 revocation endpoint.
func (i *Issuer) serveRevocation(w http.ResponseWriter, r *http.Request) {
	i.authenticated(w, r, func(a *tokenAuth) http.Handler { return a.revoke }, i.revokeRequest)
}

// authenticated runs next behind client authentication: warden's Basic
// middleware when the request has an Authorization header, else
// client_secret_post, checked by next.
func (i *Issuer) authenticated(w http.ResponseWriter, r *http.Request, basic func(*tokenAuth) http.Handler,
	next func(http.ResponseWriter, *http.Request, *tokenAuth)) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, http.StatusMethodNotAllowed, codeInvalidRequest)
		return
	}
	auth, err := i.tokenAuth()
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error")
		return
	}
	if _, ok := r.Header["Authorization"]; ok {
		basic(auth).ServeHTTP(w, r)
		return
	}
	next(w, r, auth)
}

// form reads the request's form body and the calling client: the Basic
// principal, or client_secret_post credentials in the form.
func (i *Issuer) form(w http.ResponseWriter, r *http.Request, auth *tokenAuth) (url.Values, string, bool) {
	media, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || media != "application/x-www-form-urlencoded" {
		writeOAuthError(w, http.StatusBadRequest, codeInvalidRequest)
		return nil, "", false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTokenRequest))
	form, perr := url.ParseQuery(string(body))
	if err != nil || perr != nil || form.Get("token") == "" {
		writeOAuthError(w, http.StatusBadRequest, codeInvalidRequest)
		return nil, "", false
	}
	if p, ok := warden.PrincipalFrom(r.Context()); ok {
		return form, p.ClientID(), true
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if id == "" || secret == "" || !auth.verifyPost(r.Context(), id, secret) {
		writeOAuthError(w, http.StatusUnauthorized, codeInvalidClient)
		return nil, "", false
	}
	return form, id, true
}

// introspect writes the RFC 7662 §2.2 answer, or the RFC 9701 one when the
// caller asks for it.
func (i *Issuer) introspect(w http.ResponseWriter, r *http.Request, auth *tokenAuth) {
	form, caller, ok := i.form(w, r, auth)
	if !ok {
		return
	}
	answer := map[string]any{"active": false}
	if claims := i.answer(form.Get("token")); claims != nil {
		answer = claims
		answer["active"] = true
		answer["token_type"] = "Bearer"
	}
	w.Header().Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "application/token-introspection+jwt") {
		now := i.Now()
		k := i.Keys()[0]
		hb, _ := json.Marshal(map[string]any{"alg": k.Alg, "kid": k.ID, "typ": "token-introspection+jwt"})
		pb, _ := json.Marshal(map[string]any{"iss": i.URL, "aud": caller, "iat": now.Unix(), "token_introspection": answer})
		w.Header().Set("Content-Type", "application/token-introspection+jwt")
		_, _ = io.WriteString(w, k.Sign(k.Alg, hb, pb))
		return
	}
	writeJSON(w, http.StatusOK, answer)
}

// revokeRequest revokes the token named in an RFC 7009 request. A client
// may revoke only its own tokens; for any other, and for a token that is
// not known, the answer is 200 all the same (RFC 7009 §2.2).
func (i *Issuer) revokeRequest(w http.ResponseWriter, r *http.Request, auth *tokenAuth) {
	form, caller, ok := i.form(w, r, auth)
	if !ok {
		return
	}
	tok := form.Get("token")
	if claims := i.answer(tok); claims != nil && claims["client_id"] == caller {
		i.Revoke(tok)
	}
	w.WriteHeader(http.StatusOK)
}

// failIntrospection answers as the switched Failure, and reports whether
// it did.
func (i *Issuer) failIntrospection(w http.ResponseWriter, r *http.Request) bool {
	release := i.tokens.releaseChan()
	switch Failure(i.tokens.mode.Load()) {
	case Healthy:
		return false
	case Slow:
		select {
		case <-time.After(100 * time.Millisecond):
		case <-r.Context().Done():
		case <-release:
		}
		return false
	case HTMLPage:
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><html><body>Down for maintenance</body></html>")
	case BadJSON, Truncated:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"active":true,"scope":`)
	case Oversized, Endless:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"active":true,"pad":"`)
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for range 10 << 20 / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				break
			}
		}
	case Hang:
		select {
		case <-r.Context().Done():
		case <-release:
		}
	case Reset:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
	case EmptySet:
		writeJSON(w, http.StatusOK, map[string]any{})
	case RedirectOffHost, RedirectSameHost, RedirectLoop:
		http.Redirect(w, r, r.URL.Path, http.StatusTemporaryRedirect)
	default: // Status500
		http.Error(w, "upstream unavailable", http.StatusInternalServerError)
	}
	return true
}
