package warden

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wardenhq/warden/internal/fetch"
	"github.com/wardenhq/warden/internal/jwks"
)

// This file is the one place for configuration: the types a user fills in,
// every default, and every check New makes. The rule for every optional
// field is the same: its zero value means the default its comment names.
// Nothing is turned off by a negative number.

// Defaults applied where a Config field is left zero.
const (
	defaultRealm            = "api"
	defaultLeeway           = 60 * time.Second
	defaultMaxTokenSize     = 8 << 10
	defaultMaxTokenLifetime = 24 * time.Hour
	defaultBasicCacheTTL    = 30 * time.Second
	defaultTokenCacheSize   = 10000
	defaultPermissionsTTL   = 30 * time.Second
	defaultTenantKeySets    = 1000
	defaultNewTenantsPerMin = 60
)

// defaultRoleClaims are read for roles when Config.RoleClaims is empty.
var defaultRoleClaims = []string{"roles"}

// defaultScopeClaims are read for scopes when Config.ScopeClaims is empty.
var defaultScopeClaims = []string{"scope", "scp"}

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

// Config configures a Middleware. New checks all of it and reports every
// mistake; nothing is checked per request.
type Config struct {
	// Issuers are the trusted token issuers. A token's "iss" selects one
	// before any key is fetched. At least one issuer, or Clients, is
	// required.
	Issuers []IssuerConfig

	// Algorithms is the signing-algorithm allow-list. Default
	// DefaultAlgorithms(). "none" is never accepted; HS256/384/512 are only
	// accepted for issuers configured with an HMACSecret.
	Algorithms []string
	// Leeway is the clock skew allowed on exp, nbf and iat. Default 60 s.
	Leeway time.Duration
	// NoLeeway compares exp, nbf and iat with the clock exactly, allowing no
	// skew at all; Leeway must then be left zero.
	NoLeeway bool
	// MaxTokenLifetime bounds how far in the future exp may lie. Default
	// 24 h.
	MaxTokenLifetime time.Duration
	// MaxTokenSize is the largest token accepted, in bytes; larger ones are
	// refused before any parsing. Default 8 KiB.
	MaxTokenSize int
	// StrictRFC9068 enforces the JWT access token profile of RFC 9068: the
	// header typ must be "at+jwt" and sub, client_id, jti and iat are
	// required.
	StrictRFC9068 bool
	// ScopeClaims are the claims read for scopes, in order; the first
	// present one is used. Each may be a space-delimited string or a JSON
	// array of strings, whose every value must be an RFC 6749 §3.3
	// scope-token (otherwise the token is refused). A dotted name reads a
	// nested member ("realm_access.roles"); an absolute URI or URN (RFC 7519
	// §4.2 collision-resistant name) is one top-level name. Names are
	// matched exactly. Default {"scope", "scp"}.
	ScopeClaims []string
	// RoleClaims are the claims Roles requirements read, each a JSON array
	// of strings or a single string; a principal holds the roles of all of
	// them. Names are as in ScopeClaims: a dotted name reads a nested
	// member ("realm_access.roles", "resource_access.my-api.roles"), a URI
	// is one top-level name, and every name is matched exactly. The claims
	// are read from the verified token on every request whose route
	// requires roles. Default {"roles"}.
	RoleClaims []string
	// TokenCacheSize is the number of verified tokens cached: the cache
	// holds that many, then evicts one per new token by CLOCK (an expired
	// token, else one not presented since the last sweep). Its memory is
	// bounded too, at 64 MiB of what it really retains, so tokens with many
	// scopes or audiences lower the number held, never raise the memory. A
	// cached token is served until its exp plus leeway, while the key that
	// signed it stays in its issuer's set; the route's requirement is
	// checked on every request. Default 10,000.
	TokenCacheSize int

	// AllowQueryToken accepts the access_token URI query parameter
	// (RFC 6750 §2.3). Off by default: URLs end up in logs.
	AllowQueryToken bool
	// AllowFormToken accepts the access_token form-encoded body parameter
	// (RFC 6750 §2.2). Off by default. The middleware then reads the form
	// body of a POST, at most 3×MaxTokenSize + 4 KiB of it; a larger one
	// is refused 400 invalid_request.
	AllowFormToken bool

	// Clients verifies HTTP Basic client credentials (for example a
	// clientstore.Store). Required before any route accepts SchemeBasic. At
	// most GOMAXPROCS checks run at once, and a client id with too many
	// recent failures is not checked for a while; see ClientVerifier.
	Clients ClientVerifier
	// BasicCacheTTL is how long a Basic credential check is remembered: a
	// success admits and a failure refuses the same credentials without
	// calling Clients again. Default 30 s.
	BasicCacheTTL time.Duration

	// Impersonation is the policy for tokens whose client acts for another
	// subject (RFC 8693 "act", or a vendor "act_as" claim where the issuer
	// opts in). The zero value accepts the issuer's decision to mint the
	// token.
	Impersonation Impersonation

	// Revocation configures the deny-list of revoked tokens fed by
	// Middleware.Revoke. The zero value keeps it in this process's memory.
	Revocation Revocation

	// Realm is the realm of every challenge. Default "api".
	Realm string
	// OmitScopeInChallenge leaves the scope auth-param out of
	// insufficient_scope challenges.
	OmitScopeInChallenge bool
	// AccumulateScopesInChallenge makes the scope auth-param of
	// insufficient_scope challenges list the scopes the token already
	// holds followed by those the requirement names, as the MCP
	// authorization specification of 2025-11-25 recommends, so that a
	// client which replaces its token with one for the challenged scopes
	// keeps what it had. Off by default: RFC 6750 §3 defines scope as the
	// scopes necessary for the request, and newer MCP revisions leave the
	// accumulation to the client. Only the verified token's own scopes are
	// echoed, never a permission resolver's answer. It cannot be combined
	// with OmitScopeInChallenge.
	AccumulateScopesInChallenge bool
	// ExposeReason adds the machine-readable reason code ("unknown_kid",
	// "wrong_audience", …) to the JSON error body. It changes nothing else:
	// the error_description is the same fixed text either way, and it
	// already names the class of check that failed (RFC 6750 §3: a
	// description meant for the client developer). Neither reveals anything
	// the client could not learn from the token it sent and the public
	// behaviour of warden; see SECURITY.md. Off by default.
	ExposeReason bool
	// ResourceMetadataURL, when set, is advertised in every Bearer
	// challenge as the RFC 9728 resource_metadata parameter. MetadataURL
	// derives it from the resource identifier; Middleware.MetadataHandler
	// serves the document.
	ResourceMetadataURL string
	// ErrorHandler, when set, writes the body of refusals. The status,
	// WWW-Authenticate, Cache-Control and Retry-After headers are already
	// set and the status cannot be changed by the handler.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err *Error)
	// OnDecision, when set, is called once per request with the request's
	// context and the outcome, before the response is written.
	// LogDecisions is a ready-made hook; ChainDecisions combines several.
	OnDecision func(ctx context.Context, d Decision)

	// DPoP configures DPoP-bound tokens (RFC 9449): allowed beside Bearer
	// by default, or required, or off. A token bound to a DPoP key
	// (cnf "jkt") is admitted only with a valid proof, whatever the mode.
	DPoP DPoPConfig
	// MTLS configures where the client certificate comes from for tokens
	// bound to one (RFC 8705 §3, cnf "x5t#S256"), which are always checked.
	MTLS MTLSConfig

	// KeySetPolicy tunes how remote JWK Sets are fetched, cached and
	// refreshed.
	KeySetPolicy KeySetPolicy
	// HTTPClient fetches discovery documents and JWK Sets. Default: a
	// client with timeouts that refuses redirects to another host.
	HTTPClient *http.Client
	// Logger receives operational events (key refresh failures and so
	// on); tokens and secrets are never logged. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// IssuerConfig describes one trusted token issuer and where its keys come from:
// by discovery from URL unless JWKSURL, DiscoveryURL, JWKS, Keyfunc or
// HMACSecret is set (at most one of them).
type IssuerConfig struct {
	// URL is the exact "iss" value of the issuer's tokens (RFC 9068 §4),
	// compared byte for byte. Required.
	URL string
	// Audience must be one of the token's "aud" values. Required unless
	// Audiences is set or SkipAudienceCheck is true.
	Audience string
	// Audiences are further audiences the issuer's tokens may be minted
	// for: a token must name Audience or one of Audiences. A route that
	// serves only one of them says so with the Audience requirement.
	Audiences []string
	// SkipAudienceCheck disables the audience check. Leaving Audience empty
	// is not enough: the opt-out has to be explicit.
	SkipAudienceCheck bool
	// JWKSURL fetches keys from this JWK Set URL and skips discovery.
	JWKSURL string
	// DiscoveryURL fetches this discovery document (OpenID Connect or
	// RFC 8414) instead of deriving its location from URL. For a
	// multi-tenant issuer it must hold {tenant}, as one whole path segment
	// after scheme://host/ (never in the host, port or query, where the
	// tenant a token names would choose the server asked for keys).
	DiscoveryURL string
	// JWKS is a static JWK Set document: no network is used. For tests and
	// air-gapped deployments. It is parsed like a fetched set: keys that
	// carry private members are skipped, so give the public keys only.
	JWKS []byte
	// Keyfunc takes the issuer's keys from a golang-jwt Keyfunc instead:
	// the Keyfunc method of a keyfunc.Keyfunc
	// (github.com/MicahParks/keyfunc/v3), or your own, so that a service
	// that already runs one keeps its key setup and gets warden's
	// responses, requirements and impersonation. It is called with a
	// *jwt.Token holding the header's alg and kid and the claim iss, for
	// each new token and for each cached one (to learn whether its key is
	// still there), and must return the public key: *rsa.PublicKey,
	// *ecdsa.PublicKey or ed25519.PublicKey, checked as a fetched JWK is.
	// Its errors refuse the token as unknown_kid: it cannot tell warden
	// that its keys are unreachable (503), and how long it waits is its
	// own affair. Discovery or JWKSURL, warden's own key source, bound
	// every wait; see the README on the choice.
	Keyfunc jwt.Keyfunc
	// HMACSecret makes the issuer an HMAC (HS256/384/512) issuer whose
	// tokens are verified with this shared secret only. The secret must be
	// at least as long as the hash of every HMAC algorithm allowed
	// (RFC 7518 §3.2): 32 bytes for HS256, 48 for HS384, 64 for HS512; with
	// Config.Algorithms empty, the algorithms it is long enough for are
	// allowed.
	HMACSecret []byte
	// ActAs honours the vendor "act_as" claim of the issuer's tokens (the
	// impersonation of Optimizely-style issuers): a client credentials
	// token whose act_as names a user speaks for that user, with the client
	// as its actor. Off by default: act_as is then an ordinary claim. Even
	// when on, act_as is honoured only on a token without sub or whose sub
	// equals its client id; on any other token it would replace the real
	// subject, and the token is refused. RFC 8693 "act" is always honoured.
	ActAs bool
	// Introspection asks the issuer, by RFC 7662 introspection, about
	// tokens that are not JWTs (opaque tokens) and, when
	// Introspection.JWT is set, about its JWTs too. The zero value
	// introspects nothing. At most one issuer may set it: an opaque token
	// names no issuer, and sending it to several would disclose it to all.
	// A multi-tenant issuer (Tenants) cannot set it.
	Introspection Introspection
	// Tenants makes the issuer multi-tenant: its URL is then a template
	// holding the placeholder {tenant} as one whole path segment, such as
	// https://login.microsoftonline.com/{tenant}/v2.0, and Tenants says
	// which tenants are accepted and bounds what they cost. Keys come by
	// discovery only, from each tenant's own document (DiscoveryURL, which
	// then holds {tenant} as one whole path segment too, or the OpenID
	// Connect location under the tenant's issuer), which must name exactly
	// the tenant's issuer.
	Tenants TenantPolicy
}

// Introspection configures RFC 7662 token introspection at one issuer: the
// endpoint, warden's own client credentials there, which tokens are sent,
// and how long answers are remembered. A token is admitted only when the
// answer says "active": true, its "iss" (if present) is the issuer, its
// "aud" contains the issuer's Audience (unless SkipAudienceCheck), its
// "exp" and "nbf" hold with Config.Leeway ("exp" at most
// Config.MaxTokenLifetime ahead, as a JWT's), and its "token_type" (if
// present) names an access token (DPoP only with "cnf" naming the key,
// RFC 9449 §6.2); its scope, client_id, sub, act and the
// rest then make the same Principal a JWT with those claims would.
// Principal.Claims decodes the answer. Endpoint failures (unreachable,
// slow, 5xx, not JSON, 401/403 to our credentials) refuse with 503 and
// Retry-After, never 401.
type Introspection struct {
	// Endpoint is the introspection endpoint (https, or http on a
	// loopback host). Empty: the "introspection_endpoint" of the issuer's
	// discovery document (at IssuerConfig.DiscoveryURL, else derived from
	// the issuer URL), read once by New. It never comes from a token.
	Endpoint string
	// ClientID identifies warden (the resource server) to the endpoint.
	// Required: RFC 7662 §2.1 requires the caller to authenticate.
	ClientID string
	// ClientSecret is the client secret for client_secret_basic or
	// client_secret_post (RFC 6749 §2.3.1).
	ClientSecret string
	// AuthMethod is how warden authenticates: "client_secret_basic" (the
	// default with a ClientSecret), "client_secret_post", or
	// "private_key_jwt" (RFC 7523 §2.2, the default with a PrivateKey).
	AuthMethod string
	// PrivateKey signs the RFC 7523 client assertions of private_key_jwt:
	// an *rsa.PrivateKey of at least 2048 bits (RS256), an
	// *ecdsa.PrivateKey (ES256, ES384 or ES512 by curve) or an
	// ed25519.PrivateKey (EdDSA). Each assertion is used once: a fresh jti,
	// a 60 s lifetime, the issuer as audience.
	PrivateKey crypto.Signer
	// KeyID is the "kid" of PrivateKey's public key as registered with the
	// issuer, written in every assertion's header when set.
	KeyID string
	// JWT introspects the issuer's JWTs too, after their signature and
	// claims have been checked, so that a JWT revoked at the issuer is
	// refused within CacheTTL. Off: only tokens that are not JWTs are
	// introspected, and a JWT costs no request.
	JWT bool
	// SignedResponse asks for RFC 9701 JWT introspection responses
	// (Accept: application/token-introspection+jwt), signed with the
	// issuer's keys, addressed to ClientID and issued during the call
	// ("iat" within Config.Leeway, RFC 9701 §5); any other answer is then
	// an endpoint failure (503).
	SignedResponse bool
	// CacheTTL bounds how long an active answer is remembered; it is also
	// never remembered past the token's "exp", nor past
	// Config.MaxTokenLifetime. It is the revocation delay accepted: a token
	// revoked at the issuer is still admitted for at most this long (the deny-list of Config.Revocation has no such delay).
	// Default 30 s.
	CacheTTL time.Duration
	// InactiveCacheTTL is how long an inactive or refused answer is
	// remembered, so a repeated bad token costs no request. Default 5 s.
	InactiveCacheTTL time.Duration
	// Timeout bounds one introspection request (at most 64 KiB are read);
	// requests waiting for it get 503 when it passes. Default 5 s.
	Timeout time.Duration
}

// Revocation configures the deny-list of revoked tokens: (issuer, jti)
// pairs recorded by Middleware.Revoke, consulted for every bearer token
// after its signature (or introspection) and before a cached answer is
// used. A token without "jti" cannot be listed.
type Revocation struct {
	// Store holds the revoked pairs. Default: a memory store of this
	// Middleware alone (consulted only once something was revoked). Give
	// every replica one shared Store (the Redis store of the store/redis
	// module) so that a token revoked on one is refused by all, at the
	// cost of one Store round trip per bearer request.
	Store Store
	// FailOpen admits tokens when the Store cannot answer, logging every
	// outage loudly. Default (false): such requests get 503 and
	// Retry-After; nothing is admitted that could not be checked.
	FailOpen bool
}

// TenantPolicy configures a multi-tenant issuer (IssuerConfig.Tenants).
// A token's "iss" must equal the template with {tenant} replaced by one
// path segment of 1 to 64 characters from A-Z a-z 0-9 - . _ (not "." or
// ".."), compared byte for byte; any other token is refused as from an
// untrusted issuer before any network request. The key set of a tenant is
// found by discovery when its first token arrives, shared by every later
// request, and bounded: see MaxKeySets and MaxNewPerMinute. The request
// that finds a tenant's keys missing waits at most
// KeySetPolicy.UnknownKIDWait for them, then gets 503.
type TenantPolicy struct {
	// Allowed lists the accepted tenants, as they appear in "iss".
	// Required unless AnyTenant is set.
	Allowed []string
	// AnyTenant accepts every tenant, as an explicit opt-in: any token of
	// the identity provider is then trusted, whoever's tenant minted it, so
	// routes should check the tenant (a Claim requirement on "tid", say).
	AnyTenant bool
	// MaxKeySets bounds the tenants whose key sets are held at once (each
	// with a background refresh); to make room the least recently used is
	// dropped, and fetched again if it returns. Default 1,000.
	MaxKeySets int
	// MaxNewPerMinute bounds how many tenant key sets are fetched for the
	// first time in any minute, so that invented tenant names cost the
	// identity provider at most this many discovery fetches a minute;
	// beyond it, tokens of tenants not held get 503. A tenant whose first
	// fetch fails is tried again only when asked for after
	// KeySetPolicy.MinRefreshInterval, and that counts too. Default 60.
	MaxNewPerMinute int
}

// Impersonation is the policy for impersonated subjects: a principal whose
// token names an actor (Principal.Actor) acting for its subject.
type Impersonation struct {
	// Allow, when set, decides whether actor (the acting client's id, else
	// its subject) may act for subject; false refuses the request with 403.
	// When nil, the issuer's decision to mint the token stands.
	Allow func(ctx context.Context, actor, subject string) bool
	// Permissions, when set, returns the permissions of the impersonated
	// subject, which then decide every scope check: a scope is granted only
	// when the token carries it and the subject holds it, so a down-scoped
	// token stays down-scoped. An error refuses the request with 503.
	// Answers are cached per issuer and subject (Principal.Subject) for
	// PermissionsTTL, so the answer must depend on nothing else; concurrent
	// requests for one subject share one call, and errors are not cached.
	Permissions func(ctx context.Context, p *Principal) ([]string, error)
	// PermissionsTTL is how long a Permissions answer is reused: a
	// permission withdrawn in the directory stops counting within it.
	// At most 4,096 subjects are cached. Default 30 s.
	PermissionsTTL time.Duration
}

// KeySetPolicy tunes how remote JWK Sets are fetched and refreshed. Every
// zero field takes the default named in its comment. Durations that concern
// the keys' age are measured with Config.Now, so tests can inject a clock.
type KeySetPolicy struct {
	// MinRefreshInterval and MaxRefreshInterval clamp the refresh interval
	// taken from the JWK Set response's Cache-Control max-age (RFC 9111
	// §5.2.2.1, minus Age): the set is refreshed in the background at 80-90 %
	// of that lifetime, ahead of its expiry. A response without max-age is
	// taken to live 1 h. Defaults 1 min and 24 h. MinRefreshInterval also
	// caps the retry backoff after a failed refresh (1 s doubling, at most
	// 5 min).
	MinRefreshInterval time.Duration
	MaxRefreshInterval time.Duration
	// UnknownKIDInterval is the least time between two refreshes triggered
	// by tokens with unknown kids; a kid still unknown after a refresh is
	// refused without waiting until it passes. It is also the Retry-After
	// of a 503. Default 5 s.
	UnknownKIDInterval time.Duration
	// UnknownKIDWait is the longest a request waits for such a refresh,
	// shared with every other request waiting at the time. Default 1 s.
	UnknownKIDWait time.Duration
	// MaxStaleness is how long, after the last successful refresh, the key
	// set keeps serving while refreshes fail. Default 24 h; after it,
	// requests get 503 with Retry-After. A refresh that yields no usable key
	// (for example {"keys":[]}) counts as failed: the old keys stay.
	MaxStaleness time.Duration
	// FetchTimeout bounds one discovery or JWK Set request (whose body may
	// be at most 1 MiB), and how long New waits for the first key set.
	// Default 10 s.
	FetchTimeout time.Duration
	// LazyStart makes New return at once and answer 503 until the first key
	// set arrives. By default New waits for it and fails with a
	// *KeyFetchError if it cannot be had.
	LazyStart bool
	// OnRefresh, when set, is called after every attempt to fetch an
	// issuer's key set (not for static keys), for metrics. It must not
	// block.
	OnRefresh func(KeyRefresh)
}

// KeyRefresh describes one attempt to fetch an issuer's key set, for
// KeySetPolicy.OnRefresh.
type KeyRefresh struct {
	// Issuer is the issuer whose keys were fetched.
	Issuer string
	// Err is nil when the attempt succeeded; the previous keys stay
	// otherwise.
	Err error
	// Keys is the number of usable keys fetched (0 on failure).
	Keys int
	// Duration is how long discovery and the fetch took.
	Duration time.Duration
}

// KeyFetchError is returned by New when an issuer's first key set cannot be
// obtained and KeySetPolicy.LazyStart is not set. Err is the cause
// (connection refused, a status other than 200, a discovery document naming
// another issuer, a JWK Set with no usable key, a timeout, and so on).
type KeyFetchError struct {
	// Issuer is the configured issuer whose keys are missing.
	Issuer string
	// Err is the cause.
	Err error
}

// Error names the issuer and the cause.
func (e *KeyFetchError) Error() string {
	return fmt.Sprintf("warden: issuer %q: no key set: %v", e.Issuer, e.Err)
}

// Unwrap returns the cause.
func (e *KeyFetchError) Unwrap() error { return e.Err }

// errConfig is wrapped by every configuration error New returns.
var errConfig = errors.New("warden: invalid config")

func configErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errConfig}, args...)...)
}

// settings is a Config with its defaults applied and its values checked:
// what New wires into the steps.
type settings struct {
	Config
	algs        []string // the asymmetric algorithms allowed
	scopeClaims []claimPath
	roleClaims  []claimPath
	issuers     []IssuerConfig // copied: a caller reusing its buffers cannot change a built Middleware
	keys        jwks.Options
	retryAfter  int // seconds, for 503s
	// introspecting is the issuer with an Introspection, or "".
	introspecting string
	dpopAlgs      []string
	publicURL     string // DPoP.PublicURL, normalised
}

// checkConfig applies the defaults and checks everything that can be
// checked without the network.
func checkConfig(cfg Config) (*settings, error) {
	s := &settings{Config: cfg}
	s.Realm = cmp.Or(s.Realm, defaultRealm)
	if s.NoLeeway && s.Leeway != 0 {
		return nil, configErrorf("Leeway and NoLeeway are both set")
	}
	if !s.NoLeeway {
		s.Leeway = cmp.Or(s.Leeway, defaultLeeway)
	}
	s.MaxTokenLifetime = cmp.Or(s.MaxTokenLifetime, defaultMaxTokenLifetime)
	s.MaxTokenSize = cmp.Or(s.MaxTokenSize, defaultMaxTokenSize)
	s.BasicCacheTTL = cmp.Or(s.BasicCacheTTL, defaultBasicCacheTTL)
	s.TokenCacheSize = cmp.Or(s.TokenCacheSize, defaultTokenCacheSize)
	s.Impersonation.PermissionsTTL = cmp.Or(s.Impersonation.PermissionsTTL, defaultPermissionsTTL)
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	for name, v := range map[string]int64{
		"Leeway": int64(s.Leeway), "MaxTokenLifetime": int64(s.MaxTokenLifetime), "MaxTokenSize": int64(s.MaxTokenSize),
		"BasicCacheTTL": int64(s.BasicCacheTTL), "TokenCacheSize": int64(s.TokenCacheSize),
		"Impersonation.PermissionsTTL": int64(s.Impersonation.PermissionsTTL),
	} {
		if v < 0 {
			return nil, configErrorf("%s must not be negative (zero means the default)", name)
		}
	}
	if err := validRealm(s.Realm); err != nil {
		return nil, err
	}
	if s.ResourceMetadataURL != "" {
		if err := fetch.CheckURL(s.ResourceMetadataURL); err != nil {
			return nil, configErrorf("ResourceMetadataURL: %v", err)
		}
	}
	if s.OmitScopeInChallenge && s.AccumulateScopesInChallenge {
		return nil, configErrorf("OmitScopeInChallenge and AccumulateScopesInChallenge are both set")
	}
	var err error
	if s.scopeClaims, err = claimPaths("ScopeClaims", s.ScopeClaims, defaultScopeClaims); err != nil {
		return nil, err
	}
	if s.roleClaims, err = claimPaths("RoleClaims", s.RoleClaims, defaultRoleClaims); err != nil {
		return nil, err
	}
	if s.algs, err = allowedAlgorithms(s.Algorithms); err != nil {
		return nil, err
	}
	if s.keys, err = s.keySetOptions(); err != nil {
		return nil, err
	}
	s.retryAfter = max(1, int(s.keys.UnknownKIDInterval/time.Second))
	if err := s.checkBinding(); err != nil {
		return nil, err
	}
	if len(s.Issuers) == 0 && s.Clients == nil {
		return nil, configErrorf("an issuer (Config.Issuers) or a client verifier (Config.Clients) is required")
	}
	seen := map[string]bool{}
	for _, ic := range s.Issuers {
		ic.JWKS, ic.HMACSecret = bytes.Clone(ic.JWKS), bytes.Clone(ic.HMACSecret)
		ic.Audiences, ic.Tenants.Allowed = slices.Clone(ic.Audiences), slices.Clone(ic.Tenants.Allowed)
		if err := checkIssuer(ic); err != nil {
			return nil, err
		}
		if seen[ic.URL] {
			return nil, configErrorf("issuer %q is configured twice", ic.URL)
		}
		seen[ic.URL] = true
		if err := checkIntrospection(ic, &s.introspecting); err != nil {
			return nil, err
		}
		if ic.HMACSecret == nil && len(s.algs) == 0 {
			return nil, configErrorf("issuer %q takes keys from a JWK Set, but Algorithms allows only HMAC, which a JWK Set never supplies", ic.URL)
		}
		s.issuers = append(s.issuers, ic)
	}
	return s, nil
}

// checkBinding checks Config.DPoP and Config.MTLS and applies their
// defaults.
func (s *settings) checkBinding() error {
	d := &s.DPoP
	if d.Mode > DPoPOff {
		return configErrorf("DPoP.Mode %d is not a DPoPMode", d.Mode)
	}
	if d.Mode == DPoPOff && (d.Algorithms != nil || d.ProofWindow != 0 || d.PublicURL != "" || d.NonceKey != nil || d.ReplayStore != nil) {
		return configErrorf("DPoP is off, but DPoP settings are given")
	}
	if d.ProofWindow < 0 {
		return configErrorf("DPoP.ProofWindow must not be negative (zero means the default)")
	}
	d.ProofWindow = cmp.Or(d.ProofWindow, defaultProofWindow)
	s.dpopAlgs = slices.Clone(defaultDPoPAlgorithms)
	if d.Algorithms != nil {
		s.dpopAlgs = nil
		for _, a := range d.Algorithms {
			if !slices.Contains(defaultDPoPAlgorithms, a) {
				return configErrorf("DPoP.Algorithms: %q is not an asymmetric JWS algorithm warden verifies", a)
			}
			if !slices.Contains(s.dpopAlgs, a) {
				s.dpopAlgs = append(s.dpopAlgs, a)
			}
		}
		if len(s.dpopAlgs) == 0 {
			return configErrorf("DPoP.Algorithms is empty: leave it nil for the default")
		}
	}
	if d.PublicURL != "" {
		u, ok := normalizeHTU(d.PublicURL)
		if !ok || strings.ContainsAny(d.PublicURL, "?#") {
			return configErrorf("DPoP.PublicURL %q is not an absolute http(s) URL without query or fragment", d.PublicURL)
		}
		s.publicURL = strings.TrimSuffix(u, "/")
	}
	if d.NonceKey != nil {
		if len(d.NonceKey) != nonceKeySize {
			return configErrorf("DPoP.NonceKey must be %d bytes, got %d", nonceKeySize, len(d.NonceKey))
		}
		d.NonceKey = bytes.Clone(d.NonceKey)
	}
	if d.ReplayStore == nil && d.Mode != DPoPOff {
		d.ReplayStore = NewMemoryStore(0, s.Now)
	}
	if h := s.MTLS.CertificateHeader; h != "" {
		for i := 0; i < len(h); i++ {
			if !isTChar(h[i]) {
				return configErrorf("MTLS.CertificateHeader %q is not a header name", h)
			}
		}
		switch http.CanonicalHeaderKey(h) {
		case "Authorization", "Dpop", "Host", "Cookie":
			return configErrorf("MTLS.CertificateHeader %q is a header clients set", h)
		}
	}
	return nil
}

// keySetOptions converts KeySetPolicy into the key-set wing's options.
func (s *settings) keySetOptions() (jwks.Options, error) {
	p := s.KeySetPolicy
	o, err := jwks.Options{
		MinRefreshInterval: p.MinRefreshInterval,
		MaxRefreshInterval: p.MaxRefreshInterval,
		UnknownKIDInterval: p.UnknownKIDInterval,
		UnknownKIDWait:     p.UnknownKIDWait,
		MaxStaleness:       p.MaxStaleness,
		FetchTimeout:       p.FetchTimeout,
		LazyStart:          p.LazyStart,
		HTTPClient:         s.HTTPClient,
		Logger:             s.Logger,
		Now:                s.Now,
	}.WithDefaults()
	if err != nil {
		return o, configErrorf("KeySetPolicy: %v", err)
	}
	return o, nil
}

// checkIssuer checks what can be checked of an issuer without the network.
func checkIssuer(ic IssuerConfig) error {
	if ic.URL == "" {
		return configErrorf("an issuer URL is required")
	}
	if ic.Audience == "" && len(ic.Audiences) == 0 && !ic.SkipAudienceCheck {
		return configErrorf("issuer %q: Audience is required (set SkipAudienceCheck to disable the check)", ic.URL)
	}
	if (ic.Audience != "" || len(ic.Audiences) > 0) && ic.SkipAudienceCheck {
		return configErrorf("issuer %q: Audience and SkipAudienceCheck are both set", ic.URL)
	}
	if slices.Contains(ic.Audiences, "") {
		return configErrorf("issuer %q: Audiences holds an empty audience", ic.URL)
	}
	if template, err := checkTenants(ic); template || err != nil {
		return err
	}
	sources := 0
	for _, set := range []bool{ic.JWKSURL != "", ic.DiscoveryURL != "", ic.JWKS != nil, ic.HMACSecret != nil, ic.Keyfunc != nil} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return configErrorf("issuer %q: set at most one of JWKSURL, DiscoveryURL, JWKS, Keyfunc and HMACSecret", ic.URL)
	}
	if ic.HMACSecret != nil && len(ic.HMACSecret) < hmacKeyBytes["HS256"] {
		return configErrorf("issuer %q: HMACSecret must be at least 32 bytes (RFC 7518 §3.2)", ic.URL)
	}
	if sources == 0 {
		if err := fetch.CheckURL(ic.URL); err != nil {
			return configErrorf("issuer %q cannot be used for discovery: %v", ic.URL, err)
		}
		if _, err := jwks.DiscoveryURLs(ic.URL); err != nil {
			return configErrorf("%v", err)
		}
	}
	for _, u := range []string{ic.JWKSURL, ic.DiscoveryURL} {
		if u == "" {
			continue
		}
		if err := fetch.CheckURL(u); err != nil {
			return configErrorf("issuer %q: %v", ic.URL, err)
		}
	}
	return nil
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

// claimPaths parses Config.ScopeClaims or Config.RoleClaims.
func claimPaths(field string, names, defaults []string) ([]claimPath, error) {
	if len(names) == 0 {
		names = defaults
	}
	out := make([]claimPath, 0, len(names))
	for _, n := range names {
		p, err := parseClaimPath(n)
		if err != nil {
			return nil, configErrorf("%s: %v", field, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// checkTenants checks a multi-tenant issuer (its URL holds {tenant}) in
// full, and reports whether it is one. Any other issuer must leave Tenants
// zero.
func checkTenants(ic IssuerConfig) (template bool, err error) {
	prefix, suffix, template, err := splitTemplate(ic.URL)
	if err != nil {
		return true, configErrorf("issuer %q: %v", ic.URL, err)
	}
	tp := ic.Tenants
	if !template {
		if tp.AnyTenant || tp.Allowed != nil || tp.MaxKeySets != 0 || tp.MaxNewPerMinute != 0 {
			return false, configErrorf("issuer %q: Tenants is set, but the URL holds no %s", ic.URL, tenantPlaceholder)
		}
		if strings.ContainsAny(ic.DiscoveryURL, "{}") {
			return false, configErrorf("issuer %q: DiscoveryURL holds a placeholder, but the URL holds none", ic.URL)
		}
		return false, nil
	}
	switch {
	case tp.AnyTenant == (len(tp.Allowed) > 0):
		return true, configErrorf("issuer %q: set exactly one of Tenants.Allowed and Tenants.AnyTenant", ic.URL)
	case tp.MaxKeySets < 0 || tp.MaxNewPerMinute < 0:
		return true, configErrorf("issuer %q: Tenants limits must not be negative (zero means the default)", ic.URL)
	case ic.JWKSURL != "" || ic.JWKS != nil || ic.HMACSecret != nil || ic.Keyfunc != nil:
		return true, configErrorf("issuer %q: a multi-tenant issuer takes its keys by discovery only", ic.URL)
	case !ic.Introspection.isZero():
		// One endpoint would be sent every tenant's tokens, and one found
		// by discovery would be chosen by a token's unverified "iss"
		// (RFC 7662 §4: a token goes only to its own issuer's endpoint).
		return true, configErrorf("issuer %q: a multi-tenant issuer cannot introspect: configure Introspection on a plain issuer", ic.URL)
	}
	if ic.DiscoveryURL != "" {
		// The tenant fills a path segment only: in the host, port or
		// query, a token's unverified "iss" would choose the server warden
		// asks for the keys that verify it.
		if _, _, err := splitDiscoveryTemplate(ic.DiscoveryURL); err != nil {
			return true, configErrorf("issuer %q: %v", ic.URL, err)
		}
	}
	for _, t := range tp.Allowed {
		if !validTenant(t) {
			return true, configErrorf("issuer %q: %q is not a valid tenant (1 to %d of A-Z a-z 0-9 - . _)", ic.URL, t, maxTenantLength)
		}
	}
	// Check the URLs as a tenant fills them.
	sample := prefix + "tenant" + suffix
	if err := fetch.CheckURL(sample); err != nil {
		return true, configErrorf("issuer %q cannot be used for discovery: %v", ic.URL, err)
	}
	if _, err := jwks.DiscoveryURLs(sample); err != nil {
		return true, configErrorf("%v", err)
	}
	if d := ic.DiscoveryURL; d != "" {
		if err := fetch.CheckURL(strings.Replace(d, tenantPlaceholder, "tenant", 1)); err != nil {
			return true, configErrorf("issuer %q: %v", ic.URL, err)
		}
	}
	return true, nil
}

// The methods below build each step of the request path from the checked
// settings; New wires them together.

func (s *settings) extractor() *extractor {
	return &extractor{maxTokenSize: s.MaxTokenSize, allowQueryToken: s.AllowQueryToken, allowFormToken: s.AllowFormToken}
}

func (s *settings) basicAuth() *basicAuth {
	if s.Clients == nil {
		return nil
	}
	return newBasicAuth(s.Clients, s.BasicCacheTTL, s.Now)
}

func (s *settings) impersonation() *impersonation {
	im := &impersonation{allow: s.Impersonation.Allow, logger: s.Logger}
	if s.Impersonation.Permissions != nil {
		im.resolve = s.Impersonation.Permissions
		im.permissions = newPermissionCache(s.Impersonation.PermissionsTTL, s.Now)
	}
	return im
}

func (s *settings) requirementCheck() *requirementCheck {
	return &requirementCheck{roleClaims: s.roleClaims, accumulate: s.AccumulateScopesInChallenge, now: s.Now}
}

func (s *settings) refusals() *refusals {
	return newRefusals(s.Realm, s.OmitScopeInChallenge, s.ExposeReason, s.ResourceMetadataURL, s.retryAfter, s.ErrorHandler, s.dpopAlgs)
}

// binding builds the binding step: the DPoP proof checker and where the
// client certificate comes from. Without issuers there is nothing to bind.
func (s *settings) binding() *binding {
	if len(s.issuers) == 0 {
		return nil
	}
	b := &binding{mode: s.DPoP.Mode, publicURL: s.publicURL}
	if h := s.MTLS.CertificateHeader; h != "" {
		b.certHeader = http.CanonicalHeaderKey(h)
	}
	if s.DPoP.Mode == DPoPOff {
		return b
	}
	c := &proofChecker{
		algs:    s.dpopAlgs,
		window:  s.DPoP.ProofWindow,
		maxSize: s.MaxTokenSize,
		store:   s.DPoP.ReplayStore,
		issTags: map[string]string{},
		now:     s.Now,
	}
	if s.DPoP.NonceKey != nil {
		c.nonces = newNonceSource(s.DPoP.NonceKey)
	}
	for _, ic := range s.issuers {
		c.issTags[ic.URL] = issuerTag(ic.URL)
	}
	b.proofs = c
	return b
}

// verifier builds the verifier and each issuer's key source, or returns nil
// when no issuer is configured. Unless KeySetPolicy.LazyStart is set, it
// waits for every remote issuer's first key set.
func (s *settings) verifier() (*verifier, error) {
	if len(s.issuers) == 0 {
		return nil, nil
	}
	v := &verifier{
		issuers:     map[string]*trustedIssuer{},
		leeway:      s.Leeway,
		maxLifetime: s.MaxTokenLifetime,
		maxSize:     s.MaxTokenSize,
		strict:      s.StrictRFC9068,
		scopeClaims: s.scopeClaims,
		tokens:      newTokenCache(s.TokenCacheSize),
		now:         s.Now,
		revoked:     s.denyList(),
	}
	for _, ic := range s.issuers {
		if t, err := s.tenantIssuer(ic); t != nil || err != nil {
			if err != nil {
				v.close()
				return nil, err
			}
			v.tenants = append(v.tenants, t)
			continue
		}
		ti, err := s.trustedIssuer(ic)
		if err != nil {
			v.close()
			return nil, err
		}
		v.issuers[ic.URL] = ti
		v.order = append(v.order, ti)
		if !ic.Introspection.isZero() { // at most one issuer (checkConfig)
			if v.opaque, err = s.introspector(ic, ti); err != nil {
				v.close()
				return nil, err
			}
			v.introspectJWT = ic.Introspection.JWT
		}
	}
	return v, nil
}

// tenantIssuer builds a multi-tenant issuer and the bounded registry of its
// tenants' key sources, or returns nil for an issuer that is not one.
func (s *settings) tenantIssuer(ic IssuerConfig) (*tenantIssuer, error) {
	prefix, suffix, ok, _ := splitTemplate(ic.URL) // checked by checkTenants
	if !ok {
		return nil, nil
	}
	tp := ic.Tenants
	t := &tenantIssuer{template: ic.URL, prefix: prefix, suffix: suffix,
		base: trustedIssuer{audiences: issuerAudiences(ic), skipAudience: ic.SkipAudienceCheck, actAs: ic.ActAs, algs: s.algs}}
	if !tp.AnyTenant {
		t.allowed = make(map[string]bool, len(tp.Allowed))
		for _, a := range tp.Allowed {
			t.allowed[a] = true
		}
	}
	ro := jwks.RegistryOptions{
		Size:      cmp.Or(tp.MaxKeySets, defaultTenantKeySets),
		PerMinute: cmp.Or(tp.MaxNewPerMinute, defaultNewTenantsPerMin),
		DiscoveryURL: func(issuer string) string {
			tenant, _ := tenantOf(prefix, suffix, issuer)
			if ic.DiscoveryURL != "" {
				return strings.Replace(ic.DiscoveryURL, tenantPlaceholder, tenant, 1)
			}
			// One location only (the OpenID Connect one, which multi-tenant
			// providers publish), so a new tenant costs one discovery fetch.
			urls, _ := jwks.DiscoveryURLs(issuer)
			return urls[0]
		},
	}
	if hook := s.KeySetPolicy.OnRefresh; hook != nil {
		ro.OnRefresh = func(issuer string, r jwks.Refresh) {
			hook(KeyRefresh{Issuer: issuer, Err: r.Err, Keys: r.Keys, Duration: r.Duration})
		}
	}
	reg, err := jwks.NewRegistry(s.keys, ro)
	if err != nil {
		return nil, configErrorf("issuer %q: %v", ic.URL, err)
	}
	t.sources = reg
	return t, nil
}

// issuerAudiences lists the audiences an issuer's tokens may name.
func issuerAudiences(ic IssuerConfig) []string {
	var out []string
	if ic.Audience != "" {
		out = append(out, ic.Audience)
	}
	return append(out, ic.Audiences...)
}

// trustedIssuer builds an issuer's key source: a shared secret, a static
// JWK Set, or a remote one, converting at the key-set wing's boundary.
func (s *settings) trustedIssuer(ic IssuerConfig) (*trustedIssuer, error) {
	ti := &trustedIssuer{url: ic.URL, audiences: issuerAudiences(ic), skipAudience: ic.SkipAudienceCheck, actAs: ic.ActAs, algs: s.algs}
	now := s.Now()
	switch {
	case ic.HMACSecret != nil:
		algs, err := hmacAlgorithmsFor(ic.URL, s.Algorithms, ic.HMACSecret)
		if err != nil {
			return nil, err
		}
		ti.algs, ti.keys = algs, jwks.NewHMAC(ic.HMACSecret, now)
	case ic.JWKS != nil:
		set, err := jwks.Parse(ic.JWKS)
		if err != nil {
			return nil, configErrorf("issuer %q: JWKS: %v", ic.URL, err)
		}
		if set.Len() == 0 {
			return nil, configErrorf("issuer %q: JWKS holds no usable signing key", ic.URL)
		}
		ti.keys = jwks.NewStatic(set, now)
	case ic.Keyfunc != nil:
		ti.keys = jwks.NewFunc(keyfuncLookup(ic.URL, ic.Keyfunc), now)
	default:
		o := s.keys
		if hook := s.KeySetPolicy.OnRefresh; hook != nil {
			o.OnRefresh = func(r jwks.Refresh) {
				hook(KeyRefresh{Issuer: ic.URL, Err: r.Err, Keys: r.Keys, Duration: r.Duration})
			}
		}
		src, err := jwks.NewRemote(ic.URL, ic.JWKSURL, ic.DiscoveryURL, o)
		if err != nil {
			return nil, &KeyFetchError{Issuer: ic.URL, Err: err}
		}
		ti.keys = src
	}
	return ti, nil
}

// keyfuncLookup converts a golang-jwt Keyfunc at the key-set wing's
// boundary: the wing asks for a kid and an alg, and the Keyfunc gets the
// token golang-jwt would hand it before checking the signature, with the
// header members warden acts on and the issuer. A VerificationKeySet
// (keyfunc's answer for a token without kid) goes to the wing as a []any,
// of which it takes the single key that fits, as for its own sets:
// warden verifies a signature once.
func keyfuncLookup(issuer string, fn jwt.Keyfunc) func(kid string, hasKID bool, alg string) (any, error) {
	return func(kid string, hasKID bool, alg string) (any, error) {
		header := map[string]any{"alg": alg}
		if hasKID {
			header["kid"] = kid
		}
		key, err := fn(&jwt.Token{Header: header, Method: signingMethods[alg], Claims: jwt.MapClaims{"iss": issuer}})
		if set, ok := key.(jwt.VerificationKeySet); ok {
			keys := make([]any, len(set.Keys))
			for i, k := range set.Keys {
				keys[i] = k
			}
			key = keys
		}
		return key, err
	}
}

// denyList builds the deny-list of the bearer step.
func (s *settings) denyList() *denyList {
	d := &denyList{store: s.Revocation.Store, shared: s.Revocation.Store != nil, failOpen: s.Revocation.FailOpen,
		leeway: s.Leeway, maxLifetime: s.MaxTokenLifetime, now: s.Now, logger: s.Logger}
	if d.store == nil {
		d.store = NewMemoryStore(0, s.Now)
	}
	return d
}

// isZero reports whether no field of the Introspection is set.
func (in Introspection) isZero() bool {
	return in.Endpoint == "" && in.ClientID == "" && in.ClientSecret == "" && in.AuthMethod == "" &&
		in.PrivateKey == nil && in.KeyID == "" && !in.JWT && !in.SignedResponse &&
		in.CacheTTL == 0 && in.InactiveCacheTTL == 0 && in.Timeout == 0
}

// checkIntrospection checks an issuer's Introspection; introspecting is the
// issuer already introspecting, if any.
func checkIntrospection(ic IssuerConfig, introspecting *string) error {
	in := ic.Introspection
	if in.isZero() {
		return nil
	}
	if *introspecting != "" {
		return configErrorf("issuers %q and %q both set Introspection: an opaque token names no issuer, and would be disclosed to both", *introspecting, ic.URL)
	}
	*introspecting = ic.URL
	fail := func(format string, args ...any) error {
		return configErrorf("issuer %q: Introspection: "+format, append([]any{ic.URL}, args...)...)
	}
	if in.ClientID == "" {
		return fail("ClientID is required (RFC 7662 §2.1: the endpoint authenticates its callers)")
	}
	if in.CacheTTL < 0 || in.InactiveCacheTTL < 0 || in.Timeout < 0 {
		return fail("CacheTTL, InactiveCacheTTL and Timeout must not be negative (zero means the default)")
	}
	if in.Endpoint != "" {
		if err := fetch.CheckURL(in.Endpoint); err != nil {
			return fail("Endpoint: %v", err)
		}
	} else if ic.DiscoveryURL == "" {
		if err := fetch.CheckURL(ic.URL); err != nil {
			return fail("no Endpoint, and the issuer cannot be used for discovery: %v", err)
		}
	}
	method, err := in.authMethod()
	if err != nil {
		return fail("%v", err)
	}
	if method == authPrivateKeyJWT {
		if _, err := assertionAlg(in.PrivateKey); err != nil {
			return fail("%v", err)
		}
	}
	return nil
}

// authMethod returns the client authentication method, checked against
// the credentials given.
func (in Introspection) authMethod() (string, error) {
	method := in.AuthMethod
	if method == "" {
		method = authSecretBasic
		if in.PrivateKey != nil {
			method = authPrivateKeyJWT
		}
	}
	switch method {
	case authSecretBasic, authSecretPost:
		if in.ClientSecret == "" || in.PrivateKey != nil {
			return "", fmt.Errorf("%s needs a ClientSecret and no PrivateKey", method)
		}
	case authPrivateKeyJWT:
		if in.PrivateKey == nil || in.ClientSecret != "" {
			return "", fmt.Errorf("%s needs a PrivateKey and no ClientSecret", method)
		}
	default:
		return "", fmt.Errorf("AuthMethod %q is not client_secret_basic, client_secret_post or private_key_jwt", method)
	}
	return method, nil
}

// introspector builds the introspection part of an issuer. Unless
// KeySetPolicy.LazyStart is set, an endpoint to be discovered is looked up
// now, and New fails if it cannot be.
func (s *settings) introspector(ic IssuerConfig, ti *trustedIssuer) (*introspector, error) {
	in := ic.Introspection
	timeout := cmp.Or(in.Timeout, defaultIntrospectionTimeout)
	intr := &introspector{
		iss:         ti,
		clientID:    in.ClientID,
		accept:      mediaJSON,
		ttl:         cmp.Or(in.CacheTTL, defaultIntrospectionCacheTTL),
		inactiveTTL: cmp.Or(in.InactiveCacheTTL, defaultIntrospectionInactiveTTL),
		timeout:     timeout,
		leeway:      s.Leeway,
		maxLifetime: s.MaxTokenLifetime,
		scopeClaims: s.scopeClaims,
		fetch:       fetch.New(s.HTTPClient, timeout, maxIntrospectionResponse),
		now:         s.Now,
		logger:      s.Logger,
		cache:       newIntrospectionCache(s.TokenCacheSize),
		slots:       make(chan struct{}, maxIntrospectionCalls),
	}
	if in.SignedResponse {
		intr.accept = mediaSignedAnswer
	}
	method, _ := in.authMethod() // checked by checkIntrospection
	switch method {
	case authSecretBasic:
		intr.authenticate = secretBasic(in.ClientID, in.ClientSecret)
	case authSecretPost:
		intr.authenticate = secretPost(in.ClientID, in.ClientSecret)
	default:
		auth, err := privateKeyJWT(in.ClientID, ic.URL, in.KeyID, in.PrivateKey, s.Now)
		if err != nil {
			return nil, configErrorf("issuer %q: Introspection: %v", ic.URL, err)
		}
		intr.authenticate = auth
	}
	intr.endpoint = &introspectionEndpoint{issuer: ic.URL, discovery: ic.DiscoveryURL,
		fetch: fetch.New(s.HTTPClient, s.keys.FetchTimeout, jwks.DefaultMaxResponseSize)}
	if in.Endpoint != "" {
		intr.endpoint.url.Store(&in.Endpoint)
	} else if !s.KeySetPolicy.LazyStart {
		ctx, cancel := context.WithTimeout(context.Background(), s.keys.FetchTimeout)
		defer cancel()
		if _, err := intr.endpoint.get(ctx); err != nil {
			intr.close()
			return nil, fmt.Errorf("warden: issuer %q: %w", ic.URL, err)
		}
	}
	return intr, nil
}
