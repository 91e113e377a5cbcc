package warden

// This file reads the issuer templates of multi-tenant issuers
// (IssuerConfig.Tenants, RFC 8414 §2 issuer identifiers with one
// placeholder): which tenant an "iss" names, and whether it is one a
// requirement accepts.

import (
	"errors"
	"net/url"
	"strings"
)

// splitTemplate splits an issuer URL around its placeholder, which must
// appear once and fill one whole path segment: "https://h/{tenant}/v2.0"
// or "https://h/{tenant}". ok is false for a URL without placeholder; err
// reports a malformed template.
func splitTemplate(url string) (prefix, suffix string, ok bool, err error) {
	return splitPlaceholder(url, "an issuer URL", false)
}

// splitDiscoveryTemplate splits a multi-tenant issuer's DiscoveryURL as
// splitTemplate splits its URL, except that a query may follow the
// placeholder's segment ("https://h/{tenant}/.well-known/x?appid=1"). Its
// placeholder is required.
func splitDiscoveryTemplate(url string) (prefix, suffix string, err error) {
	prefix, suffix, ok, err := splitPlaceholder(url, "a DiscoveryURL", true)
	if err == nil && !ok {
		err = errors.New("the DiscoveryURL of a multi-tenant issuer must hold " + tenantPlaceholder)
	}
	return prefix, suffix, err
}

// splitPlaceholder splits url around its one placeholder, which must fill
// one whole path segment after "scheme://host/": never the host, port or
// user info, where the tenant a token names would choose which server is
// asked for keys, and never the query or fragment (RFC 3986 §3). A valid
// tenant holds no "/", "?", "#", "%", ":" or "@", so filling such a
// segment cannot move the host or the query. query allows a query after
// the placeholder's segment.
func splitPlaceholder(raw, what string, query bool) (prefix, suffix string, ok bool, err error) {
	i := strings.Index(raw, tenantPlaceholder)
	if i < 0 {
		if strings.ContainsAny(raw, "{}") {
			return "", "", false, errors.New("the only placeholder " + what + " may hold is " + tenantPlaceholder)
		}
		return "", "", false, nil
	}
	prefix, suffix = raw[:i], raw[i+len(tenantPlaceholder):]
	if strings.ContainsAny(prefix, "{}") || strings.ContainsAny(suffix, "{}") {
		return "", "", false, errors.New(what + " holds at most one placeholder, " + tenantPlaceholder)
	}
	// The prefix must be "scheme://host/" and a path: exactly what
	// net/url reads as scheme and host, then "/", with no query or
	// fragment before the placeholder.
	segment := errors.New(tenantPlaceholder + " must be a whole path segment of " + what + ", after scheme://host/")
	u, perr := url.Parse(prefix + "tenant" + suffix)
	if perr != nil || u.Host == "" || u.Opaque != "" || u.User != nil ||
		!strings.HasPrefix(prefix, u.Scheme+"://"+u.Host+"/") || !strings.HasSuffix(prefix, "/") ||
		strings.ContainsAny(prefix, "?#\\") {
		return "", "", false, segment
	}
	switch {
	case suffix == "" || suffix[0] == '/':
	case query && suffix[0] == '?':
	default:
		return "", "", false, segment
	}
	if !query && strings.ContainsAny(suffix, "?#") {
		return "", "", false, errors.New(what + " has no query or fragment")
	}
	if query && strings.Contains(suffix, "#") {
		return "", "", false, errors.New(what + " has no fragment")
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

// tenantPlaceholder is the one placeholder of a template issuer URL.
const tenantPlaceholder = "{tenant}"

// maxTenantLength bounds a tenant name: a GUID (36) or a domain name fits.
const maxTenantLength = 64
