package wardentest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/clientstore"
	"golang.org/x/crypto/bcrypt"
)

// Client is an OAuth 2.0 client registered with an Issuer's token endpoint
// (see AddClient).
type Client struct {
	// ID is the client id.
	ID string
	// Secret is the client secret, in clear: this is a test kit.
	Secret string
	// Scopes are the scopes the client may request; a request without a
	// scope parameter is granted all of them.
	Scopes []string
	// MayActAs lists the users the client may impersonate with the act_as
	// parameter, each with the user's permissions. The permissions become
	// the token's scopes. Nil: the client may not impersonate anyone.
	MayActAs map[string][]string
	// Opaque makes the token endpoint issue the client opaque access
	// tokens (random strings) instead of JWTs; the issuer's introspection
	// endpoint tells what they grant (see MintOpaque).
	Opaque bool
}

// clientRegistry holds the registered clients and, built lazily from them,
// the warden middleware and client store that authenticate the token
// endpoint.
type clientRegistry struct {
	mu      sync.Mutex
	clients []clientstore.Client
	byID    map[string]Client
	auth    *tokenAuth // nil until needed, reset by every AddClient
}

// tokenAuth authenticates token requests. basic is warden's own Basic
// middleware (RFC 6749 §2.3.1 client_secret_basic), store checks
// client_secret_post with the very same hashes.
type tokenAuth struct {
	store *clientstore.Store
	basic http.Handler // warden's Basic middleware in front of the grant
	// introspect and revoke are the same middleware in front of the
	// introspection and revocation endpoints (introspection.go).
	introspect, revoke http.Handler
}

// AddClient registers a client with the token endpoint, replacing any client
// with the same id. It panics on an empty id or secret or a scope that is not
// an RFC 6749 §3.3 scope-token: those are mistakes in the test itself.
func (i *Issuer) AddClient(c Client) {
	if c.ID == "" || c.Secret == "" {
		panic("wardentest: a client needs an id and a secret")
	}
	// bcrypt at its minimum cost: the hashes guard test secrets, and the
	// real cost would make every test that authenticates slow.
	hash, err := bcrypt.GenerateFromPassword([]byte(c.Secret), bcrypt.MinCost)
	if err != nil {
		panic(fmt.Sprintf("wardentest: client %q: %v", c.ID, err))
	}
	c.Scopes = slices.Clone(c.Scopes)
	acts := make(map[string][]string, len(c.MayActAs))
	for user, perms := range c.MayActAs {
		for _, p := range perms {
			if !validScopeToken(p) {
				panic(fmt.Sprintf("wardentest: client %q: user %q: %q is not a valid scope", c.ID, user, p))
			}
		}
		acts[user] = slices.Clone(perms)
	}
	c.MayActAs = acts
	r := &i.clients
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID == nil {
		r.byID = map[string]Client{}
	}
	r.clients = slices.DeleteFunc(r.clients, func(w clientstore.Client) bool { return w.ID == c.ID })
	r.clients = append(r.clients, clientstore.Client{ID: c.ID, SecretHash: string(hash), Scopes: c.Scopes})
	r.byID[c.ID] = c
	r.auth = nil
	if _, err := clientstore.New(r.clients); err != nil {
		panic(fmt.Sprintf("wardentest: client %q: %v", c.ID, err))
	}
}

// client returns the registered client with the given id.
func (i *Issuer) client(id string) (Client, bool) {
	i.clients.mu.Lock()
	defer i.clients.mu.Unlock()
	c, ok := i.clients.byID[id]
	return c, ok
}

// tokenAuth returns the authenticator for the current set of clients.
func (i *Issuer) tokenAuth() (*tokenAuth, error) {
	r := &i.clients
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.auth != nil {
		return r.auth, nil
	}
	store, err := clientstore.New(r.clients)
	if err != nil {
		return nil, err
	}
	// warden.New insists on a trusted issuer. This middleware only takes
	// Basic, so it is given an HMAC issuer whose random secret is known to
	// no one: no bearer token can ever pass.
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:               i.URL,
			HMACSecret:        secret,
			SkipAudienceCheck: true,
		}},
		Realm:        tokenRealm,
		Clients:      store,
		Now:          i.Now,
		ErrorHandler: writeAuthError,
	})
	if err != nil {
		return nil, err
	}
	a := &tokenAuth{store: store}
	a.basic = mw.Accept(warden.SchemeBasic).Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.grant(w, r, a)
	}))
	a.introspect = mw.Accept(warden.SchemeBasic).Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.introspect(w, r, a)
	}))
	a.revoke = mw.Accept(warden.SchemeBasic).Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.revokeRequest(w, r, a)
	}))
	r.auth = a
	return a, nil
}

// tokenRealm is the realm of the token endpoint's Basic challenge.
const tokenRealm = "token"

// writeAuthError renders warden's refusals of the token endpoint as RFC 6749
// §5.2 error responses; warden has already set the status, the Basic
// challenge and Cache-Control.
func writeAuthError(w http.ResponseWriter, _ *http.Request, e *warden.Error) {
	code := codeInvalidClient
	switch e.Status() {
	case http.StatusBadRequest:
		code = codeInvalidRequest
	case http.StatusServiceUnavailable:
		code = "temporarily_unavailable"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = writeOAuthBody(w, code)
}

// verifyPost checks client_secret_post credentials (RFC 6749 §2.3.1) against
// the same store the Basic middleware uses.
func (a *tokenAuth) verifyPost(ctx context.Context, id, secret string) bool {
	_, err := a.store.VerifyClient(ctx, id, secret)
	return err == nil
}

// validScopeToken reports whether s is an RFC 6749 §3.3 scope-token.
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}
