package warden

import (
	"slices"

	"github.com/wardenhq/warden/internal/jwks"
)

// This file is the verifier's multi-tenant issuers: an issuer configured
// as a template such as https://login.microsoftonline.com/{tenant}/v2.0,
// whose tenants' key sources are created on first use by a bounded
// jwks.Registry.

// tenantIssuer is a template issuer: every token whose "iss" is the
// template with the placeholder filled by an accepted tenant is verified
// with that tenant's keys, under the template's audience, algorithms and
// act_as setting.
type tenantIssuer struct {
	template       string
	prefix, suffix string          // around the placeholder
	allowed        map[string]bool // nil: any tenant
	base           trustedIssuer   // all but the keys
	sources        *jwks.Registry
}

// forIssuer returns the issuer a token naming iss is verified as, with the
// tenant's key source, creating it if need be. A token of a tenant that is
// not accepted is refused before any network request; so is one whose
// algorithm the issuer does not allow, so no token that could never verify
// costs a discovery fetch.
//
// The caller calls release once it has checked the signature: until then
// the registry does not close the source under it.
func (t *tenantIssuer) forIssuer(iss, alg string) (ti *trustedIssuer, release func(), e *Error) {
	tenant, ok := tenantOf(t.prefix, t.suffix, iss)
	if !ok || (t.allowed != nil && !t.allowed[tenant]) {
		return nil, nil, newError(ReasonWrongIssuer, SchemeBearer, nil)
	}
	if !slices.Contains(t.base.algs, alg) {
		return nil, nil, newError(ReasonDisallowedAlg, SchemeBearer, nil)
	}
	src, release, err := t.sources.Source(iss)
	if err != nil {
		return nil, nil, newError(ReasonKeysUnavailable, SchemeBearer, err)
	}
	tenantIss := t.base
	tenantIss.url, tenantIss.keys = iss, src
	return &tenantIss, release, nil
}

// allowedIssuers lists the issuer identifiers of an allow-list's tenants,
// for RFC 9728 authorization_servers; nil for any tenant.
func (t *tenantIssuer) allowedIssuers() []string {
	var out []string
	for tenant := range t.allowed {
		out = append(out, t.prefix+tenant+t.suffix)
	}
	slices.Sort(out)
	return out
}
