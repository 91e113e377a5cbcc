package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// doc runs the command and returns its exit status and outputs.
func doc(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestCheck runs check on tokens with one fault each. It requires the FAIL
// line that names the fault, the exit status, the reason line, and that
// reason to be the one a Middleware built by the test gives: the doctor's
// verdict is warden's. The token is never in the output.
func TestCheck(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	now := time.Now()
	mint := func(c wardentest.Claims) string { return iss.Mint(wardentest.Token{Claims: c}) }
	jwks := wardentest.NewJWKSServer(t, iss.Keys()...)
	rows := []struct {
		name   string
		token  string
		args   []string // besides -issuer and -audience
		issuer string   // default iss.URL
		fail   string   // a line the output must hold
		reason warden.Reason
	}{
		{name: "good", token: mint(wardentest.Claims{"scope": "Entry_Read"}), args: []string{"-scope", "Entry_Read"},
			fail: "ok    signature  verifies", reason: warden.ReasonOK},
		{name: "expired", token: mint(wardentest.Claims{"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-30 * time.Minute).Unix()}),
			fail: "FAIL  exp        ", reason: warden.ReasonExpired},
		{name: "not yet valid", token: mint(wardentest.Claims{"nbf": now.Add(10 * time.Minute).Unix()}),
			fail: "FAIL  nbf        ", reason: warden.ReasonNotYetValid},
		{name: "wrong audience", token: mint(wardentest.Claims{"aud": "https://other.example"}),
			fail: `FAIL  aud        expected "` + iss.Audience + `" got ["https://other.example"]`, reason: warden.ReasonWrongAudience},
		{name: "scope missing", token: mint(wardentest.Claims{"scope": "Entry_Read"}), args: []string{"-scope", "Entry_Read Entry_Write"},
			fail: `FAIL  scopes     found ["Entry_Read"]; required ["Entry_Read" "Entry_Write"]; missing ["Entry_Write"]`, reason: warden.ReasonInsufficientScope},
		{name: "bad signature", token: iss.Mint(wardentest.Token{Key: wardentest.NewRSAKey("rsa-1")}),
			fail: "FAIL  signature  does not verify", reason: warden.ReasonBadSignature},
		{name: "unknown kid", token: iss.Mint(wardentest.Token{Key: wardentest.NewECKey("ec-2")}),
			fail: `FAIL  kid        no key for kid "ec-2"`, reason: warden.ReasonUnknownKID},
		{name: "disallowed alg", token: mint(nil), args: []string{"-algs", "ES256"},
			fail: `FAIL  algorithm  "RS256" against the allow-list ES256`, reason: warden.ReasonDisallowedAlg},
		{name: "issuer with a trailing slash, keys from a JWK Set URL", token: mint(nil), issuer: iss.URL + "/",
			args: []string{"-jwks", jwks.URL},
			fail: `FAIL  iss        expected "` + iss.URL + `/" got "` + iss.URL + `": they differ only by a trailing slash`, reason: warden.ReasonWrongIssuer},
		{name: "issuer with a trailing slash, by discovery", token: mint(nil), issuer: iss.URL + "/",
			fail: "they differ only by a trailing slash; configure the issuer exactly as the document names it", reason: warden.ReasonKeysUnavailable},
		{name: "DPoP-bound", token: iss.Mint(wardentest.Token{DPoPKey: wardentest.NewECKey("k")}),
			fail: "bound to the DPoP key", reason: warden.ReasonDPoPDowngrade},
		{name: "strict, claims missing", token: mint(wardentest.Claims{"client_id": nil, "jti": nil}), args: []string{"-strict"},
			fail: "FAIL  claims     RFC 9068 requires sub, client_id, jti, iat; missing: [client_id jti]", reason: warden.ReasonMissingClaim},
		{name: "impersonated", token: mint(wardentest.Claims{"sub": "alice", "act": map[string]any{"sub": "billing", "act": map[string]any{"sub": "gateway"}}}),
			fail: `ok    actor      "alice", acted for by "billing", acting for whom "gateway"`, reason: warden.ReasonOK},
		{name: "not a JWT", token: "opaque-token", fail: "FAIL  header     the token has 1 segments", reason: warden.ReasonMalformedToken},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			issuer := row.issuer
			if issuer == "" {
				issuer = iss.URL
			}
			args := append([]string{"check", "-issuer", issuer, "-audience", iss.Audience}, row.args...)
			code, out, errOut := doc(t, "Bearer "+row.token+"\n", append(args, "-")...)
			if !strings.Contains(out, row.fail) {
				t.Errorf("output lacks %q:\n%s%s", row.fail, out, errOut)
			}
			if !strings.Contains(out, "\nwarden: "+string(row.reason)) {
				t.Errorf("output lacks the reason %q:\n%s", row.reason, out)
			}
			if want := map[bool]int{true: 0, false: 1}[row.reason == warden.ReasonOK]; code != want {
				t.Errorf("exit %d, want %d", code, want)
			}
			if strings.Contains(out+errOut, row.token) || strings.Contains(out+errOut, row.token[strings.LastIndexByte(row.token, '.')+1:]) {
				t.Errorf("the output holds the token or its signature")
			}
			if got := verdict(t, issuer, iss.Audience, row.token, row.args); got != row.reason {
				t.Errorf("the middleware says %q, the doctor %q", got, row.reason)
			}
		})
	}
}

// verdict is what a Middleware built here says of tok.
func verdict(t *testing.T, issuer, audience, tok string, args []string) warden.Reason {
	t.Helper()
	cfg := warden.Config{Issuers: []warden.IssuerConfig{{URL: issuer, Audience: audience}}, Logger: slog.New(slog.DiscardHandler)}
	var scopes []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-jwks":
			cfg.Issuers[0].JWKSURL = args[i+1]
		case "-scope":
			scopes = strings.Fields(args[i+1])
		case "-algs":
			cfg.Algorithms = strings.Split(args[i+1], ",")
		case "-strict":
			cfg.StrictRFC9068 = true
		}
	}
	mw, err := warden.New(cfg)
	if err != nil {
		return warden.ReasonKeysUnavailable
	}
	defer mw.Close()
	p, err := mw.Verify(context.Background(), tok)
	if err == nil && scopes != nil {
		err = mw.Authorize(context.Background(), p, warden.Scopes(scopes...))
	}
	var e *warden.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return warden.ReasonOK
}

// TestDecode: header and claims, labelled UNVERIFIED; never the signature.
func TestDecode(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	tok := iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read", "sub": "alice"}})
	code, out, _ := doc(t, "", "decode", tok)
	for _, want := range []string{"UNVERIFIED: nothing below was checked", "header (UNVERIFIED):", `"kid": "rsa-1"`,
		"claims (UNVERIFIED):", `"sub": "alice"`, "exp (UNVERIFIED): ", "signature: 256 bytes, not shown"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code != 0 || strings.Contains(out, tok[strings.LastIndexByte(tok, '.')+1:]) {
		t.Errorf("exit %d, or the signature is shown:\n%s", code, out)
	}
	if code, _, errOut := doc(t, "not-a-token\n", "decode", "-"); code != 2 || !strings.Contains(errOut, "the token has 1 segments") {
		t.Errorf("a non-JWT: exit %d, %q", code, errOut)
	}
}

// TestKeys: discovery, cache headers, the refresh interval, each key with
// warden's judgement of it.
func TestKeys(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	code, out, _ := doc(t, "", "keys", "-issuer", iss.URL)
	for _, want := range []string{
		"found    " + iss.URL + "/.well-known/openid-configuration: jwks_uri " + iss.JWKSURL(),
		"no max-age: warden takes the set to live 1h0m0s",
		"warden refreshes it after 48m0s to 54m0s",
		"0  rsa-1  RSA          RS256  2048  usable",
		"1  ec-1   EC P-256     ES256  256   usable",
		"warden uses 3 of its 3 keys",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Errorf("exit %d", code)
	}

	j := wardentest.NewJWKSServer(t)
	j.SetCacheControl("public, max-age=600")
	j.SetDocument([]byte(`{"keys":[` +
		`{"kty":"EC","crv":"P-256","kid":"enc","use":"enc","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},` +
		`{"kty":"oct","kid":"hmac","k":"c2VjcmV0"},` +
		`{"kty":"RSA","kid":"small","n":"` + strings.Repeat("A", 170) + `","e":"AQAB"}]}`))
	code, out, _ = doc(t, "", "keys", "-issuer", "https://idp.example", "-jwks", j.URL)
	for _, want := range []string{
		`Cache-Control: [public, max-age=600]`, "fresh for 10m0s", "warden refreshes it after 8m0s to 9m0s",
		`skipped: "use" or "key_ops" do not allow verifying signatures`,
		"skipped: a symmetric key: a JWK Set never supplies an HMAC secret",
		"REFUSES THE WHOLE SET: key 2 (kid \"small\"): RSA modulus size out of bounds",
		"warden refuses this set",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("a refused set: exit %d, want 1", code)
	}
}

// TestUsage: the manual, and mistakes on the command line.
func TestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-h"}, {"help"}, {"check", "-h"}, {"keys", "-h"}, {"decode", "-h"}} {
		code, out, _ := doc(t, "", args...)
		for _, section := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "EXIT STATUS", "SECURITY", "EXAMPLES"} {
			if !strings.Contains(out, "\n"+section+"\n") && !strings.HasPrefix(out, section+"\n") {
				t.Errorf("%v: the manual lacks %s", args, section)
			}
		}
		if code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
	for _, args := range [][]string{{}, {"cure"}, {"check", "tok"}, {"check", "-issuer", "https://idp.example", "-audience", "a"},
		{"check", "-nope"}, {"keys"}, {"decode"}} {
		if code, _, errOut := doc(t, "", args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, errOut)
		}
	}
}

// TestBinary builds the command as a user installs it and runs it once.
func TestBinary(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "warden")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	iss := wardentest.NewIssuer(t)
	cmd := exec.Command(bin, "check", "-issuer", iss.URL, "-audience", iss.Audience, "-")
	cmd.Stdin = strings.NewReader(iss.Scoped("Entry_Read"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "\nwarden: ok: admitted") {
		t.Errorf("%v\n%s", err, out)
	}
}
