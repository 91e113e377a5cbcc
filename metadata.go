package warden

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/wardenhq/warden/internal/fetch"
)

// metadataWellKnownPath is the well-known URI suffix of RFC 9728 §3.
const metadataWellKnownPath = "/.well-known/oauth-protected-resource"

// ResourceMetadata describes the OAuth 2.0 protected resource a Middleware
// guards, as published by MetadataHandler (RFC 9728 §2). Only Resource is
// required; the authorization servers, scopes and bearer methods are derived
// from the Middleware unless set here, and every other member is omitted
// when left empty.
type ResourceMetadata struct {
	// Resource is the protected resource's identifier ("resource",
	// REQUIRED): an https URL with no fragment (RFC 9728 §2), or http on a
	// loopback host for tests and demos. Clients check that it equals the
	// identifier they derived the metadata URL from (§3.3), so it must be
	// exact; it is usually the Audience tokens are minted for.
	Resource string
	// AuthorizationServers overrides "authorization_servers", the issuer
	// identifiers (RFC 8414) of the servers that issue tokens for the
	// resource. Default: every issuer the Middleware trusts, in config order,
	// with the tenants a multi-tenant issuer allows (sorted); a template that
	// accepts any tenant is left out.
	AuthorizationServers []string
	// ScopesSupported overrides "scopes_supported". Default: the union of
	// the scopes named by the requirements of the routes built so far with
	// Require, sorted; it is recomputed on every request, so routes added
	// after the handler was built are included.
	ScopesSupported []string
	// ResourceName is "resource_name", a human-readable name (RECOMMENDED).
	ResourceName string
	// ResourceDocumentation is "resource_documentation", a URL of developer
	// documentation.
	ResourceDocumentation string
	// ResourcePolicyURI is "resource_policy_uri", a URL of the data usage
	// policy.
	ResourcePolicyURI string
	// ResourceTOSURI is "resource_tos_uri", a URL of the terms of service.
	ResourceTOSURI string
}

// metadataDocument is the JSON body. Members warden does not support are
// left out rather than sent with their default value: jwks_uri and
// resource_signing_alg_values_supported concern responses signed by the
// resource (warden signs nothing), and the RAR member defaults to "not
// supported" when absent (RFC 9728 §2). The DPoP members follow
// Config.DPoP; certificate-bound tokens are always supported.
type metadataDocument struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers,omitempty"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name,omitempty"`
	ResourceDocumentation  string   `json:"resource_documentation,omitempty"`
	ResourcePolicyURI      string   `json:"resource_policy_uri,omitempty"`
	ResourceTOSURI         string   `json:"resource_tos_uri,omitempty"`

	TLSClientCertificateBoundAccessTokens bool     `json:"tls_client_certificate_bound_access_tokens"`
	DPoPSigningAlgValuesSupported         []string `json:"dpop_signing_alg_values_supported,omitempty"`
	DPoPBoundAccessTokensRequired         bool     `json:"dpop_bound_access_tokens_required,omitempty"`
}

// MetadataURL returns where RFC 9728 §3.1 says the metadata of resource is
// published: the well-known suffix inserted between the host and the path,
// with a terminating slash of the path removed. Use it for
// Config.ResourceMetadataURL and to route MetadataHandler.
func MetadataURL(resource string) (string, error) {
	u, err := checkResource(resource)
	if err != nil {
		return "", err
	}
	u.Path = metadataWellKnownPath + strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

func checkResource(resource string) (*url.URL, error) {
	if err := fetch.CheckURL(resource); err != nil {
		return nil, configErrorf("resource: %v", err)
	}
	u, _ := url.Parse(resource) // checkFetchURL parsed it already
	if u.Fragment != "" || strings.Contains(resource, "#") {
		return nil, configErrorf("resource %q has a fragment (RFC 9728 §2)", resource)
	}
	if u.User != nil {
		return nil, configErrorf("resource %q has user information", resource)
	}
	return u, nil
}

// MetadataHandler returns a handler serving the RFC 9728 protected resource
// metadata document of the resource m guards. Mount it at the path of
// MetadataURL(md.Resource). It answers GET and HEAD; the document holds no
// secret and needs no authentication. An invalid md is reported here.
func (m *Middleware) MetadataHandler(md ResourceMetadata) (http.Handler, error) {
	if _, err := checkResource(md.Resource); err != nil {
		return nil, err
	}
	for _, u := range []string{md.ResourceDocumentation, md.ResourcePolicyURI, md.ResourceTOSURI} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || !p.IsAbs() {
			return nil, configErrorf("resource metadata: %q is not an absolute URL", u)
		}
	}
	for _, s := range md.ScopesSupported {
		if !validScopeToken(s) {
			return nil, configErrorf("resource metadata: %q is not a valid scope (RFC 6749 §3.3)", s)
		}
	}
	doc := metadataDocument{
		Resource:               md.Resource,
		AuthorizationServers:   slices.Clone(md.AuthorizationServers),
		ScopesSupported:        slices.Clone(md.ScopesSupported),
		BearerMethodsSupported: m.credentials.bearerMethods(),
		ResourceName:           md.ResourceName,
		ResourceDocumentation:  md.ResourceDocumentation,
		ResourcePolicyURI:      md.ResourcePolicyURI,
		ResourceTOSURI:         md.ResourceTOSURI,
	}
	if m.binding != nil {
		doc.TLSClientCertificateBoundAccessTokens = true
		if m.binding.proofs != nil {
			doc.DPoPSigningAlgValuesSupported = m.binding.proofs.algs
			doc.DPoPBoundAccessTokensRequired = m.binding.mode == DPoPRequired
		}
	}
	if doc.AuthorizationServers == nil && m.tokens != nil {
		for _, ti := range m.tokens.order {
			doc.AuthorizationServers = append(doc.AuthorizationServers, ti.url)
		}
		for _, t := range m.tokens.tenants {
			// An allow-list's tenants are issuers of their own; any tenant
			// of a template cannot be listed.
			doc.AuthorizationServers = append(doc.AuthorizationServers, t.allowedIssuers()...)
		}
	}
	deriveScopes := md.ScopesSupported == nil
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		d := doc
		if deriveScopes {
			d.ScopesSupported = m.routeScopes.list()
		}
		body, err := json.Marshal(d)
		if err != nil { // cannot happen: strings and slices of strings only
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(append(body, '\n'))
		}
	}), nil
}

// bearerMethods lists the RFC 6750 §2 methods accepted, as named by
// RFC 9728 §2 bearer_methods_supported.
func (c *extractor) bearerMethods() []string {
	out := []string{"header"}
	if c.allowFormToken {
		out = append(out, "body")
	}
	if c.allowQueryToken {
		out = append(out, "query")
	}
	return out
}
