package warden

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"time"
)

// Scheme is an HTTP authentication scheme a route accepts. Schemes combine
// with |.
type Scheme uint8

// The schemes warden understands.
const (
	SchemeBearer Scheme = 1 << iota // RFC 6750 bearer token (a JWT access token)
	SchemeBasic                     // RFC 7617 Basic with OAuth client credentials (RFC 6749 §2.3.1)
)

// String returns the scheme's name as written in the Authorization header.
func (s Scheme) String() string {
	switch s {
	case SchemeBearer:
		return "Bearer"
	case SchemeBasic:
		return "Basic"
	case SchemeBearer | SchemeBasic:
		return "Bearer|Basic"
	case 0:
		return ""
	default:
		return "unknown"
	}
}

// MarshalText renders the scheme by name, so JSON shows "Bearer".
func (s Scheme) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Principal is the authenticated caller of one request. It is immutable:
// verified principals are shared between requests that present the same
// token, so all access goes through methods that return copies.
type Principal struct {
	subject   string
	clientID  string
	scopes    []string
	issuer    string
	audience  []string
	expiresAt time.Time
	issuedAt  time.Time
	tokenID   string
	scheme    Scheme
	actor     *Actor
	claims    []byte // the verified JWT payload, nil for Basic
}

// Actor is a party acting on behalf of the principal's subject (RFC 8693
// §4.1 "act", or a vendor "act_as" claim). Actor chains are nested: Actor is
// the current actor, Actor.Actor the one before it, and so on.
type Actor struct {
	// Subject is the actor's "sub" (for client credentials, the client id).
	Subject string `json:"sub"`
	// ClientID is the actor's "client_id", when the issuer states it.
	ClientID string `json:"client_id,omitempty"`
	// Actor is the prior actor in a delegation chain, if any.
	Actor *Actor `json:"act,omitempty"`
}

// Subject returns the effective subject: the impersonated user when the
// token acts on a user's behalf, else the token's "sub", else the client id.
func (p *Principal) Subject() string { return p.subject }

// ClientID returns the OAuth client: "client_id", else "azp" for a token;
// the client id for Basic.
func (p *Principal) ClientID() string { return p.clientID }

// Scopes returns a copy of the token's scopes (for Basic, the client's
// permissions).
func (p *Principal) Scopes() []string { return slices.Clone(p.scopes) }

// HasScope reports whether the principal was granted scope, by exact,
// case-sensitive match (RFC 6749 §3.3).
func (p *Principal) HasScope(scope string) bool { return slices.Contains(p.scopes, scope) }

// Issuer returns the token's "iss"; empty for Basic.
func (p *Principal) Issuer() string { return p.issuer }

// Audience returns a copy of the token's "aud" values.
func (p *Principal) Audience() []string { return slices.Clone(p.audience) }

// ExpiresAt returns the token's "exp"; zero for Basic.
func (p *Principal) ExpiresAt() time.Time { return p.expiresAt }

// IssuedAt returns the token's "iat", or zero when absent.
func (p *Principal) IssuedAt() time.Time { return p.issuedAt }

// TokenID returns the token's "jti", or empty.
func (p *Principal) TokenID() string { return p.tokenID }

// Scheme returns how the principal authenticated.
func (p *Principal) Scheme() Scheme { return p.scheme }

// Actor returns a copy of the current actor when the subject is
// impersonated, else nil.
func (p *Principal) Actor() *Actor { return p.actor.clone() }

// Impersonated reports whether a client acts on behalf of the subject.
func (p *Principal) Impersonated() bool { return p.actor != nil }

// Claims decodes the verified JWT claims into v, for claims warden does not
// model. Member names are matched exactly, as warden reads its own claims
// (RFC 7519 §4): unlike a plain json.Unmarshal, a field tagged "roles" is
// never filled from a claim named "ROLES" or "Roles". It fails for Basic
// principals, which have no claims.
func (p *Principal) Claims(v any) error {
	if p.claims == nil {
		return errors.New("warden: principal has no token claims")
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return json.Unmarshal(p.claims, v) // reports the InvalidUnmarshalError
	}
	data, err := exactNames(p.claims, rv.Type())
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// MarshalJSON renders the principal for diagnostics endpoints. Claims are
// not included.
func (p *Principal) MarshalJSON() ([]byte, error) {
	type view struct {
		Subject   string   `json:"subject"`
		ClientID  string   `json:"client_id"`
		Scopes    []string `json:"scopes"`
		Scheme    Scheme   `json:"scheme"`
		Actor     *Actor   `json:"actor"`
		Issuer    string   `json:"issuer,omitempty"`
		Audience  []string `json:"audience,omitempty"`
		ExpiresAt int64    `json:"expires_at,omitempty"`
		TokenID   string   `json:"token_id,omitempty"`
	}
	v := view{Subject: p.subject, ClientID: p.clientID, Scopes: p.scopes, Scheme: p.scheme, Actor: p.actor,
		Issuer: p.issuer, Audience: p.audience, TokenID: p.tokenID}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	if !p.expiresAt.IsZero() {
		v.ExpiresAt = p.expiresAt.Unix()
	}
	return json.Marshal(v)
}

func (a *Actor) clone() *Actor {
	if a == nil {
		return nil
	}
	c := *a
	c.Actor = a.Actor.clone()
	return &c
}

// principalKey is the unexported context key; there is deliberately no
// exported setter, so no other package can forge a principal.
type principalKey struct{}

// PrincipalFrom returns the principal warden authenticated for the request
// whose context is ctx.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

func withPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}
