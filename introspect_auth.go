package warden

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// This file is how warden authenticates to an introspection endpoint
// (RFC 7662 §2.1): as a confidential client, with its secret in Basic or
// in the form (RFC 6749 §2.3.1), or with a signed client assertion
// (RFC 7523 §2.2, OpenID Connect Core §9 private_key_jwt).

// Client authentication methods (RFC 8414 §2 token_endpoint_auth_methods
// names).
const (
	authSecretBasic   = "client_secret_basic"
	authSecretPost    = "client_secret_post"
	authPrivateKeyJWT = "private_key_jwt"
)

// assertionLifetime is the life of one client assertion: it is sent at
// once and used once.
const assertionLifetime = time.Minute

// secretBasic returns the client_secret_basic authentication: id and
// secret form-encoded, then joined for Basic (RFC 6749 §2.3.1).
func secretBasic(id, secret string) func(url.Values, http.Header) error {
	v := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	return func(_ url.Values, h http.Header) error {
		h.Set("Authorization", v)
		return nil
	}
}

// secretPost returns the client_secret_post authentication.
func secretPost(id, secret string) func(url.Values, http.Header) error {
	return func(form url.Values, _ http.Header) error {
		form.Set("client_id", id)
		form.Set("client_secret", secret)
		return nil
	}
}

// privateKeyJWT returns the private_key_jwt authentication: each request
// carries a fresh assertion whose iss and sub are the client id and whose
// aud is the issuer identifier (RFC 7523 §3), signed with key.
func privateKeyJWT(id, audience, kid string, key crypto.Signer, now func() time.Time) (func(url.Values, http.Header) error, error) {
	alg, err := assertionAlg(key)
	if err != nil {
		return nil, err
	}
	header := map[string]string{"alg": alg, "typ": "JWT"}
	if kid != "" {
		header["kid"] = kid
	}
	hb, _ := json.Marshal(header)
	signingInput := b64.EncodeToString(hb) + "."
	method := signingMethods[alg]
	return func(form url.Values, _ http.Header) error {
		t := now()
		jti := make([]byte, 16)
		_, _ = rand.Read(jti)
		pb, _ := json.Marshal(map[string]any{
			"iss": id, "sub": id, "aud": audience, "jti": hex.EncodeToString(jti),
			"iat": t.Unix(), "exp": t.Add(assertionLifetime).Unix(),
		})
		in := signingInput + b64.EncodeToString(pb)
		sig, err := method.Sign(in, key)
		if err != nil {
			return fmt.Errorf("signing the client assertion: %w", err)
		}
		form.Set("client_id", id)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", in+"."+b64.EncodeToString(sig))
		return nil
	}, nil
}

// assertionAlg chooses the JWS algorithm for a private key, and refuses
// keys warden would not accept from an issuer either.
func assertionAlg(key crypto.Signer) (string, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("the RSA PrivateKey has %d bits, fewer than 2048 (RFC 7518 §3.3)", k.N.BitLen())
		}
		return "RS256", nil
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
		return "", fmt.Errorf("the ECDSA PrivateKey's curve is not P-256, P-384 or P-521")
	case ed25519.PrivateKey:
		return "EdDSA", nil
	}
	return "", fmt.Errorf("PrivateKey is a %T, not an *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey", key)
}
