package warden

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file is step 4 of a request: the requirement a route (or a check
// made inside a handler) puts on an authenticated principal. A requirement
// is a small immutable tree of values, checked against a view of the
// principal (principalView) that principal.go hands over.

// Requirement is what a route, or a check made inside a handler, demands of
// an authenticated principal: scopes (Scopes, AnyScope), roles (Roles), an
// audience (Audience), a client (Clients), an issuer (Issuer), a claim
// (Claim) or a recent, strong enough user authentication (StepUp), composed
// with All and Any, so "A and (B or C)" is one value:
//
//	warden.All(warden.Scopes("Entry_Read"), warden.AnyScope("Report_Read", "Report_Admin"))
//
// The zero Requirement demands nothing beyond authentication. Requirements
// are immutable and safe to share; build them once, at start-up, where you
// can.
//
// # One refusal, however composed
//
// A request that does not meet a requirement gets exactly one refusal, and
// so one Decision and one Reason. When several parts fail, All reports the
// most fundamental failure among its parts and Any the least fundamental
// among its alternatives (the one closest to passing), in this order, from
// most to least fundamental:
//
//	Issuer    wrong_issuer                      401 invalid_token
//	Audience  wrong_audience                    401 invalid_token
//	Clients   client_not_allowed                403, no challenge
//	StepUp    insufficient_user_authentication  401 with acr_values / max_age (RFC 9470)
//	Claim     claim_rejected                    403, no challenge
//	Roles     insufficient_role                 403, no challenge
//	Scopes    insufficient_scope                403 with scope="…" (RFC 6750 §3.1)
//
// Equal failures report the first in order. So a token minted for another
// audience is refused 401 invalid_token whatever scopes it lacks: a token
// with more scopes for the same wrong audience would not help.
//
// # The scope of the challenge
//
// An insufficient_scope challenge lists, in scope="…", every scope the
// requirement names, in order of first appearance: All(Scopes("a"),
// AnyScope("b", "c")) gives scope="a b c". A token holding all of them meets
// the requirement's scope part, whichever alternatives it takes, because
// requirements are monotone: holding more never fails. For any-of that asks
// for more than would do; RFC 6750 §3 lets the resource server say which
// scopes are "necessary", and naming every alternative lets the client
// choose. Roles, claims and client ids never appear in the challenge: they
// are not OAuth scopes, and a client cannot ask the authorization server
// for them.
//
// # Invalid values
//
// A part built from an invalid value (a scope that is not an RFC 6749 §3.3
// scope-token, an empty role, a claim name with an empty segment, …) is
// never met, and Err reports why. Middleware.Require panics on such a
// requirement, so a mistake in a route is found at start-up; a requirement
// built per request from untrusted input (a tool name) simply refuses.
type Requirement struct{ n *reqNode }

// reqKind is the kind of one node of a requirement.
type reqKind uint8

const (
	reqAll      reqKind = iota // every child; none: nothing
	reqAny                     // one child
	reqScopes                  // every value is a granted scope
	reqAnyScope                // one value is a granted scope
	reqAudience                // one value is in "aud"
	reqClients                 // the client id is one of the values
	reqIssuer                  // "iss" is one of the values ({tenant} matches any tenant)
	reqRoles                   // every value is a role
	reqClaim                   // a claim's value passes a predicate
	reqStepUp                  // "acr" is one of the values and "auth_time" is recent enough
)

// reqNode is one node of a requirement. It is never modified once built.
type reqNode struct {
	kind     reqKind
	values   []string   // scopes, audiences, client ids, issuers, roles or acr values (valid ones only)
	children []*reqNode // All and Any
	path     claimPath  // Claim
	pred     func(raw []byte) (bool, error)
	maxAge   time.Duration // StepUp; whole seconds
	scopes   []string      // every scope named here and below, in order of first appearance
	text     string        // the rendering for decisions
	err      error         // why the node, or a node below it, is invalid
}

// Scopes requires every one of scopes (RFC 6749 §3.3), each matched
// exactly. Scopes() requires nothing.
func Scopes(scopes ...string) Requirement {
	return Requirement{scopeNode(reqScopes, scopes)}
}

// AnyScope requires at least one of scopes.
func AnyScope(scopes ...string) Requirement {
	n := scopeNode(reqAnyScope, scopes)
	if len(scopes) == 0 && n.err == nil {
		n.err = errors.New("warden: AnyScope needs at least one scope")
	}
	return Requirement{n}
}

func scopeNode(kind reqKind, scopes []string) *reqNode {
	n := &reqNode{kind: kind}
	n.addValues(scopes, validScopeToken, "%q is not a valid scope (RFC 6749 §3.3 scope-token)")
	n.scopes = n.values
	sep := " "
	if kind == reqAnyScope {
		sep = "|"
	}
	n.text = joinValues(scopes, sep) // invalid values too, quoted: the decision shows what was asked
	return n
}

// addValues keeps the valid ones of values, once each, in order, and
// records the first invalid one as the node's error (format has one %q).
func (n *reqNode) addValues(values []string, valid func(string) bool, format string) {
	for _, v := range values {
		if !valid(v) {
			n.err = cmpErr(n.err, fmt.Errorf("warden: "+format, v))
			continue
		}
		if !slices.Contains(n.values, v) {
			n.values = append(n.values, v)
		}
	}
}

// All requires every one of reqs. All() requires nothing.
func All(reqs ...Requirement) Requirement {
	return Requirement{parentNode(reqAll, reqs)}
}

// Any requires at least one of reqs. A zero Requirement among them makes
// Any met by every authenticated principal.
func Any(reqs ...Requirement) Requirement {
	n := parentNode(reqAny, reqs)
	if len(reqs) == 0 && n.err == nil {
		n.err = errors.New("warden: Any needs at least one requirement")
	}
	return Requirement{n}
}

func parentNode(kind reqKind, reqs []Requirement) *reqNode {
	n := &reqNode{kind: kind}
	var parts []string
	for _, r := range reqs {
		c := r.n
		if c == nil {
			c = &reqNode{kind: reqAll} // the zero Requirement: met by everyone
		}
		n.children = append(n.children, c)
		n.err = cmpErr(n.err, c.err)
		for _, s := range c.scopes {
			if !slices.Contains(n.scopes, s) {
				n.scopes = append(n.scopes, s)
			}
		}
		t := c.text
		if t == "" {
			continue
		}
		if c.compound(kind) {
			t = "(" + t + ")"
		}
		parts = append(parts, t)
	}
	sep := " "
	if kind == reqAny {
		sep = "|"
	}
	n.text = strings.Join(parts, sep)
	return n
}

// compound reports whether n's rendering needs parentheses inside a parent
// of kind parent: an any-of inside an all-of, or an all-of inside an
// any-of, with more than one part.
func (n *reqNode) compound(parent reqKind) bool {
	switch n.kind {
	case reqAny, reqAnyScope:
		return parent == reqAll && strings.Contains(n.text, "|")
	case reqAll, reqScopes:
		return parent == reqAny && strings.Contains(n.text, " ")
	}
	return false
}

// Audience requires the token's "aud" to hold one of audiences: a route
// of an API that tokens for several audiences reach (see
// IssuerConfig.Audiences). A token for another audience is refused 401
// invalid_token (wrong_audience), as the issuer's own audience check
// refuses it. Require panics if no configured issuer accepts the audience.
func Audience(audiences ...string) Requirement {
	return Requirement{valueNode(reqAudience, "audience", audiences, nonEmpty)}
}

// Clients requires the principal's client ("client_id", else "azp"; for
// Basic, the client id) to be one of ids. Another client's valid token is
// refused 403 (client_not_allowed).
func Clients(ids ...string) Requirement {
	return Requirement{valueNode(reqClients, "client", ids, nonEmpty)}
}

// Issuer requires the token's "iss" to be one of issuers, in a
// configuration that trusts several. A multi-tenant issuer's template URL
// (holding {tenant}) matches the tokens of each of its tenants. Another
// issuer's token is refused 401 invalid_token (wrong_issuer). Require
// panics if an issuer is not configured.
func Issuer(issuers ...string) Requirement {
	return Requirement{valueNode(reqIssuer, "issuer", issuers, nonEmpty)}
}

// Roles requires the principal to hold every one of roles. Roles are read
// from the claims named by Config.RoleClaims (default "roles"; for example
// "realm_access.roles", "resource_access.my-api.roles", "permissions" or
// "groups"), each a JSON array of strings or a single string, and matched
// exactly and case-sensitively. Basic principals hold no roles. A missing
// role is refused 403 (insufficient_role) without a challenge: roles are
// not OAuth scopes, so the challenge does not ask for them.
func Roles(roles ...string) Requirement {
	return Requirement{valueNode(reqRoles, "roles", roles, printable)}
}

func valueNode(kind reqKind, name string, values []string, valid func(string) bool) *reqNode {
	n := &reqNode{kind: kind}
	if len(values) == 0 {
		n.err = fmt.Errorf("warden: %s requirement needs at least one value", name)
	}
	n.addValues(values, valid, name+" requirement: %q is not a valid value")
	sep := "|"
	if kind == reqRoles {
		sep = " "
	}
	n.text = name + "(" + joinValues(values, sep) + ")"
	return n
}

// Claim requires the claim name (a top-level name, a dotted path into
// nested objects such as "org.id", or a URI, as in Config.ScopeClaims) to
// be present and its value, decoded into a T with member names matched
// exactly (as Principal.Claims decodes), to satisfy pred. A claim that is
// absent or does not decode into T fails without calling pred. A failure
// is refused 403 (claim_rejected) without a challenge. pred runs on every
// request the requirement is checked for, after the token is verified; it
// must be fast and safe for concurrent use.
//
//	warden.Claim("tid", func(tid string) bool { return tid == tenantID })
func Claim[T any](name string, pred func(T) bool) Requirement {
	n := &reqNode{kind: reqClaim, text: "claim(" + quoteValue(name) + ")"}
	p, err := parseClaimPath(name)
	switch {
	case err != nil:
		n.err = fmt.Errorf("warden: Claim: %v", err)
	case pred == nil:
		n.err = errors.New("warden: Claim needs a predicate")
	}
	n.path = p
	t := reflect.TypeFor[T]()
	n.pred = func(raw []byte) (bool, error) {
		data, err := exactNames(raw, t)
		if err != nil {
			return false, err
		}
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return false, invalidClaim(name)
		}
		return pred(v), nil
	}
	return Requirement{n}
}

// StepUp requires a user authentication of one of the authentication
// context classes acr (the token's "acr", RFC 9470 §3) and, when maxAge is
// positive, no older than maxAge (the token's "auth_time"; whole seconds,
// compared with the clock exactly, without Config.Leeway, since the bound
// is itself a security setting). At least one of the two must be given.
// A failure is refused 401 with error="insufficient_user_authentication"
// and the acr_values and max_age the client should ask the authorization
// server for (RFC 9470 §3, §4). Basic principals never meet it.
func StepUp(maxAge time.Duration, acr ...string) Requirement {
	n := &reqNode{kind: reqStepUp, maxAge: maxAge}
	// acr values travel space-separated in a quoted auth-param, so each
	// must be a token of the scope-token alphabet.
	n.addValues(acr, validScopeToken, "StepUp: %q is not a valid acr value")
	switch {
	case maxAge < 0 || maxAge%time.Second != 0:
		n.err = cmpErr(n.err, errors.New("warden: StepUp: maxAge must be zero or a positive whole number of seconds"))
	case maxAge == 0 && len(acr) == 0:
		n.err = cmpErr(n.err, errors.New("warden: StepUp needs acr values or a maxAge"))
	}
	var parts []string
	if len(acr) > 0 {
		parts = append(parts, "acr="+joinValues(acr, "|"))
	}
	if maxAge > 0 {
		parts = append(parts, "max_age="+strconv.FormatInt(int64(maxAge/time.Second), 10))
	}
	n.text = "step_up(" + strings.Join(parts, " ") + ")"
	return Requirement{n}
}

// String renders the requirement as Decision.Requirement shows it: scopes
// as "a b" (all of) or "a|b" (any of), All joined by spaces and Any by "|",
// with parentheses where they nest, and the other kinds as
// audience(…), client(…), issuer(…), roles(…), claim(…) and
// step_up(acr=… max_age=…). The zero Requirement renders as "".
func (q Requirement) String() string {
	if q.n == nil {
		return ""
	}
	return q.n.text
}

// Err reports why the requirement can never be met (an invalid value in
// one of its parts), or nil.
func (q Requirement) Err() error {
	if q.n == nil {
		return nil
	}
	return q.n.err
}

// scopeList returns every scope the requirement names, for the challenge.
func (q Requirement) scopeList() []string {
	if q.n == nil {
		return nil
	}
	return q.n.scopes
}

// walk calls fn for every node of the requirement.
func (q Requirement) walk(fn func(kind reqKind, values []string)) {
	var visit func(n *reqNode)
	visit = func(n *reqNode) {
		fn(n.kind, n.values)
		for _, c := range n.children {
			visit(c)
		}
	}
	if q.n != nil {
		visit(q.n)
	}
}

func cmpErr(prev, err error) error {
	if prev != nil {
		return prev
	}
	return err
}

func nonEmpty(s string) bool { return s != "" && utf8.ValidString(s) }

// printable accepts a role name: non-empty UTF-8 without control
// characters, since it is written in decisions and logs.
func printable(s string) bool {
	if !nonEmpty(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// joinValues renders values for a decision, once each, quoting those that
// would make the rendering ambiguous.
func joinValues(values []string, sep string) string {
	if len(values) == 1 {
		return quoteValue(values[0])
	}
	parts := make([]string, 0, len(values))
	for _, v := range values {
		if q := quoteValue(v); !slices.Contains(parts, q) {
			parts = append(parts, q)
		}
	}
	return strings.Join(parts, sep)
}

func quoteValue(v string) string {
	if v == "" || strings.ContainsAny(v, " |()\"\\") || !printable(v) {
		return strconv.Quote(v)
	}
	return v
}
