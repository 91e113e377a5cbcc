package warden

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"time"
)

// This file is the principal: who a request speaks for, built from a
// verified token or client credentials, and all of impersonation, from the
// claims that name an actor to the policy that decides whether it may act.

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
	cnf       Confirmation // the token's binding (RFC 7800 "cnf"); zero for an unbound token and for Basic
	claims    []byte       // the verified JWT payload, nil for Basic
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

// Confirmation returns how the token is bound to its client: a DPoP key
// thumbprint, a certificate thumbprint, both, or neither (a bearer token,
// and every Basic principal). warden checked every binding it names.
func (p *Principal) Confirmation() Confirmation { return p.cnf }

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
		Subject   string        `json:"subject"`
		ClientID  string        `json:"client_id"`
		Scopes    []string      `json:"scopes"`
		Scheme    Scheme        `json:"scheme"`
		Actor     *Actor        `json:"actor"`
		Issuer    string        `json:"issuer,omitempty"`
		Audience  []string      `json:"audience,omitempty"`
		ExpiresAt int64         `json:"expires_at,omitempty"`
		TokenID   string        `json:"token_id,omitempty"`
		Cnf       *Confirmation `json:"cnf,omitempty"`
	}
	v := view{Subject: p.subject, ClientID: p.clientID, Scopes: p.scopes, Scheme: p.scheme, Actor: p.actor,
		Issuer: p.issuer, Audience: p.audience, TokenID: p.tokenID}
	if p.cnf != (Confirmation{}) {
		v.Cnf = &p.cnf
	}
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

// principalContext is the context a route hands to its handler: the
// principal (nil when an optional route admitted a request without
// credentials) and the schemes the route accepts, which a handler-level
// check needs to write the refusal the route would have written. It is one
// allocation, as context.WithValue would be.
type principalContext struct {
	context.Context
	p       *Principal
	schemes Scheme
}

// Value answers principalKey with the principalContext itself.
func (c *principalContext) Value(key any) any {
	if key == (principalKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// PrincipalFrom returns the principal warden authenticated for the request
// whose context is ctx.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	c, ok := ctx.Value(principalKey{}).(*principalContext)
	if !ok || c.p == nil {
		return nil, false
	}
	return c.p, true
}

func withPrincipal(ctx context.Context, p *Principal, schemes Scheme) context.Context {
	return &principalContext{Context: ctx, p: p, schemes: schemes}
}

// fromRoute returns what the route that admitted the request left in ctx:
// its principal (possibly nil) and its schemes, or zero schemes when no
// route did.
func fromRoute(ctx context.Context) (*Principal, Scheme) {
	c, ok := ctx.Value(principalKey{}).(*principalContext)
	if !ok {
		return nil, 0
	}
	return c.p, c.schemes
}

// view hands the requirement step what it reads of the principal.
func (p *Principal) view(perms []string, usePerms bool) principalView {
	return principalView{scheme: p.scheme, scopes: p.scopes, permissions: perms, usePerms: usePerms,
		clientID: p.clientID, issuer: p.issuer, audience: p.audience, claims: p.claims}
}

// newClientPrincipal is the principal of verified Basic client credentials:
// the client speaks for itself, with its permissions as scopes.
func newClientPrincipal(clientID string, permissions []string) *Principal {
	return &Principal{subject: clientID, clientID: clientID, scopes: slices.Clone(permissions), scheme: SchemeBasic}
}

// Causes of an invalid impersonation claim, for logs.
var (
	// errActAsOnUserToken: a vendor act_as claim on a token whose subject
	// is not its client.
	errActAsOnUserToken = errors.New("act_as on a token whose sub is not its client_id")
	errActMismatch      = errors.New("act and act_as name different subjects")
)

const (
	maxActorDepth  = 8
	maxActAsLength = 256
)

// resolveActor decides who a verified token speaks for. With an RFC 8693
// "act" claim the subject is the user and "act" the acting client; with a
// vendor "act_as" claim, honoured only when actAsOn (Issuer.ActAs), the
// token's own client acts as the named user. act and actAs are the raw
// JSON values, nil when absent. p.subject must already be set.
func (p *Principal) resolveActor(act, actAs []byte, actAsOn bool, tokenSub string) *Error {
	var actor *Actor
	if act != nil {
		a, err := decodeActor(act, 1)
		if err != nil {
			return newError(ReasonInvalidClaim, SchemeBearer, err)
		}
		actor = a
	}
	var user string
	if actAs != nil && actAsOn {
		s, ok := jsonString(actAs)
		if !ok || s == "" || len(s) > maxActAsLength {
			return newError(ReasonInvalidClaim, SchemeBearer, invalidClaim("act_as"))
		}
		user = s
	}
	switch {
	case actor != nil && user != "":
		// Both shapes present: accept only if they name the same user.
		if user != p.subject {
			return newError(ReasonInvalidClaim, SchemeBearer, errActMismatch)
		}
		p.actor = actor
	case actor != nil:
		p.actor = actor
	case user != "":
		// act_as is a vendor claim that claim mappers do not guard as they
		// guard sub: it is honoured only on a client credentials token (no
		// sub, or sub equal to the client id), where the client is the only
		// party the token speaks for. On a user's token it would replace the
		// real subject, so such a token is refused.
		if p.clientID == "" {
			return newError(ReasonMissingClaim, SchemeBearer, &claimError{claim: "client_id", missing: true})
		}
		if tokenSub != "" && tokenSub != p.clientID {
			return newError(ReasonInvalidClaim, SchemeBearer, errActAsOnUserToken)
		}
		p.actor = &Actor{Subject: p.clientID, ClientID: p.clientID}
		p.subject = user
	}
	return nil
}

// decodeActor reads an RFC 8693 §4.1 "act" claim: a JSON object whose "sub"
// identifies the actor, possibly nesting the prior actor.
func decodeActor(v []byte, depth int) (*Actor, error) {
	if depth > maxActorDepth || len(v) == 0 || v[0] != '{' {
		return nil, invalidClaim("act")
	}
	// Each member is read once, from its last occurrence, as encoding/json
	// reads duplicates: an earlier occurrence of another type does not
	// decide, so every reader of the token sees the same actor.
	var sub, clientID, prior []byte
	err := walkObject(v, func(name string, m []byte) error {
		switch name {
		case "sub":
			sub = m
		case "client_id":
			clientID = m
		case "act":
			prior = m
		}
		return nil
	})
	if err != nil || sub == nil {
		return nil, invalidClaim("act")
	}
	a := &Actor{}
	var ok bool
	if a.Subject, ok = jsonString(sub); !ok || a.Subject == "" {
		return nil, invalidClaim("act")
	}
	if clientID != nil {
		if a.ClientID, ok = jsonString(clientID); !ok {
			return nil, invalidClaim("act")
		}
	}
	if prior != nil {
		if a.Actor, err = decodeActor(prior, depth+1); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// actorID names the actor for policy decisions: its client id, else its
// subject.
func (a *Actor) actorID() string {
	if a.ClientID != "" {
		return a.ClientID
	}
	return a.Subject
}

// impersonation applies Config.Impersonation to every request whose
// principal has an actor.
type impersonation struct {
	allow       func(ctx context.Context, actor, subject string) bool
	resolve     func(ctx context.Context, p *Principal) ([]string, error) // nil without a resolver
	permissions *permissionCache                                          // its answers, per subject
	logger      *slog.Logger
}

// check applies the policy to p. It returns the impersonated subject's
// permissions when they decide the scope checks (use), or a refusal.
func (im *impersonation) check(ctx context.Context, p *Principal) (perms []string, use bool, e *Error) {
	if p.actor == nil {
		return nil, false, nil
	}
	if im.allow != nil && !im.allow(ctx, p.actor.actorID(), p.subject) {
		return nil, false, newError(ReasonImpersonationDenied, p.scheme, nil)
	}
	if im.resolve == nil {
		return nil, false, nil
	}
	perms, err := im.permissions.get(ctx, p.issuer+"\x00"+p.subject, func(ctx context.Context) ([]string, error) {
		return im.resolve(ctx, p)
	})
	if err != nil {
		im.logger.ErrorContext(ctx, "warden: permission resolver failed", "error", err)
		return nil, false, newError(ReasonPermissionsUnavailable, p.scheme, err)
	}
	return perms, true, nil
}
