package warden

// This file reads the issuer templates of multi-tenant issuers
// (IssuerConfig.Tenants, RFC 8414 §2 issuer identifiers with one
// placeholder): which tenant an "iss" names, and whether it is one a
// requirement accepts.

import (
	"errors"
	"strings"
)

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

// tenantPlaceholder is the one placeholder of a template issuer URL.
const tenantPlaceholder = "{tenant}"

// maxTenantLength bounds a tenant name: a GUID (36) or a domain name fits.
const maxTenantLength = 64
