package warden

import (
	"errors"
	"slices"
	"strings"

	"github.com/wardenhq/warden/internal/jwks"
)

// This file is the verifier's multi-tenant issuers: an issuer configured
// as a template such as https://login.microsoftonline.com/{tenant}/v2.0,
// whose tenants' key sources are created on first use by a bounded
// jwks.Registry.

// tenantPlaceholder is the one placeholder of a template issuer URL.
const tenantPlaceholder = "{tenant}"

// maxTenantLength bounds a tenant name: a GUID (36) or a domain name fits.
const maxTenantLength = 64

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

// splitTemplate splits an issuer URL around its placeholder, which must
// appear once and fill one whole path segment: "https://h/{tenant}/v2.0"
// or "https://h/{tenant}". ok is false for a URL without placeholder; err
// reports a malformed template.
func splitTemplate(url string) (prefix, suffix string, ok bool, err error) {
	i := strings.Index(url, tenantPlaceholder)
	if i < 0 {
		if strings.ContainsAny(url, "{}") {
			return "", "", false, errors.New("the only placeholder an issuer URL may hold is " + tenantPlaceholder)
		}
		return "", "", false, nil
	}
	prefix, suffix = url[:i], url[i+len(tenantPlaceholder):]
	switch {
	case strings.ContainsAny(prefix, "{}") || strings.ContainsAny(suffix, "{}"):
		return "", "", false, errors.New("an issuer URL holds at most one placeholder, " + tenantPlaceholder)
	case !strings.HasSuffix(prefix, "/") || strings.Count(prefix, "/") < 3 || (suffix != "" && suffix[0] != '/'):
		// After "scheme://host/": the tenant is a path segment, never part
		// of the host, where it would choose which server discovery asks.
		return "", "", false, errors.New(tenantPlaceholder + " must be a whole path segment of the issuer URL")
	case strings.ContainsAny(suffix, "?#"):
		return "", "", false, errors.New("an issuer URL has no query or fragment")
	}
	return prefix, suffix, true, nil
}

// validTenant accepts a tenant name: 1 to 64 of A-Z a-z 0-9 - . _, and not
// "." or "..", so that filling the template can never change which path,
// host or query discovery reads.
func validTenant(s string) bool {
	if s == "" || len(s) > maxTenantLength || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// tenantOf returns the tenant iss names, if iss is the template filled by
// a valid tenant.
func tenantOf(prefix, suffix, iss string) (string, bool) {
	if len(iss) <= len(prefix)+len(suffix) || !strings.HasPrefix(iss, prefix) || !strings.HasSuffix(iss, suffix) {
		return "", false
	}
	t := iss[len(prefix) : len(iss)-len(suffix)]
	return t, validTenant(t)
}

// issuerMatches reports whether the issuer iss is want, or one of the
// tenants of want when want is a template.
func issuerMatches(want, iss string) bool {
	if want == iss {
		return true
	}
	prefix, suffix, ok, err := splitTemplate(want)
	if !ok || err != nil {
		return false
	}
	_, ok = tenantOf(prefix, suffix, iss)
	return ok
}

// forIssuer returns the issuer a token naming iss is verified as, with the
// tenant's key source, creating it if need be. A token of a tenant that is
// not accepted is refused before any network request; so is one whose
// algorithm the issuer does not allow, so no token that could never verify
// costs a discovery fetch.
func (t *tenantIssuer) forIssuer(iss, alg string) (*trustedIssuer, *Error) {
	tenant, ok := tenantOf(t.prefix, t.suffix, iss)
	if !ok || (t.allowed != nil && !t.allowed[tenant]) {
		return nil, newError(ReasonWrongIssuer, SchemeBearer, nil)
	}
	if !slices.Contains(t.base.algs, alg) {
		return nil, newError(ReasonDisallowedAlg, SchemeBearer, nil)
	}
	src, err := t.sources.Source(iss)
	if err != nil {
		return nil, newError(ReasonKeysUnavailable, SchemeBearer, err)
	}
	ti := t.base
	ti.url, ti.keys = iss, src
	return &ti, nil
}

// tenantFor finds the template issuer whose tenant iss names.
func (v *verifier) tenantFor(iss, alg string) (*trustedIssuer, *Error) {
	for _, t := range v.tenants {
		if _, ok := tenantOf(t.prefix, t.suffix, iss); ok {
			return t.forIssuer(iss, alg)
		}
	}
	return nil, newError(ReasonWrongIssuer, SchemeBearer, nil)
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

// acceptsAudience reports whether some issuer accepts tokens for aud.
func (v *verifier) acceptsAudience(aud string) bool {
	for _, ti := range v.order {
		if ti.skipAudience || slices.Contains(ti.audiences, aud) {
			return true
		}
	}
	for _, t := range v.tenants {
		if t.base.skipAudience || slices.Contains(t.base.audiences, aud) {
			return true
		}
	}
	return false
}

// trusts reports whether iss is a configured issuer, a multi-tenant
// issuer's template, or one of its tenants.
func (v *verifier) trusts(iss string) bool {
	if _, ok := v.issuers[iss]; ok {
		return true
	}
	for _, t := range v.tenants {
		if iss == t.template {
			return true
		}
		if tenant, ok := tenantOf(t.prefix, t.suffix, iss); ok && (t.allowed == nil || t.allowed[tenant]) {
			return true
		}
	}
	return false
}
