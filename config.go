package warden

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Defaults applied by New where a Config field is left zero.
const (
	DefaultRealm            = "api"
	DefaultLeeway           = 60 * time.Second
	DefaultMaxTokenSize     = 8 << 10
	DefaultMaxTokenLifetime = 24 * time.Hour
	DefaultBasicCacheTTL    = 30 * time.Second
	DefaultTokenCacheSize   = 10000
)

// DefaultAlgorithms returns the signing-algorithm allow-list used when
// Config.Algorithms is empty: the asymmetric JWS families of RFC 7518 and
// RFC 8037. HMAC is only ever accepted for an issuer with an HMACSecret.
// Each call returns a fresh slice: nothing a caller holds can change what a
// built Middleware accepts.
func DefaultAlgorithms() []string { return slices.Clone(defaultAlgorithms) }

var defaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

var hmacAlgorithms = []string{"HS256", "HS384", "HS512"}

// hmacKeyBytes is the least secret length of each HMAC algorithm: at least
// the hash size (RFC 7518 §3.2).
var hmacKeyBytes = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

// Config configures a Middleware. The zero value of each optional field is
// documented on the field; New rejects a Config it cannot enforce.
type Config struct {
	// Issuer is the exact "iss" value of trusted tokens (RFC 9068 §4). Unless
	// JWKSURL, DiscoveryURL, JWKS or HMACSecret is set, keys are found by
	// discovery from this URL. Required unless Issuers is set.
	Issuer string
	// Audience must be one of the token's "aud" values. Required unless
	// SkipAudienceCheck is true.
	Audience string
	// SkipAudienceCheck disables the audience check for Issuer. Leaving
	// Audience empty is not enough: the opt-out has to be explicit.
	SkipAudienceCheck bool
	// JWKSURL fetches keys from this JWK Set URL and skips discovery.
	JWKSURL string
	// DiscoveryURL fetches this discovery document (OpenID Connect or RFC 8414)
	// instead of deriving its location from Issuer.
	DiscoveryURL string
	// JWKS is a static JWK Set document: no network is used. For tests and
	// air-gapped deployments. It is parsed like a fetched set: keys that
	// carry private members are skipped, so give the public keys only.
	JWKS []byte
	// HMACSecret makes Issuer an HMAC (HS256/384/512) issuer whose tokens are
	// verified with this shared secret only. Keys from a JWK Set are never
	// used for HMAC. The secret must be at least as long as the hash of every
	// HMAC algorithm allowed (RFC 7518 §3.2): 32 bytes for HS256, 48 for
	// HS384, 64 for HS512; with Algorithms empty, the algorithms the secret
	// is long enough for are allowed.
	HMACSecret []byte
	// ActAs honours the vendor "act_as" claim of Issuer's tokens (the
	// impersonation of Optimizely-style issuers): a client credentials token
	// whose act_as names a user speaks for that user, with the client as
	// its actor. Off by default: act_as is then an ordinary claim. Even when
	// on, act_as is honoured only on a token without sub or whose sub equals
	// its client id; on any other token it would replace the real subject,
	// and the token is refused. RFC 8693 "act" is always honoured.
	ActAs bool

	// Issuers lists further trusted issuers, each with its own audience and
	// keys. A token's "iss" selects one before any key is fetched.
	Issuers []IssuerConfig

	// Realm is the realm of every challenge. Default DefaultRealm.
	Realm string
	// Algorithms is the signing-algorithm allow-list. Default
	// DefaultAlgorithms. "none" is never accepted; HS256/384/512 are only
	// accepted for issuers configured with an HMACSecret.
	Algorithms []string
	// Leeway is the clock skew allowed on exp, nbf and iat. Zero means
	// DefaultLeeway; a negative value means none.
	Leeway time.Duration
	// MaxTokenLifetime bounds how far in the future exp may lie. Zero means
	// DefaultMaxTokenLifetime; a negative value disables the bound.
	MaxTokenLifetime time.Duration
	// MaxTokenSize is the largest token accepted, in bytes; larger ones are
	// refused before any parsing. Default DefaultMaxTokenSize.
	MaxTokenSize int
	// StrictRFC9068 enforces the JWT access token profile of RFC 9068: the
	// header typ must be "at+jwt" and sub, client_id, jti and iat are required.
	StrictRFC9068 bool
	// ScopeClaims are the claims read for scopes, in order; the first present
	// one is used. Each may be a space-delimited string or a JSON array of
	// strings, whose every value must be an RFC 6749 §3.3 scope-token
	// (otherwise the token is refused). A dotted name reads a nested member
	// ("realm_access.roles"); an absolute URI or URN (RFC 7519 §4.2
	// collision-resistant name) is one top-level name. Names are matched
	// exactly. Default {"scope", "scp"}.
	ScopeClaims []string

	// AllowQueryToken accepts the access_token URI query parameter
	// (RFC 6750 §2.3). Off by default: URLs end up in logs.
	AllowQueryToken bool
	// AllowFormToken accepts the access_token form-encoded body parameter
	// (RFC 6750 §2.2). Off by default.
	AllowFormToken bool

	// Clients verifies HTTP Basic client credentials. Required before any
	// route accepts SchemeBasic. At most GOMAXPROCS checks run at once, and
	// a client id with too many recent failures is not checked for a while;
	// see ClientVerifier.
	Clients ClientVerifier
	// BasicCacheTTL is how long a Basic credential check is remembered: a
	// success admits and a failure (ErrInvalidClient) refuses the same
	// credentials without calling Clients again. Zero means
	// DefaultBasicCacheTTL; negative remembers neither.
	BasicCacheTTL time.Duration

	// TokenCacheSize is the number of verified tokens cached: the cache
	// holds that many, then evicts one per new token by CLOCK (an expired
	// token, else one not presented since the last sweep). Its memory is
	// bounded too, at 64 MiB of what it really retains (each token, its
	// payload, the principal's strings, slices and actors, and its own
	// slots, as allocated), so tokens with many scopes or audiences lower
	// the number held, never raise the memory. A cached token is served
	// until its exp plus leeway, while the key that signed it stays in its
	// issuer's set; scopes are checked on every request. Zero means
	// DefaultTokenCacheSize; negative disables the cache.
	TokenCacheSize int

	// MayImpersonate, when set, decides whether actor (the client acting
	// through an "act" or "act_as" claim) may act for subject. When nil, the
	// issuer's decision to mint the token stands.
	MayImpersonate func(ctx context.Context, actor, subject string) bool
	// Permissions, when set, returns the permissions of an impersonated
	// subject. The subject's permissions then decide every scope check: a
	// scope is granted only when the token carries it and the subject holds
	// it. An error refuses the request with 503.
	Permissions func(ctx context.Context, p *Principal) ([]string, error)

	// OmitScopeInChallenge leaves the scope auth-param out of
	// insufficient_scope challenges.
	OmitScopeInChallenge bool
	// ExposeReason adds the machine-readable reason code ("unknown_kid",
	// "wrong_audience", …) to the JSON error body. It changes nothing else:
	// the error_description is the same fixed text either way, and it
	// already names the class of check that failed (RFC 6750 §3: a
	// description meant for the client developer). Neither reveals anything
	// the client could not learn from the token it sent and the public
	// behaviour of warden; see SECURITY.md. Off by default.
	ExposeReason bool
	// ResourceMetadataURL, when set, is advertised in every Bearer challenge
	// as the RFC 9728 resource_metadata parameter. MetadataURL derives it
	// from the resource identifier; Middleware.MetadataHandler serves the
	// document.
	ResourceMetadataURL string
	// ErrorHandler, when set, writes the body of refusals. The status,
	// WWW-Authenticate, Cache-Control and Retry-After headers are already set
	// and the status cannot be changed by the handler.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err *Error)
	// OnDecision, when set, is called once per request with the outcome,
	// before the response is written. LogDecisions is a ready-made hook;
	// ChainDecisions combines several.
	OnDecision func(Decision)

	// Keys tunes how JWK Sets are fetched, cached and refreshed.
	Keys KeySourceConfig
	// HTTPClient fetches discovery documents and JWK Sets. Default: a client
	// with timeouts that refuses redirects to another host.
	HTTPClient *http.Client
	// Logger receives operational events (key refresh failures and so on);
	// tokens and secrets are never logged. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// IssuerConfig describes one trusted issuer; see the fields of the same
// names in Config.
type IssuerConfig struct {
	Issuer            string
	Audience          string
	SkipAudienceCheck bool
	JWKSURL           string
	DiscoveryURL      string
	JWKS              []byte
	HMACSecret        []byte
	ActAs             bool
}

// issuerConfigs returns the single-issuer shorthand plus Issuers.
func (c *Config) issuerConfigs() []IssuerConfig {
	var out []IssuerConfig
	if c.Issuer != "" || c.Audience != "" || c.JWKSURL != "" || c.DiscoveryURL != "" || c.JWKS != nil || c.HMACSecret != nil {
		out = append(out, IssuerConfig{
			Issuer: c.Issuer, Audience: c.Audience, SkipAudienceCheck: c.SkipAudienceCheck,
			JWKSURL: c.JWKSURL, DiscoveryURL: c.DiscoveryURL, JWKS: c.JWKS, HMACSecret: c.HMACSecret,
			ActAs: c.ActAs,
		})
	}
	out = append(out, c.Issuers...)
	for i := range out {
		// Copies: a caller that reuses its buffers cannot change the keys of
		// a built Middleware.
		out[i].JWKS = bytes.Clone(out[i].JWKS)
		out[i].HMACSecret = bytes.Clone(out[i].HMACSecret)
	}
	return out
}

var errConfig = errors.New("warden: invalid config")

func configErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errConfig}, args...)...)
}

// validateIssuerConfig checks what can be checked without the network.
func validateIssuerConfig(ic IssuerConfig) error {
	if ic.Issuer == "" {
		return configErrorf("an issuer is required")
	}
	if ic.Audience == "" && !ic.SkipAudienceCheck {
		return configErrorf("issuer %q: Audience is required (set SkipAudienceCheck to disable the check)", ic.Issuer)
	}
	if ic.Audience != "" && ic.SkipAudienceCheck {
		return configErrorf("issuer %q: Audience and SkipAudienceCheck are both set", ic.Issuer)
	}
	sources := 0
	for _, set := range []bool{ic.JWKSURL != "", ic.DiscoveryURL != "", ic.JWKS != nil, ic.HMACSecret != nil} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return configErrorf("issuer %q: set at most one of JWKSURL, DiscoveryURL, JWKS and HMACSecret", ic.Issuer)
	}
	if ic.HMACSecret != nil && len(ic.HMACSecret) < 32 {
		return configErrorf("issuer %q: HMACSecret must be at least 32 bytes (RFC 7518 §3.2)", ic.Issuer)
	}
	if sources == 0 {
		if err := checkFetchURL(ic.Issuer); err != nil {
			return configErrorf("issuer %q cannot be used for discovery: %v", ic.Issuer, err)
		}
	}
	for _, u := range []string{ic.JWKSURL, ic.DiscoveryURL} {
		if u == "" {
			continue
		}
		if err := checkFetchURL(u); err != nil {
			return configErrorf("issuer %q: %v", ic.Issuer, err)
		}
	}
	return nil
}

// checkFetchURL accepts https URLs, and http only on loopback hosts where no
// network attacker can sit between warden and the issuer (tests, demos).
func checkFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q must use https", raw)
	default:
		return fmt.Errorf("%q must use https", raw)
	}
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func cmpInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// durationOr applies the "zero means default, negative means none" rule.
func durationOr(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func validRealm(realm string) error {
	for i := 0; i < len(realm); i++ {
		if c := realm[i]; c < 0x20 || c == 0x7f {
			return configErrorf("Realm contains a control character")
		}
	}
	return nil
}

// allowedAlgorithms validates the configured allow-list and returns its
// asymmetric members, in a slice of its own.
func allowedAlgorithms(names []string) ([]string, error) {
	if len(names) == 0 {
		return DefaultAlgorithms(), nil
	}
	var out []string
	for _, n := range names {
		switch {
		case slices.Contains(defaultAlgorithms, n):
			out = append(out, n)
		case slices.Contains(hmacAlgorithms, n):
			// Accepted here, but only used by issuers with an HMACSecret.
		case n == "none" || n == "None" || n == "NONE":
			return nil, configErrorf(`algorithm "none" is never accepted`)
		default:
			return nil, configErrorf("unknown algorithm %q", n)
		}
	}
	return out, nil
}

// hmacAlgorithmsFor returns the HMAC algorithms an HMAC issuer accepts:
// those in the configured list, each of which secret must be long enough
// for (RFC 7518 §3.2), or, when the list is empty, those it is long enough
// for.
func hmacAlgorithmsFor(issuer string, names []string, secret []byte) ([]string, error) {
	var out []string
	for _, n := range hmacAlgorithms {
		switch {
		case len(names) == 0:
			if len(secret) >= hmacKeyBytes[n] {
				out = append(out, n)
			}
		case slices.Contains(names, n):
			if len(secret) < hmacKeyBytes[n] {
				return nil, configErrorf("issuer %q: %s needs an HMACSecret of at least %d bytes, got %d (RFC 7518 §3.2)",
					issuer, n, hmacKeyBytes[n], len(secret))
			}
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, configErrorf("issuer %q has an HMACSecret but Algorithms allows no HMAC algorithm", issuer)
	}
	return out, nil
}

// scopeClaimPaths parses Config.ScopeClaims.
func scopeClaimPaths(names []string) ([]claimPath, error) {
	if len(names) == 0 {
		names = []string{"scope", "scp"}
	}
	out := make([]claimPath, 0, len(names))
	for _, n := range names {
		p, err := parseClaimPath(n)
		if err != nil {
			return nil, configErrorf("ScopeClaims: %v", err)
		}
		out = append(out, p)
	}
	return out, nil
}
