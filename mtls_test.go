package warden_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// escapedPEM is the certificate as nginx's $ssl_client_escaped_cert.
func escapedPEM(c *wardentest.Certificate) string {
	cert, _ := c.PEM()
	return url.PathEscape(string(cert))
}

// mtlsServer serves f's route over TLS, asking for client certificates.
func mtlsServer(t *testing.T, f *bindFixture, auth tls.ClientAuthType, cas *x509.CertPool) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(f.h)
	srv.TLS = &tls.Config{ClientAuth: auth}
	if auth == tls.VerifyClientCertIfGiven {
		// Only then: a Go client sends no certificate that chains to none
		// of the CAs a server names.
		srv.TLS.ClientCAs = cas
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// mtlsClient is a client of srv presenting cert (none when nil).
func mtlsClient(srv *httptest.Server, cert *wardentest.Certificate) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{cert.TLS()}
	}
	return &http.Client{Transport: tr}
}

// mtlsDo sends GET /entries and returns the response as a recorder.
func mtlsDo(t *testing.T, c *http.Client, target, auth string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	for name, vs := range header {
		req.Header[name] = vs
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	w := httptest.NewRecorder()
	for name, vs := range resp.Header {
		w.Header()[name] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return w
}

// TestMTLSTable: certificate-bound tokens over a real TLS listener, with
// client certificates from the connection or from a proxy's header, alone
// and together with a DPoP binding.
func TestMTLSTable(t *testing.T) {
	t.Parallel()
	ca := wardentest.NewCA("test CA")
	alice, mallory := ca.Issue("alice"), ca.Issue("mallory")
	selfSigned := (*wardentest.Certificate)(nil).Issue("self-signed")
	dpopKey := wardentest.NewECKey("client")
	missing := func(challenge string) outcome {
		desc := "The access token is bound to a client certificate the request lacks"
		return refusal(401, warden.ReasonCertificateMissing, "invalid_token", desc, challenge+`, error="invalid_token", error_description="`+desc+`"`)
	}
	mismatch := func(challenge string) outcome {
		desc := "The access token is bound to another client certificate"
		return refusal(401, warden.ReasonCertificateMismatch, "invalid_token", desc, challenge+`, error="invalid_token", error_description="`+desc+`"`)
	}
	const bearer = `Bearer realm="api"`

	type req struct {
		client *wardentest.Certificate // presented on the connection
		token  func() string           // minted by the fixture's issuer
		dpop   bool                    // DPoP scheme with a valid proof
		header http.Header
	}
	cases := []struct {
		name   string
		auth   tls.ClientAuthType
		header string // MTLSConfig.CertificateHeader
		req    func(f *bindFixture) req
		want   outcome
		cnf    bool // the admitted principal's Confirmation names the certificate
	}{
		{"bound token, its certificate", tls.RequestClientCert, "", func(f *bindFixture) req {
			return req{client: alice, token: bound(f, alice, nil)}
		}, admitted, true},
		{"bound token, self-signed certificate", tls.RequestClientCert, "", func(f *bindFixture) req {
			return req{client: selfSigned, token: bound(f, selfSigned, nil)}
		}, admitted, true},
		{"bound token, CA-verified certificate", tls.VerifyClientCertIfGiven, "", func(f *bindFixture) req {
			return req{client: alice, token: bound(f, alice, nil)}
		}, admitted, true},
		{"bound token, no certificate", tls.RequestClientCert, "", func(f *bindFixture) req {
			return req{token: bound(f, alice, nil)}
		}, missing(bearer), false},
		{"bound token, another certificate", tls.RequestClientCert, "", func(f *bindFixture) req {
			return req{client: mallory, token: bound(f, alice, nil)}
		}, mismatch(bearer), false},
		{"bound token, no certificate, CA-verified listener", tls.VerifyClientCertIfGiven, "", func(f *bindFixture) req {
			return req{token: bound(f, alice, nil)}
		}, missing(bearer), false},
		{"unbound token with a certificate", tls.RequestClientCert, "", func(f *bindFixture) req {
			return req{client: alice, token: func() string { return f.iss.Scoped("entry:read") }}
		}, admitted, false},
		{"both bindings, both hold", tls.RequestClientCert, "", func(f *bindFixture) req {
			return req{client: alice, token: bound(f, alice, dpopKey), dpop: true}
		}, admitted, true},
		{"both bindings, wrong certificate", tls.RequestClientCert, "", func(f *bindFixture) req {
			return req{client: mallory, token: bound(f, alice, dpopKey), dpop: true}
		}, mismatch(dpopBare), false},
		{"both bindings, no certificate", tls.RequestClientCert, "", func(f *bindFixture) req {
			return req{token: bound(f, alice, dpopKey), dpop: true}
		}, missing(dpopBare), false},
		{"both bindings, certificate but Bearer", tls.RequestClientCert, "", func(f *bindFixture) req {
			return req{client: alice, token: bound(f, alice, dpopKey)}
		}, refusal(401, warden.ReasonDPoPDowngrade, "invalid_token", "The access token is bound to a key and must be presented with DPoP",
			bearer+`, error="invalid_token", error_description="The access token is bound to a key and must be presented with DPoP"`, dpopBare), false},
		{"proxy header, its certificate", tls.RequestClientCert, "X-Client-Cert", func(f *bindFixture) req {
			return req{token: bound(f, alice, nil), header: http.Header{"X-Client-Cert": {escapedPEM(alice)}}}
		}, admitted, true},
		{"proxy header, Envoy XFCC", tls.RequestClientCert, "X-Forwarded-Client-Cert", func(f *bindFixture) req {
			return req{token: bound(f, alice, nil), header: http.Header{"X-Forwarded-Client-Cert": {
				`By=spiffe://proxy;Hash=abc;Cert="` + escapedPEM(alice) + `";Subject="CN=alice"`}}}
		}, admitted, true},
		{"proxy header absent, certificate on the connection ignored", tls.RequestClientCert, "X-Client-Cert", func(f *bindFixture) req {
			return req{client: alice, token: bound(f, alice, nil)}
		}, missing(bearer), false},
		{"proxy header, another certificate", tls.RequestClientCert, "X-Client-Cert", func(f *bindFixture) req {
			return req{token: bound(f, alice, nil), header: http.Header{"X-Client-Cert": {escapedPEM(mallory)}}}
		}, mismatch(bearer), false},
		{"proxy header, not PEM", tls.RequestClientCert, "X-Client-Cert", func(f *bindFixture) req {
			return req{token: bound(f, alice, nil), header: http.Header{"X-Client-Cert": {"%%%"}}}
		}, missing(bearer), false},
		{"proxy header twice", tls.RequestClientCert, "X-Client-Cert", func(f *bindFixture) req {
			return req{token: bound(f, alice, nil), header: http.Header{"X-Client-Cert": {escapedPEM(alice), escapedPEM(alice)}}}
		}, missing(bearer), false},
		{"proxy header, two XFCC hops", tls.RequestClientCert, "X-Forwarded-Client-Cert", func(f *bindFixture) req {
			return req{token: bound(f, alice, nil), header: http.Header{"X-Forwarded-Client-Cert": {
				`Cert="` + escapedPEM(mallory) + `",Cert="` + escapedPEM(alice) + `"`}}}
		}, missing(bearer), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newBindFixture(t, func(c *warden.Config) { c.MTLS.CertificateHeader = tc.header })
			var cnf warden.Confirmation
			f.h = f.mw.Require(warden.Scopes("entry:read"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p, _ := warden.PrincipalFrom(r.Context())
				cnf = p.Confirmation()
				_, _ = w.Write([]byte("ok"))
			}))
			cas := x509.NewCertPool()
			cas.AddCert(ca.Cert)
			srv := mtlsServer(t, f, tc.auth, cas)
			rq := tc.req(f)
			tok := rq.token()
			auth := "Bearer " + tok
			header := rq.header.Clone()
			if rq.dpop {
				auth = "DPoP " + tok
				if header == nil {
					header = http.Header{}
				}
				header.Set("DPoP", dpopKey.Proof(wardentest.Proof{URL: srv.URL + "/entries", AccessToken: tok, IssuedAt: f.clock.Now()}))
			}
			w := mtlsDo(t, mtlsClient(srv, rq.client), srv.URL+"/entries", auth, header)
			f.check(t, w, tc.want)
			if tc.cnf && cnf.X5TS256 == "" {
				t.Errorf("admitted principal's Confirmation %+v names no certificate", cnf)
			}
			if tc.cnf && rq.dpop && cnf.JKT != dpopKey.Thumbprint() {
				t.Errorf("Confirmation().JKT %q, want the DPoP key's thumbprint", cnf.JKT)
			}
		})
	}
}

// bound mints a token for entry:read bound to cert and, when key is set,
// to that DPoP key.
func bound(f *bindFixture, cert *wardentest.Certificate, key *wardentest.Key) func() string {
	return func() string {
		return f.iss.Mint(wardentest.Token{Certificate: cert.Cert, DPoPKey: key, Claims: wardentest.Claims{"scope": "entry:read"}})
	}
}

// TestMTLSUntrustedCertificate: a listener that verifies client
// certificates refuses an unknown one in the handshake, before warden.
func TestMTLSUntrustedCertificate(t *testing.T) {
	t.Parallel()
	ca := wardentest.NewCA("test CA")
	stranger := wardentest.NewCA("stranger").Issue("stranger")
	f := newBindFixture(t, nil)
	cas := x509.NewCertPool()
	cas.AddCert(ca.Cert)
	srv := mtlsServer(t, f, tls.VerifyClientCertIfGiven, cas)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/entries", nil)
	c := mtlsClient(srv, nil)
	c.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		crt := stranger.TLS()
		return &crt, nil // sent although the server names another CA
	}
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want a failed handshake", resp.StatusCode)
	}
	if ds := f.decisions.take(); !slices.Equal(ds, nil) {
		t.Errorf("got %d decisions for a refused handshake, want none", len(ds))
	}
}

// TestMTLSProxyHeader: the certificate header is one URL-encoded PEM
// certificate and nothing else, or one Envoy x-forwarded-client-cert
// element read quote-aware whose Cert field is; anything else is no
// certificate, so no text a client controls (a URI or DNS SAN, a Subject)
// can carry another client's certificate to a token bound to it.
func TestMTLSProxyHeader(t *testing.T) {
	t.Parallel()
	ca := wardentest.NewCA("test CA")
	alice, mallory := ca.Issue("alice"), ca.Issue("mallory")
	alicePEM, _ := alice.PEM()
	malloryPEM, _ := mallory.PEM()
	pemA, pemM := escapedPEM(alice), escapedPEM(mallory)
	var every strings.Builder // every byte percent-encoded
	for _, c := range alicePEM {
		fmt.Fprintf(&every, "%%%02X", c)
	}
	desc := "The access token is bound to a client certificate the request lacks"
	missing := refusal(401, warden.ReasonCertificateMissing, "invalid_token", desc,
		`Bearer realm="api", error="invalid_token", error_description="`+desc+`"`)
	const plain, xfcc = "X-Client-Cert", "X-Forwarded-Client-Cert"
	cases := []struct {
		name, header, value string
		want                outcome
	}{
		{"escaped PEM", plain, pemA, admitted},
		{"every byte escaped", plain, every.String(), admitted},
		{"escaped PEM, trailing newline", plain, pemA + "%0A", admitted},
		{"text before the PEM", plain, "attacker%20junk%0A" + pemA, missing},
		{"newline before the PEM", plain, "%0A" + pemA, missing},
		{"text after the PEM", plain, pemA + "junk", missing},
		{"two certificates", plain, pemA + url.PathEscape(string(malloryPEM)), missing},
		{"a PEM header", plain, url.PathEscape(strings.Replace(string(alicePEM), "-----\n", "-----\nProc-Type: 4,CRL\n\n", 1)), missing},
		{"a public key, not a certificate", plain, url.PathEscape(strings.ReplaceAll(string(alicePEM), "CERTIFICATE", "PUBLIC KEY")), missing},
		{"XFCC", xfcc, `By=spiffe://proxy;Hash=abc;Cert="` + pemA + `";Subject="CN=alice"`, admitted},
		{"XFCC, RFC 2253 Subject with commas", xfcc, `By=spiffe://proxy;Hash=abc;Cert="` + pemA + `";Subject="CN=alice,O=Example,C=US"`, admitted},
		{"XFCC, Subject with an escaped quote and a semicolon", xfcc, `Subject="CN=a\"l;i,ce";Cert="` + pemA + `"`, admitted},
		{"XFCC, Cert unquoted", xfcc, `Hash=abc;Cert=` + pemA + `;URI=spiffe://a`, admitted},
		{"XFCC, Cert only", xfcc, `Cert="` + pemA + `"`, admitted},
		{"XFCC without Cert, PEM in a URI SAN", xfcc, `By=spiffe://proxy;Hash=abc;Subject="CN=mallory";URI=spiffe://x%0A` + pemA, missing},
		{"XFCC without Cert, PEM in a quoted URI", xfcc, `Hash=abc;URI="` + pemA + `"`, missing},
		{"XFCC, Cert inside a quoted Subject", xfcc, `Hash=abc;Subject="O=x;Cert=` + pemA + `"`, missing},
		{"XFCC, Chain only", xfcc, `Hash=abc;Chain="` + pemA + `"`, missing},
		{"XFCC, two hops", xfcc, `Cert="` + pemM + `",Cert="` + pemA + `"`, missing},
		{"XFCC, a second hop without Cert", xfcc, `Cert="` + pemA + `",By=spiffe://other`, missing},
		{"XFCC, Cert twice", xfcc, `Cert="` + pemM + `";Cert="` + pemA + `"`, missing},
		{"XFCC, unterminated quote", xfcc, `Cert="` + pemA, missing},
		{"XFCC, text after the quote", xfcc, `Cert="` + pemA + `"x`, missing},
		{"XFCC, text before the PEM in Cert", xfcc, `Cert="junk%0A` + pemA + `"`, missing},
		{"XFCC, empty pair", xfcc, `Hash=abc;;Cert="` + pemA + `"`, missing},
		{"XFCC, key without value", xfcc, `Hash;Cert="` + pemA + `"`, missing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newBindFixture(t, func(c *warden.Config) { c.MTLS.CertificateHeader = tc.header })
			r := httptest.NewRequest(http.MethodGet, "http://api.test/entries", nil)
			r.Header.Set("Authorization", "Bearer "+bound(f, alice, nil)())
			r.Header.Set(tc.header, tc.value)
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, r)
			f.check(t, w, tc.want)
		})
	}
}
