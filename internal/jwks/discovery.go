package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/wardenhq/warden/internal/fetch"
)

// Causes of a failed discovery, for errors.Is.
var (
	// ErrIssuerMismatch: the document's "issuer" is not the configured
	// issuer, so its contents must not be used (RFC 8414 §3.3, OpenID
	// Connect Discovery 1.0 §4.3).
	ErrIssuerMismatch = errors.New(`discovery document's "issuer" is not the configured issuer`)
	// ErrBadMetadata: the document is not a JSON object with a string
	// "issuer" and a usable "jwks_uri".
	ErrBadMetadata = errors.New("discovery document is unusable")
)

// Well-known URI suffixes of the two metadata formats.
const (
	oidcWellKnown  = "/.well-known/openid-configuration"       // OpenID Connect Discovery 1.0 §4
	oauthWellKnown = "/.well-known/oauth-authorization-server" // RFC 8414 §3
)

// DiscoveryURLs returns where an issuer's metadata may be published, in the
// order tried. For an issuer with a path, OpenID Connect appends the suffix
// to the path (https://cms.example/authenticate/.well-known/openid-configuration)
// while RFC 8414 §3.1 inserts it between host and path
// (https://cms.example/.well-known/oauth-authorization-server/authenticate);
// issuers in the wild use either, so both are tried. A terminating "/" is
// removed first, as both specifications require.
func DiscoveryURLs(issuer string) ([]string, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("issuer %q is not an absolute http(s) URL", issuer)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
		// RFC 8414 §2: the issuer identifier has no query or fragment.
		return nil, fmt.Errorf("issuer %q has a query, fragment or user info", issuer)
	}
	origin := u.Scheme + "://" + u.Host
	path := strings.TrimRight(u.EscapedPath(), "/")
	if path == "" {
		return []string{origin + oidcWellKnown, origin + oauthWellKnown}, nil
	}
	return []string{origin + path + oidcWellKnown, origin + oauthWellKnown + path}, nil
}

// Metadata is what warden uses of an issuer's discovery document.
type Metadata struct {
	// JWKSURI is the document's "jwks_uri".
	JWKSURI string
	// IntrospectionEndpoint is its "introspection_endpoint" (RFC 8414 §2),
	// or empty.
	IntrospectionEndpoint string
}

// Discover reads the issuer's metadata: at explicit when it is set,
// otherwise at each of DiscoveryURLs in turn. A document whose issuer
// differs from the configured one is never used, but the next location is
// still tried; if none works, the error lists every cause.
func Discover(ctx context.Context, f *fetch.Client, issuer, explicit string) (Metadata, error) {
	candidates := []string{explicit}
	if explicit == "" {
		var err error
		if candidates, err = DiscoveryURLs(issuer); err != nil {
			return Metadata{}, err
		}
	}
	var errs []error
	for _, loc := range candidates {
		md, err := fetchMetadata(ctx, f, issuer, loc)
		if err == nil {
			return md, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return Metadata{}, fmt.Errorf("discovery failed: %w", errors.Join(errs...))
}

// fetchMetadata reads one metadata document.
func fetchMetadata(ctx context.Context, f *fetch.Client, issuer, loc string) (Metadata, error) {
	body, _, err := f.Get(ctx, loc, "application/json")
	if err != nil {
		return Metadata{}, err
	}
	md, err := ParseMetadata(body, issuer)
	if err != nil {
		return Metadata{}, fmt.Errorf("%s: %w", fetch.RedactString(loc), err)
	}
	return md, nil
}

// ParseMetadata checks a discovery document and returns what warden uses
// of it. Member names are matched exactly (encoding/json's struct decoding
// would also accept "ISSUER"), and the issuer is compared byte for byte,
// with no normalisation (RFC 8414 §3.3: "identical"); when the two differ
// only in a way people often get wrong, the error says how.
func ParseMetadata(body []byte, issuer string) (Metadata, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return Metadata{}, fmt.Errorf("%w: not a JSON object: %v", ErrBadMetadata, err)
	}
	var got string
	if err := json.Unmarshal(doc["issuer"], &got); err != nil || got == "" {
		return Metadata{}, fmt.Errorf(`%w: no string "issuer"`, ErrBadMetadata)
	}
	if got != issuer {
		if hint := SpellingDifference(issuer, got); hint != "" {
			return Metadata{}, fmt.Errorf("%w: document names %q, configured %q: %s; configure the issuer exactly as the document names it",
				ErrIssuerMismatch, got, issuer, hint)
		}
		return Metadata{}, fmt.Errorf("%w: document names %q, configured %q", ErrIssuerMismatch, got, issuer)
	}
	var md Metadata
	if err := json.Unmarshal(doc["jwks_uri"], &md.JWKSURI); err != nil || md.JWKSURI == "" {
		return Metadata{}, fmt.Errorf(`%w: no string "jwks_uri"`, ErrBadMetadata)
	}
	if err := fetch.CheckURL(md.JWKSURI); err != nil {
		return Metadata{}, fmt.Errorf("%w: jwks_uri: %v", ErrBadMetadata, err)
	}
	if raw, ok := doc["introspection_endpoint"]; ok {
		if err := json.Unmarshal(raw, &md.IntrospectionEndpoint); err != nil {
			return Metadata{}, fmt.Errorf(`%w: "introspection_endpoint" is not a string`, ErrBadMetadata)
		}
	}
	return md, nil
}

// SpellingDifference explains how two issuer identifiers that are not
// equal differ only in a way people often get wrong: a trailing slash, the
// case of the scheme or host, or a default port written out. It returns
// "" when they differ otherwise, or not at all. Tokens and discovery
// documents carry the issuer exactly as the issuer spells it, and it is
// compared byte for byte (RFC 8414 §3.3), so such a configuration refuses
// every token.
func SpellingDifference(configured, got string) string {
	switch {
	case configured == got:
		return ""
	case strings.TrimRight(configured, "/") == strings.TrimRight(got, "/"):
		return "they differ only by a trailing slash"
	case strings.EqualFold(configured, got):
		return "they differ only in letter case"
	}
	cu, err1 := url.Parse(configured)
	gu, err2 := url.Parse(got)
	if err1 != nil || err2 != nil || cu.Host == "" || gu.Host == "" {
		return ""
	}
	norm := func(u *url.URL) string {
		host := strings.ToLower(u.Hostname())
		port := u.Port()
		if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
			port = ""
		}
		if port != "" {
			host += ":" + port
		}
		return strings.ToLower(u.Scheme) + "://" + host + strings.TrimRight(u.EscapedPath(), "/")
	}
	if norm(cu) == norm(gu) {
		return "they differ only by a default port, letter case or a trailing slash"
	}
	return ""
}
