package warden

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The C2SP Wycheproof JSON Web Crypto vectors (testdata/wycheproof, Apache
// License 2.0) run through warden here. Most JWS vectors sign a payload that
// is no JWT ("foo", "", zero bytes), so the test isolates the signature
// verdict: each group's key is configured as warden's own configuration
// would take it (a JWK Set in Config.JWKS, an HMAC key in Config.HMACSecret,
// with the JWK's alg as Config.Algorithms), New is asked to accept it, and
// the token goes through verifyJWS: warden's token syntax, header decoding,
// payload decoding, algorithm policy, key lookup and signature check, in
// verifyToken's order, without the claims. The rules:
//
//   - a vector the suite calls invalid is never accepted;
//   - a vector it calls valid is accepted, unless wycheproofStricter lists
//     it with the reason warden refuses it on purpose;
//   - every JWE is refused, as a token a resource server that accepts only
//     JWS must refuse (row B2), whatever the suite says of its decryption.

const (
	wpIssuer   = "https://wycheproof.test"
	wpAudience = "https://api.wycheproof.test"
)

// wycheproofStricter lists, per file, the vectors the suite calls valid that
// warden refuses on purpose, and why. A listed vector that warden accepts,
// or that the suite calls invalid, fails the test: the list stays exact.
var wycheproofStricter = map[string]map[int]string{
	"json_web_signature_test.json": {
		346: wpAlgMismatch,
		350: wpAlgMismatch,
		347: wpAlgUnregistered,
		351: wpAlgUnregistered,
		372: wpStrictBase64,
		373: wpStrictBase64,
	},
	"json_web_key_test.json": {
		2: wpHMACInJWKS,
	},
	"json_web_crypto_test.json": {
		48: wpHMACInJWKS,
	},
}

// The reasons of wycheproofStricter.
const (
	wpAlgMismatch = "the JWK's alg (PS256) differs from the token's (PS384): a JWK's alg must equal the token's " +
		"(row C5; RFC 7517 §4.4 names the algorithm the key is intended for)"
	wpAlgUnregistered = `the JWK's alg "ES521" is no JWS algorithm (RFC 7518 §3.1 registers ES512), so it fits no token (row C5)`
	wpStrictBase64    = "a '?' inside a segment: base64url is decoded strictly (RFC 7515 §2, rows B4/B5/B11), and '?' " +
		"is outside RFC 6750's b64token"
	wpHMACInJWKS = "HMAC keys are never taken from a JWK Set (row H7): an HMAC issuer has one Config.HMACSecret, " +
		"and this set has two HMAC keys and nothing else"
	wpJWE = "a JWE is refused as a token: warden accepts only the JWS compact serialisation (row B2)"
)

// wycheproofContradictions lists the vectors the suite calls invalid whose
// token and key are byte for byte those of a vector it calls valid: no
// verifier can agree with both. warden accepts them, as it accepts the
// valid twin; the test checks that the twin exists.
var wycheproofContradictions = map[string]map[int]int{ // file → invalid tcId → its valid twin
	"json_web_signature_test.json": {
		367: 357, // "invalidBase64Padding": the padding is not in the token
		370: 357, // "invalidBase64PaddingInPayload": likewise
	},
}

type wpFile struct {
	NumberOfTests int       `json:"numberOfTests"`
	TestGroups    []wpGroup `json:"testGroups"`
}

type wpGroup struct {
	Comment string          `json:"comment"`
	Public  json.RawMessage `json:"public"`
	Private json.RawMessage `json:"private"`
	Tests   []wpTest        `json:"tests"`
}

type wpTest struct {
	TcID    int             `json:"tcId"`
	Comment string          `json:"comment"`
	Result  string          `json:"result"`
	Flags   []string        `json:"flags"`
	JWS     json.RawMessage `json:"jws"`
	JWE     json.RawMessage `json:"jwe"`
}

// token returns the serialisation the vector carries: a compact one as is,
// a JSON serialisation as its JSON text, a missing one as "".
func (v *wpTest) token() (tok string, isJWE bool) {
	raw := v.JWS
	if len(v.JWE) > 0 {
		raw, isJWE = v.JWE, true
	}
	if len(raw) == 0 || string(raw) == "null" {
		return "", isJWE
	}
	if err := json.Unmarshal(raw, &tok); err != nil {
		return string(raw), isJWE // a JSON serialisation
	}
	return tok, isJWE
}

// wpConfig turns a group's key into the configuration an operator would
// write for it: an HMAC key alone becomes Config.HMACSecret (with its JWK
// alg, if any, as Config.Algorithms: the operator has nowhere else to put
// it); anything else becomes the JWK Set of Config.JWKS: the group's public
// key, or, when it has none, its private key (a single JWK without its
// private members, as an operator would publish it; a set as it is, since
// how the set parser takes it is what the vector tests).
func wpConfig(t *testing.T, g *wpGroup) Config {
	t.Helper()
	cfg := Config{Issuer: wpIssuer, Audience: wpAudience, TokenCacheSize: -1}
	fromPrivate := len(g.Public) == 0 || string(g.Public) == "null"
	src := g.Public
	if fromPrivate {
		src = g.Private
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(src, &doc); err != nil {
		t.Fatalf("group %s: key is not JSON: %v", g.Comment, err)
	}
	if doc.Keys == nil { // a single JWK
		var jwk map[string]any
		if err := json.Unmarshal(src, &jwk); err != nil {
			t.Fatalf("group %s: key is not a JWK: %v", g.Comment, err)
		}
		if jwk["kty"] != "oct" && fromPrivate {
			for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "oth"} {
				delete(jwk, m)
			}
		}
		doc.Keys = []map[string]any{jwk}
	}
	if len(doc.Keys) == 1 && doc.Keys[0]["kty"] == "oct" {
		k, _ := doc.Keys[0]["k"].(string)
		secret, err := base64.RawURLEncoding.DecodeString(k)
		if err != nil {
			t.Fatalf("group %s: k is not base64url: %v", g.Comment, err)
		}
		cfg.HMACSecret = secret
		if alg, _ := doc.Keys[0]["alg"].(string); alg != "" {
			cfg.Algorithms = []string{alg}
		}
		return cfg
	}
	jwks, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfg.JWKS = jwks
	return cfg
}

// wpVerdict is what warden made of one vector.
type wpVerdict struct {
	accepted bool
	stage    string // where it was refused: config, token, payload or signature
	reason   Reason
}

func (v wpVerdict) String() string {
	if v.accepted {
		return "accepted"
	}
	if v.reason == "" {
		return "refused (" + v.stage + ")"
	}
	return "refused (" + v.stage + ": " + string(v.reason) + ")"
}

// verifyJWS is verifyToken without the claims: the syntax check of Verify,
// the size bound, parseJWS, the payload's base64url, then checkSignature
// with the one configured issuer, whose iss verifyToken would read from
// the claims.
func verifyJWS(m *Middleware, raw string) wpVerdict {
	refused := func(stage string, e *Error) wpVerdict { return wpVerdict{stage: stage, reason: e.Reason} }
	if len(raw) > m.core.maxTokenSize {
		return refused("token", newError(ReasonTokenTooLarge, SchemeBearer, nil))
	}
	if !isB64Token(raw) {
		return refused("token", malformedCredentials(SchemeBearer))
	}
	t, e := parseJWS(raw)
	if e != nil {
		return refused("token", e)
	}
	if _, err := b64.DecodeString(t.payloadSeg); err != nil {
		return refused("payload", newError(ReasonMalformedToken, SchemeBearer, err))
	}
	if _, e := m.core.issuers[wpIssuer].checkSignature(context.Background(), &t); e != nil {
		return refused("signature", e)
	}
	return wpVerdict{accepted: true}
}

func TestWycheproof(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"json_web_signature_test.json", "json_web_key_test.json", "json_web_crypto_test.json", "json_web_encryption_test.json"} {
		t.Run(strings.TrimSuffix(name, "_test.json"), func(t *testing.T) {
			t.Parallel()
			runWycheproofFile(t, name)
		})
	}
}

func runWycheproofFile(t *testing.T, name string) {
	data, err := os.ReadFile(filepath.Join("testdata", "wycheproof", name))
	if err != nil {
		t.Fatal(err)
	}
	var f wpFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	stricter := wycheproofStricter[name]
	contradictions := wycheproofContradictions[name]
	var total, agree, onPurpose, jwe, contradicted int
	seen := map[int]bool{}
	valid := map[int]string{} // tcId → token, of the valid vectors
	// Every JWE is tried against a middleware that could accept a JWS:
	// whatever key the vector's group holds, the token must be refused as
	// a token.
	anyKey := newWPMiddleware(t)
	for gi := range f.TestGroups {
		g := &f.TestGroups[gi]
		var m *Middleware
		var newErr error
		if !slices.ContainsFunc(g.Tests, func(v wpTest) bool { return len(v.JWE) > 0 }) {
			if m, newErr = New(wpConfig(t, g)); newErr == nil {
				t.Cleanup(func() { _ = m.Close() })
			}
		}
		for _, v := range g.Tests {
			total++
			seen[v.TcID] = true
			tok, isJWE := v.token()
			verdict := wpVerdict{stage: "config"}
			switch {
			case isJWE:
				verdict = verifyJWS(anyKey, tok)
			case newErr == nil:
				verdict = verifyJWS(m, tok)
			}
			if v.Result == "valid" {
				valid[v.TcID] = tok
			}
			// Only names, never tokens or keys: a failure message must not
			// carry key material.
			where := fmt.Sprintf("%s tcId %d (group %s, %s, %s)", name, v.TcID, g.Comment, v.Comment, v.Result)
			reason, listed := stricter[v.TcID]
			twin, isContradiction := contradictions[v.TcID]
			switch {
			case v.Result != "valid" && v.Result != "invalid":
				t.Errorf("%s: unknown result %q", where, v.Result)
			case isJWE && (verdict.accepted || verdict.stage != "token" && verdict.reason != ReasonDisallowedAlg):
				t.Errorf("%s: a JWE was %s, want refused as a token", where, verdict)
			case isJWE:
				if v.Result == "valid" {
					jwe++
				} else {
					agree++
				}
			case isContradiction:
				if v.Result != "invalid" || valid[twin] != tok || tok == "" {
					t.Errorf("%s: listed as a contradiction with tcId %d, which is not a valid vector with the same token", where, twin)
				}
				contradicted++
			case listed && (verdict.accepted || v.Result != "valid"):
				t.Errorf("%s: listed as refused on purpose (%s), but the suite calls it %s and warden %s", where, reason, v.Result, verdict)
			case listed:
				onPurpose++
			case v.Result == "invalid" && verdict.accepted:
				t.Errorf("%s: invalid vector accepted", where)
			case v.Result == "valid" && !verdict.accepted:
				t.Errorf("%s: valid vector %s, and not listed in wycheproofStricter", where, verdict)
			default:
				agree++
			}
		}
	}
	for id := range contradictions {
		if !seen[id] {
			t.Errorf("%s: wycheproofContradictions lists tcId %d, which the file does not hold", name, id)
		}
	}
	for id := range stricter {
		if !seen[id] {
			t.Errorf("%s: wycheproofStricter lists tcId %d, which the file does not hold", name, id)
		}
	}
	if total != f.NumberOfTests {
		t.Errorf("%s: ran %d vectors, the file says %d", name, total, f.NumberOfTests)
	}
	reasons := map[string]int{}
	for _, r := range stricter {
		reasons[r]++
	}
	if jwe > 0 {
		reasons[wpJWE] += jwe
	}
	var lines []string
	for r, n := range reasons {
		lines = append(lines, fmt.Sprintf("  %3d  %s", n, r))
	}
	if contradicted > 0 {
		lines = append(lines, fmt.Sprintf("  %3d  the suite calls it invalid, but it is byte for byte a vector it calls valid (accepted as that one)", contradicted))
	}
	slices.Sort(lines)
	t.Logf("%s: %d vectors, %d agree, %d differ on purpose, %d contradict the suite itself:\n%s",
		name, total, agree, onPurpose+jwe, contradicted, strings.Join(lines, "\n"))
	if agree+onPurpose+jwe+contradicted != total && !t.Failed() {
		t.Errorf("%s: the counts do not add up", name)
	}
}

// newWPMiddleware returns a middleware with an ordinary JWK Set (one P-256
// key), for the JWE vectors.
func newWPMiddleware(t *testing.T) *Middleware {
	t.Helper()
	m, err := New(Config{Issuer: wpIssuer, Audience: wpAudience, TokenCacheSize: -1,
		JWKS: ksSet(t, ksJWK(t, &ksEC().PublicKey, map[string]any{"kid": "any"}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}
