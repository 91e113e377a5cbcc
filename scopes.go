package warden

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// This file is step 4 of a request: checking the route's requirement
// (requirement.go) against the principal, and the syntax of scopes.

// principalView is what a requirement is checked against: the parts of a
// principal the requirement kinds read, handed over by principal.go.
type principalView struct {
	scheme      Scheme
	scopes      []string // the token's scopes (for Basic, the client's permissions)
	permissions []string // an impersonated subject's permissions, when usePerms
	usePerms    bool
	clientID    string
	issuer      string
	audience    []string
	claims      []byte // the verified JWT payload; nil for Basic
}

// requirementCheck is the fourth step: it decides whether a principal meets
// a requirement and, when it does not, which one refusal it gets.
type requirementCheck struct {
	roleClaims []claimPath // where roles are read (Config.RoleClaims)
	accumulate bool        // insufficient_scope refusals carry the token's scopes (Config.AccumulateScopesInChallenge)
	now        func() time.Time
}

// evaluate returns nil when v meets q, else the refusal.
func (c *requirementCheck) evaluate(q Requirement, v principalView) *Error {
	if q.n == nil {
		return nil
	}
	env := reqEnv{view: v, rules: c, now: c.now()}
	f, met := q.n.eval(&env)
	if met {
		return nil
	}
	e := newError(f.reason, v.scheme, f.cause)
	switch f.reason {
	case ReasonInsufficientScope:
		e.Scopes = slices.Clone(q.n.scopes)
		if c.accumulate {
			e.detail = &refusalDetail{granted: v.scopes}
		}
	case ReasonInsufficientUserAuthentication:
		e.detail = &refusalDetail{acrValues: f.node.values, maxAge: f.node.maxAge}
	case ReasonWrongAudience:
		e = newMismatch(f.reason, v.scheme, "aud", f.node.values, v.audience, "")
	case ReasonWrongIssuer:
		e = newMismatch(f.reason, v.scheme, "iss", f.node.values, []string{v.issuer}, "")
	}
	return e
}

// reqEnv is one evaluation: the principal and the clock.
type reqEnv struct {
	view  principalView
	rules *requirementCheck
	now   time.Time
}

// unmet is a failed part of a requirement: its reason, the node that
// failed (for the step-up parameters) and a cause for logs.
type unmet struct {
	reason Reason
	node   *reqNode
	cause  error
}

// severity orders the failures: All reports its most severe part, Any its
// least severe alternative. See the Requirement documentation.
var severity = map[Reason]int{
	ReasonInsufficientScope:              0,
	ReasonInsufficientRole:               1,
	ReasonClaimRejected:                  2,
	ReasonInsufficientUserAuthentication: 3,
	ReasonClientNotAllowed:               4,
	ReasonWrongAudience:                  5,
	ReasonWrongIssuer:                    6,
}

// Causes of failed parts, for logs: fixed values, so that a part failing on
// the way to an alternative that passes allocates nothing.
var (
	errRouteAudience     = errors.New(`"aud" holds none of the route's audiences`)
	errRouteClaimMissing = errors.New("the route's claim is missing")
	errNoACR             = &claimError{claim: "acr", missing: true}
	errRouteACR          = errors.New(`"acr" is none of the route's values`)
	errNoAuthTime        = &claimError{claim: "auth_time", missing: true}
	errAuthTimeTooOld    = errors.New(`"auth_time" is older than the route's max_age`)
)

// eval reports whether the node is met and, when it is not, why. Failures
// are values: an alternative that fails on the way to one that passes
// costs no allocation.
func (n *reqNode) eval(env *reqEnv) (unmet, bool) {
	switch n.kind {
	case reqAll:
		var worst unmet
		met := true
		for _, c := range n.children {
			if f, ok := c.eval(env); !ok && (met || severity[f.reason] > severity[worst.reason]) {
				worst, met = f, false
			}
		}
		return worst, met
	case reqAny:
		best := unmet{reason: ReasonInsufficientScope, node: n, cause: n.err} // Any(): never met
		for i, c := range n.children {
			f, ok := c.eval(env)
			if ok {
				return unmet{}, true
			}
			if i == 0 || severity[f.reason] < severity[best.reason] {
				best = f
			}
		}
		return best, false
	}
	if reason, cause := n.leaf(env); reason != ReasonOK {
		return unmet{reason: reason, node: n, cause: cause}, false
	}
	return unmet{}, true
}

// leaf checks a node that is not All or Any, returning ReasonOK when it is
// met. An invalid node is never met.
func (n *reqNode) leaf(env *reqEnv) (Reason, error) {
	v := &env.view
	fail := func(r Reason, cause error) (Reason, error) { return r, cmpErr(n.err, cause) }
	switch n.kind {
	case reqScopes, reqAnyScope:
		if n.err != nil {
			return fail(ReasonInsufficientScope, nil)
		}
		has := func(s string) bool {
			return slices.Contains(v.scopes, s) && (!v.usePerms || slices.Contains(v.permissions, s))
		}
		if n.kind == reqAnyScope && !slices.ContainsFunc(n.values, has) ||
			n.kind == reqScopes && slices.ContainsFunc(n.values, func(s string) bool { return !has(s) }) {
			return fail(ReasonInsufficientScope, nil)
		}
	case reqAudience:
		if n.err != nil || !slices.ContainsFunc(n.values, func(a string) bool { return slices.Contains(v.audience, a) }) {
			return fail(ReasonWrongAudience, errRouteAudience)
		}
	case reqClients:
		if n.err != nil || v.clientID == "" || !slices.Contains(n.values, v.clientID) {
			return fail(ReasonClientNotAllowed, nil)
		}
	case reqIssuer:
		if n.err != nil || v.issuer == "" || !slices.ContainsFunc(n.values, func(iss string) bool { return issuerMatches(iss, v.issuer) }) {
			return fail(ReasonWrongIssuer, nil)
		}
	case reqRoles:
		if n.err != nil {
			return fail(ReasonInsufficientRole, nil)
		}
		for _, r := range n.values {
			if held, err := env.rules.holdsRole(v.claims, r); !held || err != nil {
				return fail(ReasonInsufficientRole, err)
			}
		}
	case reqClaim:
		if n.err != nil {
			return fail(ReasonClaimRejected, nil)
		}
		raw, ok := lookupClaim(v.claims, n.path)
		if !ok {
			return fail(ReasonClaimRejected, errRouteClaimMissing)
		}
		if met, err := n.pred(raw); err != nil || !met {
			return fail(ReasonClaimRejected, err)
		}
	case reqStepUp:
		if n.err != nil {
			return fail(ReasonInsufficientUserAuthentication, nil)
		}
		if cause := n.authenticatedEnough(v.claims, env.now); cause != nil {
			return fail(ReasonInsufficientUserAuthentication, cause)
		}
	}
	return ReasonOK, nil
}

// authenticatedEnough checks the RFC 9470 claims: "acr" must be one of the
// node's values, and "auth_time" no older than its maxAge.
func (n *reqNode) authenticatedEnough(claims []byte, now time.Time) error {
	if len(n.values) > 0 {
		raw, ok := lookupClaim(claims, claimPath{"acr"})
		if !ok {
			return errNoACR
		}
		if !slices.ContainsFunc(n.values, func(acr string) bool { eq, _ := jsonStringIs(raw, acr); return eq }) {
			return errRouteACR
		}
	}
	if n.maxAge > 0 {
		raw, ok := lookupClaim(claims, claimPath{"auth_time"})
		if !ok {
			return errNoAuthTime
		}
		at, err := parseNumericDate("auth_time", raw)
		if err != nil {
			return err
		}
		if now.Sub(time.Unix(at.seconds, 0)) > n.maxAge {
			return errAuthTimeTooOld
		}
	}
	return nil
}

// holdsRole reports whether one of the configured role claims holds role:
// a string equal to it, or an array with a string member equal to it. A
// role claim that is neither a string nor an array of strings is an error,
// and then no claim holds any role. Nothing is allocated for plain strings.
func (c *requirementCheck) holdsRole(claims []byte, role string) (bool, error) {
	held := false
	for _, p := range c.roleClaims {
		raw, ok := lookupClaim(claims, p)
		if !ok {
			continue
		}
		if eq, isString := jsonStringIs(raw, role); isString {
			held = held || eq
			continue
		}
		err := walkArray(raw, func(m []byte) error {
			eq, isString := jsonStringIs(m, role)
			if !isString {
				return errNotObject // a member that is no string: no role at all
			}
			held = held || eq
			return nil
		})
		if err != nil {
			return false, invalidClaim(strings.Join(p, "."))
		}
	}
	return held, nil
}

// lookupClaim returns the value at path in a verified payload, or false
// when it is absent (or the principal has no claims).
func lookupClaim(claims []byte, path claimPath) ([]byte, bool) {
	if len(claims) == 0 {
		return nil, false
	}
	return lookupPath(claims[skipSpace(claims, 0):], path)
}

// scopeRegistry records the scopes routes require. Routes are usually built
// at start-up, but nothing stops one being built while requests are served,
// hence the lock. The zero value is ready to use.
type scopeRegistry struct {
	mu     sync.Mutex
	scopes map[string]struct{}
}

func (r *scopeRegistry) add(scopes []string) {
	if len(scopes) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.scopes == nil {
		r.scopes = make(map[string]struct{}, len(scopes))
	}
	for _, s := range scopes {
		r.scopes[s] = struct{}{}
	}
}

// list returns the scopes, sorted so the document is stable.
func (r *scopeRegistry) list() []string {
	r.mu.Lock()
	out := make([]string, 0, len(r.scopes))
	for s := range r.scopes {
		out = append(out, s)
	}
	r.mu.Unlock()
	slices.Sort(out)
	return out
}
