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
	// certificate, as a TLS-terminating proxy forwards it: either the
	// URL-encoded PEM of exactly one certificate and nothing else (nginx
	// $ssl_client_escaped_cert), or an Envoy x-forwarded-client-cert value
	// of exactly one element (one hop) with exactly one Cert field, read
	// quote-aware; its other fields are ignored. Any other value, or the
	// header repeated, counts as no certificate. When set, the header is
	// the only source, the connection's own certificate (the proxy's) is
	// ignored, and the proxy must remove the header from every request it
	// forwards (Envoy: forward_client_cert_details SANITIZE_SET): warden
	// trusts it from whoever can reach the server.
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

// pemCertificatePrefix starts the one PEM certificate a header value must
// decode to (RFC 7468 §5.1).
const pemCertificatePrefix = "-----BEGIN CERTIFICATE-----"

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
	if v[0] != '-' && v[0] != '%' {
		// Not URL-encoded PEM, which starts "-----BEGIN" or its escape:
		// an Envoy x-forwarded-client-cert value, whose Cert field is.
		cert, err := xfccCert(v)
		if err != nil {
			return nil, err
		}
		v = cert
	}
	// PathUnescape, not QueryUnescape: base64 holds "+", which is not a
	// space here.
	s, err := url.PathUnescape(v)
	if err != nil || !strings.HasPrefix(s, pemCertificatePrefix) {
		// pem.Decode would skip any text before the BEGIN line; the value
		// must be the certificate and nothing else.
		return nil, errCertHeader
	}
	block, rest := pem.Decode([]byte(s))
	if block == nil || block.Type != "CERTIFICATE" || len(block.Headers) != 0 || strings.TrimSpace(string(rest)) != "" {
		return nil, errCertHeader
	}
	return block.Bytes, nil
}

// xfccCert returns the Cert field of an Envoy x-forwarded-client-cert
// value: elements separated by "," name one hop each, an element's
// key=value pairs are separated by ";", and a value may be a
// double-quoted string in which \" stands for a quote (so a Subject such as
// "CN=a,O=b" holds commas and semicolons). The value must be exactly one
// element (several hops are ambiguous: which one's client is this?) with
// exactly one Cert, the URL-encoded PEM of the client certificate. Only
// Cert is used: a Hash, URI, DNS or Subject field holds no certificate,
// and their values can be chosen by whoever obtained the certificate.
func xfccCert(v string) (string, error) {
	var cert string
	found := false
	for i := 0; ; {
		eq := strings.IndexByte(v[i:], '=')
		if eq <= 0 {
			return "", errCertHeader
		}
		key := v[i : i+eq]
		for j := 0; j < len(key); j++ {
			if c := key[j] | 0x20; c < 'a' || c > 'z' { // Envoy's keys: By, Hash, Cert, Chain, Subject, URI, DNS
				return "", errCertHeader
			}
		}
		i += eq + 1
		var value string
		if i < len(v) && v[i] == '"' {
			var b strings.Builder
			i++
			for ; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				b.WriteByte(v[i])
			}
			if i == len(v) {
				return "", errCertHeader // unterminated
			}
			i++ // the closing quote
			value = b.String()
		} else {
			end := strings.IndexAny(v[i:], ";,")
			if end < 0 {
				end = len(v) - i
			}
			value = v[i : i+end]
			if strings.ContainsAny(value, `"\`) {
				return "", errCertHeader
			}
			i += end
		}
		if key == "Cert" {
			if found {
				return "", errCertHeader
			}
			cert, found = value, true
		}
		if i == len(v) {
			break
		}
		if v[i] != ';' { // "," outside quotes: another hop; or text after a quoted value
			return "", errCertHeader
		}
		i++
	}
	if !found {
		return "", errCertHeader
	}
	return cert, nil
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
