package wardentest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/wardenhq/warden"
)

// RFC 6749 §5.2 error codes answered by the token endpoint.
const (
	codeInvalidRequest       = "invalid_request"
	codeInvalidClient        = "invalid_client"
	codeUnsupportedGrantType = "unsupported_grant_type"
	codeInvalidScope         = "invalid_scope"
	codeUnauthorizedClient   = "unauthorized_client"
	codeInvalidDPoPProof     = "invalid_dpop_proof" // RFC 9449 §5
)

// descriptions are fixed: nothing from the request is echoed.
var descriptions = map[string]string{
	codeInvalidRequest:        "The token request is malformed",
	codeInvalidClient:         "Client authentication failed",
	codeUnsupportedGrantType:  "Only the client_credentials grant is supported",
	codeInvalidScope:          "The requested scope is not granted to this client",
	codeUnauthorizedClient:    "The client may not act for this user",
	codeInvalidDPoPProof:      "The DPoP proof is invalid",
	"temporarily_unavailable": "Client credentials cannot be verified right now",
}

// maxTokenRequest bounds a token request body.
const maxTokenRequest = 64 << 10

// tokenRequest holds the parameters of a client credentials request
// (RFC 6749 §4.4.2), from a form or a JSON body.
type tokenRequest struct {
	GrantType    string `json:"grant_type"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Scope        string `json:"scope"`
	ActAs        string `json:"act_as"`
}

// serveToken is the token endpoint. Requests with an Authorization header
// go through warden's Basic middleware (client_secret_basic), the others
// must carry client_secret_post credentials in the body; only POST is
// taken (RFC 6749 §3.2).
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	i.authenticated(w, r, func(a *tokenAuth) http.Handler { return a.basic }, i.grant)
}

// grant authenticates a client_secret_post client if Basic did not, then
// issues the token.
func (i *Issuer) grant(w http.ResponseWriter, r *http.Request, auth *tokenAuth) {
	req, ok := readTokenRequest(w, r)
	if !ok {
		writeOAuthError(w, http.StatusBadRequest, codeInvalidRequest)
		return
	}
	var clientID string
	if p, basic := warden.PrincipalFrom(r.Context()); basic {
		// RFC 6749 §2.3: one authentication method per request. A client_id
		// in the body is tolerated only when it names the same client.
		if req.ClientSecret != "" || (req.ClientID != "" && req.ClientID != p.ClientID()) {
			writeOAuthError(w, http.StatusBadRequest, codeInvalidRequest)
			return
		}
		clientID = p.ClientID()
	} else {
		if req.ClientID == "" || req.ClientSecret == "" || !auth.verifyPost(r.Context(), req.ClientID, req.ClientSecret) {
			writeOAuthError(w, http.StatusUnauthorized, codeInvalidClient)
			return
		}
		clientID = req.ClientID
	}
	switch req.GrantType {
	case "client_credentials":
	case "":
		writeOAuthError(w, http.StatusBadRequest, codeInvalidRequest)
		return
	default:
		writeOAuthError(w, http.StatusBadRequest, codeUnsupportedGrantType)
		return
	}
	client, known := i.client(clientID)
	if !known { // removed between authentication and now: fail closed
		writeOAuthError(w, http.StatusUnauthorized, codeInvalidClient)
		return
	}
	allowed := client.Scopes
	if req.ActAs != "" {
		perms, may := client.MayActAs[req.ActAs]
		if !may {
			// The same answer for a user the client may not impersonate and
			// for a user that does not exist.
			writeOAuthError(w, http.StatusBadRequest, codeUnauthorizedClient)
			return
		}
		allowed = perms
	}
	granted, ok := grantScopes(req.Scope, allowed)
	if !ok {
		writeOAuthError(w, http.StatusBadRequest, codeInvalidScope)
		return
	}
	cnf, err := i.tokenBinding(r)
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, codeInvalidDPoPProof)
		return
	}
	i.issue(w, clientID, req.ActAs, granted, cnf, client.Opaque)
}

// tokenBinding returns the cnf claim of the token a request gets: bound to
// the key of its DPoP proof (RFC 9449 §5), and to the client certificate
// of its TLS connection (RFC 8705 §3), when it has them.
func (i *Issuer) tokenBinding(r *http.Request) (map[string]any, error) {
	jkt, err := i.tokenRequestKey(r)
	if err != nil {
		return nil, err
	}
	cnf := map[string]any{}
	if jkt != "" {
		cnf["jkt"] = jkt
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		cnf["x5t#S256"] = certThumbprint(r.TLS.PeerCertificates[0])
	}
	if len(cnf) == 0 {
		return nil, nil
	}
	return cnf, nil
}

// issue mints the access token and writes the RFC 6749 §5.1 response.
func (i *Issuer) issue(w http.ResponseWriter, clientID, actAs string, scopes []string, cnf map[string]any, opaque bool) {
	now := i.Now()
	lifetime := i.TokenLifetime
	if lifetime <= 0 {
		lifetime = DefaultTokenLifetime
	}
	claims := Claims{
		"sub":       clientID,
		"client_id": clientID,
		"iat":       now.Unix(),
		"exp":       now.Add(lifetime).Unix(),
		"scope":     strings.Join(scopes, " "),
	}
	if actAs != "" {
		// RFC 8693 §4.1: the subject is the impersonated user and "act"
		// names the client acting for it.
		claims["sub"] = actAs
		claims["act"] = map[string]any{"sub": clientID}
	}
	if len(scopes) == 0 {
		claims["scope"] = nil
	}
	tokenType := "Bearer"
	if cnf != nil {
		claims["cnf"] = cnf
	}
	if cnf["jkt"] != nil {
		tokenType = "DPoP" // RFC 9449 §5
	}
	mint := i.Mint
	if opaque {
		mint = i.MintOpaque // the introspection answer carries the claims, cnf included
	}
	body := map[string]any{
		"access_token": mint(Token{Claims: claims}),
		"expires_in":   int64(lifetime.Seconds()),
		"token_type":   tokenType,
		// RFC 6749 §5.1: scope is required when it differs from the request,
		// as it does when none was requested.
		"scope": strings.Join(scopes, " "),
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, body)
}

// grantScopes resolves the scope parameter against the allowed scopes: all
// of them when absent, else the requested ones, each of which must be
// allowed (RFC 6749 §3.3).
func grantScopes(param string, allowed []string) ([]string, bool) {
	if strings.TrimSpace(param) == "" {
		return slices.Clone(allowed), true
	}
	var out []string
	for _, s := range strings.Fields(param) {
		if !validScopeToken(s) || !slices.Contains(allowed, s) {
			return nil, false
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, true
}

// readTokenRequest parses a form-urlencoded (RFC 6749 §4.4.2) or JSON body.
// Parameters in the URI are ignored: secrets must not travel there
// (RFC 6749 §2.3.1).
func readTokenRequest(w http.ResponseWriter, r *http.Request) (tokenRequest, bool) {
	var req tokenRequest
	media, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return req, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTokenRequest))
	if err != nil {
		return req, false
	}
	switch media {
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return req, false
		}
		for _, v := range form {
			if len(v) > 1 {
				return req, false // RFC 6749 §3.2: no parameter more than once
			}
		}
		req = tokenRequest{GrantType: form.Get("grant_type"), ClientID: form.Get("client_id"),
			ClientSecret: form.Get("client_secret"), Scope: form.Get("scope"), ActAs: form.Get("act_as")}
	case "application/json":
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&req); err != nil {
			return req, false
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return req, false // trailing data after the object
		}
	default:
		return req, false
	}
	return req, true
}

// writeOAuthError writes an RFC 6749 §5.2 error response. invalid_client
// always comes with 401 and a Basic challenge: RFC 9110 §15.5.2 requires a
// challenge on every 401, and Basic is the scheme the endpoint supports.
func writeOAuthError(w http.ResponseWriter, status int, code string) {
	h := w.Header()
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="`+tokenRealm+`", charset="UTF-8"`)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = writeOAuthBody(w, code)
}

func writeOAuthBody(w io.Writer, code string) error {
	desc, ok := descriptions[code]
	if !ok {
		desc = "The token request failed"
	}
	return json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
