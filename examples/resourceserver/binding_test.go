package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wardenhq/warden/wardentest"
)

const dpopDeny = `DPoP realm="api", algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"`

// answer is what the server said to one request.
type answer struct {
	status     int
	challenges []string
	nonce      string
	body       string
}

// send makes one request with hc: auth is the Authorization value, proof
// the DPoP header (both optional), header any other fields.
func send(t *testing.T, hc *http.Client, method, target, auth, proof string, header http.Header) answer {
	t.Helper()
	req, _ := http.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Values("WWW-Authenticate"), resp.Header.Get("DPoP-Nonce"), string(b)}
}

// dpopToken gets a token bound to key from the demo token endpoint, with a
// DPoP proof on the token request (RFC 9449 §5).
func dpopToken(t *testing.T, hc *http.Client, base string, key *wardentest.Key) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("demo-reader", "demo-reader-secret")
	if key != nil {
		req.Header.Set("DPoP", key.Proof(wardentest.Proof{Method: "POST", URL: base + "/oauth/token"}))
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	if want := map[bool]string{true: "DPoP", false: "Bearer"}[key != nil]; body.TokenType != want {
		t.Errorf("token_type %q, want %q", body.TokenType, want)
	}
	return body.AccessToken
}

// TestDPoPDemo: DPoP is allowed on every Bearer route of the demo: a bound
// token works with its proof, once per proof, and never as a bearer token;
// the banner prints the copy-paste flow.
func TestDPoPDemo(t *testing.T) {
	s := start(t)
	if !strings.Contains(s.stdout.String(), "go run ./examples/dpopclient -client demo-reader:demo-reader-secret -token-url "+s.base+"/oauth/token "+s.base+"/entries") {
		t.Errorf("banner lacks the DPoP flow:\n%s", s.stdout)
	}
	key := wardentest.NewECKey("client")
	tok := dpopToken(t, http.DefaultClient, s.base, key)
	proof := key.Proof(wardentest.Proof{URL: s.base + "/entries", AccessToken: tok})
	if a := send(t, http.DefaultClient, "GET", s.base+"/entries", "DPoP "+tok, proof, nil); a.status != 200 {
		t.Errorf("DPoP call: %+v", a)
	}
	a := send(t, http.DefaultClient, "GET", s.base+"/entries", "DPoP "+tok, proof, nil)
	if a.status != 401 || !slices.Equal(a.challenges, []string{dpopDeny + `, error="invalid_dpop_proof", error_description="The DPoP proof was already used"`}) {
		t.Errorf("replay: %+v", a)
	}
	a = send(t, http.DefaultClient, "GET", s.base+"/whoami", "Bearer "+tok, "", nil)
	if a.status != 401 || len(a.challenges) != 2 || !strings.Contains(a.challenges[0], "must be presented with DPoP") {
		t.Errorf("downgrade: %+v", a)
	}
	p := key.Proof(wardentest.Proof{URL: s.base + "/whoami", AccessToken: tok})
	a = send(t, http.DefaultClient, "GET", s.base+"/whoami", "DPoP "+tok, p, nil)
	if a.status != 200 || !strings.Contains(a.body, `"scheme":"DPoP"`) || !strings.Contains(a.body, `"cnf":{"jkt":"`+key.Thumbprint()+`"}`) {
		t.Errorf("whoami with DPoP: %+v", a)
	}
	for _, line := range []string{"path=/entries status=200 reason=ok", "path=/entries status=401 reason=dpop_replayed", "path=/whoami status=401 reason=dpop_downgrade"} {
		if !s.stderr.waitFor(line) {
			t.Errorf("access log lacks %q", line)
		}
	}
}

// TestDPoPModes: -dpop required takes only DPoP on the Bearer routes, -dpop
// off only Bearer; Basic routes are untouched.
func TestDPoPModes(t *testing.T) {
	req := start(t, "-dpop", "required")
	bearerTok := dpopToken(t, http.DefaultClient, req.base, nil)
	if a := send(t, http.DefaultClient, "GET", req.base+"/entries", "Bearer "+bearerTok, "", nil); a.status != 401 || !slices.Equal(a.challenges, []string{dpopDeny}) {
		t.Errorf("-dpop required, bearer token: %+v", a)
	}
	if a := send(t, http.DefaultClient, "GET", req.base+"/whoami", "", "", nil); !slices.Equal(a.challenges, []string{dpopDeny, basicChallenge}) {
		t.Errorf("-dpop required, /whoami without credentials: %+v", a)
	}
	off := start(t, "-dpop", "off")
	if strings.Contains(off.stdout.String(), "dpopclient") {
		t.Error("-dpop off still prints the DPoP flow")
	}
	if a := send(t, http.DefaultClient, "GET", off.base+"/entries", "", "", nil); !slices.Equal(a.challenges, []string{bearerChallenge}) {
		t.Errorf("-dpop off, no credentials: %+v", a)
	}
}

// TestDPoPFleet: two instances sharing -redis and -dpop-nonce-key behind
// one -public-url accept each other's nonces, and a proof once between
// them. It needs a real redis-server.
func TestDPoPFleet(t *testing.T) {
	redis := wardentest.StartRedis(t)
	iss := wardentest.NewIssuer(t)
	keyFile := filepath.Join(t.TempDir(), "nonce.key")
	if err := os.WriteFile(keyFile, []byte("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const public = "https://api.example"
	args := []string{"-issuer", iss.URL, "-audience", iss.Audience, "-dpop-nonce-key", keyFile, "-redis", redis.Addr, "-public-url", public}
	a, b := start(t, args...), start(t, args...)
	key := wardentest.NewECKey("client")
	tok := iss.Mint(wardentest.Token{DPoPKey: key, Claims: wardentest.Claims{"scope": "Entry_Read"}})
	proof := func(nonce string) string {
		return key.Proof(wardentest.Proof{URL: public + "/entries", AccessToken: tok, Nonce: nonce})
	}
	first := send(t, http.DefaultClient, "GET", a.base+"/entries", "DPoP "+tok, proof(""), nil)
	if first.status != 401 || first.nonce == "" || !strings.Contains(first.challenges[0], `error="use_dpop_nonce"`) {
		t.Fatalf("no nonce: %+v", first)
	}
	p := proof(first.nonce)
	if got := send(t, http.DefaultClient, "GET", b.base+"/entries", "DPoP "+tok, p, nil); got.status != 200 || got.nonce != first.nonce {
		t.Errorf("instance B with A's nonce: %+v", got)
	}
	if got := send(t, http.DefaultClient, "GET", a.base+"/entries", "DPoP "+tok, p, nil); got.status != 401 || !strings.Contains(got.challenges[0], "already used") {
		t.Errorf("the same proof at instance A: %+v", got)
	}
}

// TestTLSAndClientCertificates: -tls-cert/-tls-key serve HTTPS (the demo
// issuer too, whose keys warden fetches over it); with -client-ca a client
// certificate makes the token endpoint bind the token to it, and the API
// then wants that certificate.
func TestTLSAndClientCertificates(t *testing.T) {
	dir := t.TempDir()
	authority := wardentest.NewCA("test CA")
	ca := certFiles(t, dir, "ca", authority)
	server := certFiles(t, dir, "server", authority.Issue("server", "127.0.0.1"))
	client := authority.Issue("client")
	s := start(t, "-tls-cert", server.certFile, "-tls-key", server.keyFile, "-client-ca", ca.certFile)
	if !strings.HasPrefix(s.base, "https://127.0.0.1:") {
		t.Fatalf("base %q, want https://127.0.0.1:…", s.base)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots,
		Certificates: []tls.Certificate{client.TLS()}}}}
	tok := dpopToken(t, withCert, s.base, nil)
	if a := send(t, withCert, "GET", s.base+"/entries", "Bearer "+tok, "", nil); a.status != 200 {
		t.Errorf("bound token with its certificate: %+v", a)
	}
	a := send(t, plain, "GET", s.base+"/entries", "Bearer "+tok, "", nil)
	if a.status != 401 || !slices.Equal(a.challenges, []string{`Bearer realm="api", error="invalid_token", error_description="The access token is bound to a client certificate the request lacks"`}) {
		t.Errorf("bound token without a certificate: %+v", a)
	}
	if a := send(t, plain, "GET", s.base+"/entries", "Bearer "+dpopToken(t, plain, s.base, nil), "", nil); a.status != 200 {
		t.Errorf("unbound token without a certificate: %+v", a)
	}
	if !s.stderr.waitFor("path=/entries status=401 reason=certificate_missing") {
		t.Error("access log lacks certificate_missing")
	}
}

// TestClientCertHeader: behind a TLS-terminating proxy the certificate
// comes from the header -client-cert-header names.
func TestClientCertHeader(t *testing.T) {
	client := wardentest.NewCA("test CA").Issue("client")
	iss := wardentest.NewIssuer(t)
	s := start(t, "-issuer", iss.URL, "-audience", iss.Audience, "-client-cert-header", "X-Client-Cert")
	tok := iss.Mint(wardentest.Token{Certificate: client.Cert, Claims: wardentest.Claims{"scope": "Entry_Read"}})
	certPEM, _ := client.PEM()
	escaped := url.PathEscape(string(certPEM))
	if a := send(t, http.DefaultClient, "GET", s.base+"/entries", "Bearer "+tok, "", http.Header{"X-Client-Cert": {escaped}}); a.status != 200 {
		t.Errorf("certificate in the header: %+v", a)
	}
	if a := send(t, http.DefaultClient, "GET", s.base+"/entries", "Bearer "+tok, "", nil); a.status != 401 {
		t.Errorf("no header: %+v", a)
	}
}

// TestBindingFlags: -h documents every flag; flags that cannot work are
// refused at start-up.
func TestBindingFlags(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"-addr", "-issuer", "-jwks", "-audience", "-realm", "-basic-clients", "-dpop", "-dpop-nonce", "-dpop-nonce-key",
		"-public-url", "-redis", "-tls-cert", "-tls-key", "-client-ca", "-client-cert-header"} {
		if !strings.Contains(out.String(), "\n  "+f+" ") && !strings.Contains(out.String(), "\n  "+f+"\n") {
			t.Errorf("-h does not document %s:\n%s", f, out.String())
		}
	}
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.key")
	_ = os.WriteFile(badKey, []byte("not hex\n"), 0o600)
	shortKey := filepath.Join(dir, "short.key")
	_ = os.WriteFile(shortKey, []byte("0011\n"), 0o600)
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := free.Addr().String()
	free.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-dpop", "sometimes"}, "-dpop"},
		{[]string{"-dpop", "off", "-dpop-nonce"}, "-dpop off"},
		{[]string{"-tls-cert", "x.pem"}, "-tls-key"},
		{[]string{"-client-ca", "ca.pem"}, "-client-ca needs -tls-cert"},
		{[]string{"-dpop-nonce-key", badKey}, "64 hexadecimal"},
		{[]string{"-dpop-nonce-key", shortKey}, "64 hexadecimal"},
		{[]string{"-dpop-nonce-key", filepath.Join(dir, "none")}, "no such file"},
		{[]string{"-tls-cert", filepath.Join(dir, "none"), "-tls-key", filepath.Join(dir, "none")}, "-tls-cert"},
		{[]string{"-redis", closed}, "-redis"},
		{[]string{"-public-url", "not a url"}, "PublicURL"},
		{[]string{"-client-cert-header", "Authorization"}, "CertificateHeader"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, tc.args...), &out, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
		if strings.Contains(out.String(), "listening on") {
			t.Errorf("run(%q) printed 'listening on'", tc.args)
		}
	}
}

// pair is a test certificate and the PEM files holding it and its key.
type pair struct {
	*wardentest.Certificate
	certFile, keyFile string
}

// certFiles writes c and its key as PEM files named name in dir.
func certFiles(t *testing.T, dir, name string, c *wardentest.Certificate) *pair {
	t.Helper()
	p := &pair{Certificate: c, certFile: filepath.Join(dir, name+".pem"), keyFile: filepath.Join(dir, name+".key")}
	cert, key := c.PEM()
	if os.WriteFile(p.certFile, cert, 0o600) != nil || os.WriteFile(p.keyFile, key, 0o600) != nil {
		t.Fatal("writing PEM files")
	}
	return p
}
