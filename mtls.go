package warden

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/pem"
	"errors"
	"net/url"
	"strings"
)

// This file checks certificate-bound access tokens (RFC 8705 §3): a token
// whose cnf names a certificate thumbprint ("x5t#S256") is admitted only
// with that client certificate. The TLS handshake proved that the client
// holds the certificate's private key; whether the certificate chains to a
// CA is the TLS configuration's business, not the binding's (RFC 8705 §3
// binds self-signed certificates as well).

// MTLSConfig configures where warden finds the client certificate of a
// request, for tokens bound to one (RFC 8705 §3). Tokens with a
// "x5t#S256" confirmation are always checked; the zero value takes the
// certificate from the request's own TLS connection.
type MTLSConfig struct {
	// CertificateHeader names a request header that carries the client
	// certificate as URL-encoded PEM, as a TLS-terminating proxy forwards
	// it (nginx $ssl_client_escaped_cert; an Envoy
	// x-forwarded-client-cert value with a Cert field works too). When
	// set, the header is the only source, the connection's own certificate
	// (the proxy's) is ignored, and the proxy must remove the header from
	// every request it forwards without a certificate: warden trusts it
	// from whoever can reach the server.
	CertificateHeader string
}

// clientCert is where a request's client certificate is, read only when a
// token is bound to one.
type clientCert struct {
	der    []byte   // the leaf of the TLS connection, or nil
	header []string // the configured header's values, when configured
	proxy  bool     // take the header, never der
}

var (
	errCertHeader   = errors.New("client certificate header is not one URL-encoded PEM certificate")
	errNoClientCert = errors.New("no client certificate")
)

// certificate returns the DER bytes of the client certificate.
func (c clientCert) certificate() ([]byte, error) {
	if !c.proxy {
		if c.der == nil {
			return nil, errNoClientCert
		}
		return c.der, nil
	}
	switch len(c.header) {
	case 0:
		return nil, errNoClientCert
	case 1:
	default:
		return nil, errCertHeader
	}
	v := strings.Trim(c.header[0], " \t") // RFC 9110 §5.6.3 optional whitespace
	if v == "" {
		return nil, errNoClientCert
	}
	if i := strings.Index(v, `Cert="`); i >= 0 && !strings.HasPrefix(v, "-") && !strings.HasPrefix(v, "%") {
		// Envoy's x-forwarded-client-cert: one element whose Cert field is
		// the quoted, URL-encoded PEM. Several elements (a comma outside
		// the quotes) name several hops: refused as ambiguous.
		rest := v[i+len(`Cert="`):]
		end := strings.IndexByte(rest, '"')
		if end < 0 || strings.Contains(v[:i], ",") || strings.Contains(rest[end:], ",") {
			return nil, errCertHeader
		}
		v = rest[:end]
	}
	// PathUnescape, not QueryUnescape: base64 holds "+", which is not a
	// space here.
	s, err := url.PathUnescape(v)
	if err != nil {
		return nil, errCertHeader
	}
	block, rest := pem.Decode([]byte(s))
	if block == nil || block.Type != "CERTIFICATE" || strings.TrimSpace(string(rest)) != "" {
		return nil, errCertHeader
	}
	return block.Bytes, nil
}

// checkCertificate checks a token's x5t#S256 binding against the request's
// client certificate (RFC 8705 §3.1).
func checkCertificate(c clientCert, want string) *Error {
	der, err := c.certificate()
	if err != nil {
		return newError(ReasonCertificateMissing, SchemeBearer, err)
	}
	sum := sha256.Sum256(der)
	var got [43]byte
	b64.Encode(got[:], sum[:])
	if subtle.ConstantTimeCompare(got[:], []byte(want)) != 1 {
		return newError(ReasonCertificateMismatch, SchemeBearer, nil)
	}
	return nil
}
