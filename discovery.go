package warden

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Causes of a failed discovery, for errors.Is.
var (
	// errIssuerMismatch: the document's "issuer" is not the configured
	// issuer, so its contents must not be used (RFC 8414 §3.3, OpenID
	// Connect Discovery 1.0 §4.3).
	errIssuerMismatch = errors.New(`discovery document's "issuer" is not the configured issuer`)
	// errBadMetadata: the document is not a JSON object with a string
	// "issuer" and a usable "jwks_uri".
	errBadMetadata = errors.New("discovery document is unusable")
)

// Well-known URI suffixes of the two metadata formats.
const (
	oidcWellKnown  = "/.well-known/openid-configuration"       // OpenID Connect Discovery 1.0 §4
	oauthWellKnown = "/.well-known/oauth-authorization-server" // RFC 8414 §3
)

// discoveryURLs returns where an issuer's metadata may be published, in the
// order tried. For an issuer with a path, OpenID Connect appends the suffix
// to the path (https://cms.example/authenticate/.well-known/openid-configuration)
// while RFC 8414 §3.1 inserts it between host and path
// (https://cms.example/.well-known/oauth-authorization-server/authenticate);
// issuers in the wild use either, so both are tried. A terminating "/" is
// removed first, as both specifications require.
func discoveryURLs(issuer string) ([]string, error) {
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

// discover finds the issuer's jwks_uri from its metadata: at explicit when
// it is set, otherwise at each of discoveryURLs in turn. A document whose
// issuer differs from the configured one is never used, but the next
// location is still tried; if none works, the error lists every cause.
func discover(ctx context.Context, f *fetcher, issuer, explicit string) (string, error) {
	candidates := []string{explicit}
	if explicit == "" {
		var err error
		if candidates, err = discoveryURLs(issuer); err != nil {
			return "", err
		}
	}
	var errs []error
	for _, loc := range candidates {
		jwksURI, err := fetchMetadata(ctx, f, issuer, loc)
		if err == nil {
			return jwksURI, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return "", fmt.Errorf("discovery failed: %w", errors.Join(errs...))
}

// fetchMetadata reads one metadata document and returns its jwks_uri.
func fetchMetadata(ctx context.Context, f *fetcher, issuer, loc string) (string, error) {
	body, _, err := f.get(ctx, loc, "application/json")
	if err != nil {
		return "", err
	}
	jwksURI, err := parseMetadata(body, issuer)
	if err != nil {
		u, _ := url.Parse(loc) // loc was just fetched, so it parses
		return "", fmt.Errorf("%s: %w", redact(u), err)
	}
	return jwksURI, nil
}

// parseMetadata checks a discovery document and returns its jwks_uri.
// Member names are matched exactly (encoding/json's struct decoding would
// also accept "ISSUER"), and the issuer is compared byte for byte, with no
// normalisation (RFC 8414 §3.3: "identical").
func parseMetadata(body []byte, issuer string) (string, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("%w: not a JSON object: %v", errBadMetadata, err)
	}
	var got, jwksURI string
	if err := json.Unmarshal(doc["issuer"], &got); err != nil || got == "" {
		return "", fmt.Errorf(`%w: no string "issuer"`, errBadMetadata)
	}
	if got != issuer {
		return "", fmt.Errorf("%w: document names %q", errIssuerMismatch, got)
	}
	if err := json.Unmarshal(doc["jwks_uri"], &jwksURI); err != nil || jwksURI == "" {
		return "", fmt.Errorf(`%w: no string "jwks_uri"`, errBadMetadata)
	}
	if err := checkFetchURL(jwksURI); err != nil {
		return "", fmt.Errorf("%w: jwks_uri: %v", errBadMetadata, err)
	}
	return jwksURI, nil
}
