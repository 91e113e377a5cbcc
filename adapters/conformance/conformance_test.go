package conformance_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// Fixed challenges (RFC 6750 §3, RFC 7617 §2) for the default realm.
const (
	bearerBare = `Bearer realm="api"`
	dpopBare   = `DPoP realm="api", algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"` // DPoP is allowed by default
	basicBare  = `Basic realm="api", charset="UTF-8"`
)

func invalidToken(description string) []string {
	return []string{bearerBare + `, error="invalid_token", error_description="` + description + `"`}
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// conformanceCase is one request and what warden must answer, whatever
// router it sits behind.
type conformanceCase struct {
	name       string
	path       string
	auth       []string                        // Authorization header values, in order
	dpop       func(htu, method string) string // the DPoP proof for a call to htu, or nil
	status     int
	challenges []string // every WWW-Authenticate value, in order
	subject    string   // for 200: the principal's subject
	actor      string   // for 200: the actor's subject, if impersonated
}

func conformanceCases(iss *wardentest.Issuer) []conformanceCase {
	now := time.Now()
	bearer := func(tok string) []string { return []string{"Bearer " + tok} }
	key := wardentest.NewECKey("client")
	bound := iss.Mint(wardentest.Token{DPoPKey: key, Claims: wardentest.Claims{"scope": "Entry_Read"}})
	proof := func(htu, method string) string {
		return key.Proof(wardentest.Proof{Method: method, URL: htu, AccessToken: bound})
	}
	return []conformanceCase{
		{name: "no token", path: "/entries", status: 401, challenges: []string{bearerBare, dpopBare}},
		{name: "bad token", path: "/entries", auth: bearer("not-a-jwt"), status: 401,
			challenges: invalidToken("The access token is malformed")},
		{name: "bad signature", path: "/entries",
			auth:   bearer(iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read"}, Key: wardentest.NewRSAKey("rsa-1")})),
			status: 401, challenges: invalidToken("The access token signature is invalid")},
		{name: "expired", path: "/entries",
			auth: bearer(iss.Mint(wardentest.Token{Claims: wardentest.Claims{
				"scope": "Entry_Read", "iat": now.Add(-20 * time.Minute).Unix(), "exp": now.Add(-10 * time.Minute).Unix()}})),
			status: 401, challenges: invalidToken("The access token expired")},
		{name: "wrong audience", path: "/entries",
			auth:   bearer(iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read", "aud": "https://other.example.test"}})),
			status: 401, challenges: invalidToken("The access token is not intended for this resource")},
		{name: "insufficient scope", path: "/entries", auth: bearer(iss.Scoped("ContentType_Read")), status: 403,
			challenges: []string{bearerBare + `, error="insufficient_scope", scope="Entry_Read"`}},
		{name: "good token", path: "/entries", auth: bearer(iss.Scoped("Entry_Read ContentType_Read")), status: 200, subject: "user-1"},
		{name: "good token, any-of route", path: "/projects", auth: bearer(iss.Scoped("Project_Admin")), status: 200, subject: "user-1"},
		{name: "empty bearer token", path: "/entries", auth: []string{"Bearer "}, status: 400,
			challenges: []string{bearerBare + `, error="invalid_request", error_description="The request is malformed"`}},
		{name: "repeated Authorization", path: "/entries", auth: []string{"Bearer a", "Bearer b"}, status: 400,
			challenges: []string{bearerBare + `, error="invalid_request", error_description="The request is malformed"`}},
		{name: "Basic good", path: "/organisations", auth: []string{basicAuth(directoryID, directorySecret)}, status: 200, subject: directoryID},
		{name: "Basic good, either scheme", path: "/whoami", auth: []string{basicAuth(readerID, readerSecret)}, status: 200, subject: readerID},
		{name: "Basic bad", path: "/organisations", auth: []string{basicAuth(directoryID, "wrong-secret")}, status: 401,
			challenges: []string{basicBare}},
		{name: "Basic unknown client", path: "/whoami", auth: []string{basicAuth("nobody", directorySecret)}, status: 401,
			challenges: []string{basicBare}},
		{name: "Basic lacking permission", path: "/organisations", auth: []string{basicAuth(readerID, readerSecret)}, status: 403},
		{name: "Basic on a Bearer-only route", path: "/entries", auth: []string{basicAuth(readerID, readerSecret)}, status: 401,
			challenges: []string{bearerBare, dpopBare}},
		{name: "both schemes, no credentials", path: "/whoami", status: 401, challenges: []string{bearerBare, dpopBare, basicBare}},
		{name: "both schemes, good token", path: "/whoami", auth: bearer(iss.Scoped("")), status: 200, subject: "user-1"},
		{name: "impersonated token (act)", path: "/entries",
			auth: bearer(iss.Mint(wardentest.Token{Claims: wardentest.Claims{
				"sub": "alice", "scope": "Entry_Read", "act": map[string]any{"sub": "demo-impersonator"}}})),
			status: 200, subject: "alice", actor: "demo-impersonator"},
		{name: "impersonated token (act_as)", path: "/entries",
			auth: bearer(iss.Mint(wardentest.Token{Claims: wardentest.Claims{
				"sub": "demo-impersonator", "client_id": "demo-impersonator", "scope": "Entry_Read", "act_as": "bob"}})),
			status: 200, subject: "bob", actor: "demo-impersonator"},
		{name: "DPoP good", path: "/entries", auth: []string{"DPoP " + bound}, dpop: proof, status: 200, subject: "user-1"},
		{name: "DPoP proof for another method", path: "/entries", auth: []string{"DPoP " + bound},
			dpop: func(htu, _ string) string { return proof(htu, "DELETE") }, status: 401,
			challenges: []string{dpopBare + `, error="invalid_dpop_proof", error_description="The DPoP proof is for another HTTP method"`}},
		{name: "DPoP-bound token as Bearer", path: "/entries", auth: bearer(bound), status: 401,
			challenges: append(invalidToken("The access token is bound to a key and must be presented with DPoP"), dpopBare)},
	}
}

// TestConformance sends every case to a net/http, chi, Gin and Echo server
// and to a net/http server whose keys come from keyfunc, and requires the
// raw responses (status line, every header but Date, body) to be
// byte-identical, each to be what RFC 6750 / RFC 7617 ask for, and each
// server to make one Decision with the same reason. Then it makes the same
// call to a gRPC server on loopback (adapters/grpc), which must make the
// same Decision and answer with the status code, message, challenges and
// principal the HTTP response maps to. It runs once with a static JWK Set
// and once with the set fetched from the issuer over loopback.
func TestConformance(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	cases := conformanceCases(iss)
	for _, src := range []struct {
		name string
		cfg  warden.Config
	}{
		{"static JWKS", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: iss.Audience, JWKS: wardentest.JWKS(iss.Keys()...), ActAs: true}}}},
		{"JWKS URL", warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: iss.Audience, JWKSURL: iss.JWKSURL(), ActAs: true}}}},
	} {
		t.Run(src.name, func(t *testing.T) {
			servers := startServers(t, src.cfg, iss.JWKSURL())
			rpc := startGRPC(t, src.cfg)
			table := "case | HTTP | reason | gRPC\n"
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					ref, reason := forEachServer(t, servers, tc, func(name string, raw []byte) { checkResponse(t, name, raw, tc) })
					rpc.check(t, tc, ref, reason)
					table += fmt.Sprintf("%s | %d | %s | %v\n", tc.name, tc.status, reason, httpToCode[tc.status])
				})
			}
			t.Logf("the same on net/http, chi, gin, echo, keyfunc and gRPC:\n%s", table)
		})
	}
}

// TestConformanceErrorHandler repeats the refusals with a Config.ErrorHandler
// that writes its own body, and with one that writes nothing: warden still
// owns the status and headers, and no framework may add to them.
func TestConformanceErrorHandler(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	cases := conformanceCases(iss)
	for _, h := range []struct {
		name    string
		handler func(http.ResponseWriter, *http.Request, *warden.Error)
	}{
		{"own body", func(w http.ResponseWriter, _ *http.Request, e *warden.Error) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusTeapot) // ignored: warden keeps its status
			_, _ = io.WriteString(w, "refused: "+string(e.Reason)+"\n")
		}},
		{"silent", func(http.ResponseWriter, *http.Request, *warden.Error) {}},
	} {
		t.Run(h.name, func(t *testing.T) {
			servers := startServers(t, warden.Config{
				Issuers: []warden.IssuerConfig{{
					URL:      iss.URL,
					Audience: iss.Audience,
					JWKS:     wardentest.JWKS(iss.Keys()...),
				}},
				ErrorHandler: h.handler,
			}, iss.JWKSURL())
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					forEachServer(t, servers, tc, func(name string, raw []byte) {
						resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
						if err != nil {
							t.Fatalf("%s: parsing response: %v\n%s", name, err, raw)
						}
						_ = resp.Body.Close()
						if resp.StatusCode != tc.status {
							t.Errorf("%s: status %d, want %d", name, resp.StatusCode, tc.status)
						}
						if got := resp.Header.Values("WWW-Authenticate"); !slices.Equal(got, tc.challenges) {
							t.Errorf("%s: WWW-Authenticate %q, want %q", name, got, tc.challenges)
						}
					})
				})
			}
		})
	}
}

// forEachServer sends tc to every server, checks each raw response with
// check and how often the protected handler ran, and requires every response
// to equal the first server's (net/http's) byte for byte, and every server
// to make one Decision with the first one's reason. It returns the first
// server's response and reason.
func forEachServer(t *testing.T, servers []server, tc conformanceCase, check func(name string, raw []byte)) ([]byte, warden.Reason) {
	t.Helper()
	var ref []byte
	var reason warden.Reason
	for _, s := range servers {
		before := s.calls.Load()
		s.decisions.take()
		var proof []string
		if tc.dpop != nil {
			proof = []string{tc.dpop("http://api.example.test"+tc.path, http.MethodGet)}
		}
		raw := roundTrip(t, s.url, tc.path, tc.auth, proof)
		if calls := s.calls.Load() - before; calls > 1 || (calls == 1) != (tc.status == http.StatusOK) {
			t.Errorf("%s: handler ran %d times for a %d", s.name, calls, tc.status)
		}
		check(s.name, raw)
		ds := s.decisions.take()
		if len(ds) != 1 {
			t.Errorf("%s: %d decisions, want one", s.name, len(ds))
		} else if ref == nil {
			reason = ds[0].Reason
		} else if ds[0].Reason != reason {
			t.Errorf("%s: reason %q, %s's %q", s.name, ds[0].Reason, servers[0].name, reason)
		}
		if ref == nil {
			ref = raw
			continue
		}
		if !bytes.Equal(raw, ref) {
			t.Errorf("%s response differs from %s:\n--- %s\n%s\n--- %s\n%s", s.name, servers[0].name,
				s.name, raw, servers[0].name, ref)
		}
	}
	return ref, reason
}

// checkResponse asserts what the response must be, independently of the
// router: status, challenges, Cache-Control and the principal seen.
func checkResponse(t *testing.T, name string, raw []byte, tc conformanceCase) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("%s: parsing response: %v\n%s", name, err, raw)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: reading body: %v", name, err)
	}
	if resp.StatusCode != tc.status {
		t.Errorf("%s: status %d, want %d\n%s", name, resp.StatusCode, tc.status, raw)
	}
	if got := resp.Header.Values("WWW-Authenticate"); !slices.Equal(got, tc.challenges) {
		t.Errorf("%s: WWW-Authenticate %q, want %q", name, got, tc.challenges)
	}
	if tc.status == http.StatusOK {
		if cc := resp.Header.Get("Cache-Control"); cc != "" {
			t.Errorf("%s: Cache-Control %q on a pass, want none", name, cc)
		}
		checkPrincipal(t, name, body, tc)
		return
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", name, cc)
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" || e.Description == "" {
		t.Errorf("%s: body %q is not an error document (%v)", name, body, err)
	}
}

func checkPrincipal(t *testing.T, name string, body []byte, tc conformanceCase) {
	t.Helper()
	var p struct {
		Subject string        `json:"subject"`
		Actor   *warden.Actor `json:"actor"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("%s: principal %q: %v", name, body, err)
	}
	if p.Subject != tc.subject {
		t.Errorf("%s: subject %q, want %q", name, p.Subject, tc.subject)
	}
	var actor string
	if p.Actor != nil {
		actor = p.Actor.Subject
	}
	if actor != tc.actor {
		t.Errorf("%s: actor %q, want %q", name, actor, tc.actor)
	}
}

// roundTrip sends a GET over a fresh connection and returns the raw
// response with the Date header removed: the only bytes allowed to differ.
func roundTrip(t *testing.T, base, path string, auth, dpop []string) []byte {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", u.Host, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var req strings.Builder
	req.WriteString("GET " + path + " HTTP/1.1\r\nHost: api.example.test\r\n")
	for _, a := range auth {
		req.WriteString("Authorization: " + a + "\r\n")
	}
	for _, p := range dpop {
		req.WriteString("DPoP: " + p + "\r\n")
	}
	req.WriteString("Connection: close\r\n\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		t.Fatalf("write request: %v", err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("response has no end of header:\n%s", raw)
	}
	var out []byte
	for line := range bytes.Lines(append(head, "\r\n"...)) {
		if !bytes.HasPrefix(line, []byte("Date: ")) {
			out = append(out, line...)
		}
	}
	return append(append(out, "\r\n"...), body...)
}
