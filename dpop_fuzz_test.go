package warden

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

// The proof fuzz fixture uses fixed keys: the fuzzing engine runs the
// target in several processes, and what one process signs must be the same
// signing input in the others. The keys exist only for these tests.
const fuzzProofECPEM = `
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg8yY4Qs7DF/SCUvoO
3x0UELpyDzYfRLdZq/iKHOpRn4WhRANCAATShACljZG92Msv5otnijS86MS20yWB
pGVNV2JEPQH8HGTMGzt0f/ThFzAIf77/W9lTI/aLO4ULVF3ul98i3knt
-----END PRIVATE KEY-----`

// fuzzProofs returns valid proofs signed by the fixed keys, keyed by their
// signing input.
func fuzzProofs(tb testing.TB) map[string]string {
	tb.Helper()
	block, _ := pem.Decode([]byte(fuzzProofECPEM))
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	ec := k.(*ecdsa.PrivateKey)
	point, _ := ec.PublicKey.Bytes()
	ecJWK := `{"kty":"EC","crv":"P-256","x":"` + b64.EncodeToString(point[1:33]) + `","y":"` + b64.EncodeToString(point[33:]) + `"}`
	ed := ed25519.NewKeyFromSeed([]byte("warden fuzz proof key, 32 bytes!"))
	edJWK := `{"kty":"OKP","crv":"Ed25519","x":"` + b64.EncodeToString(ed.Public().(ed25519.PublicKey)) + `"}`
	claims := `{"jti":"j1","htm":"GET","htu":"https://api.example/entries","iat":1800000000,"ath":"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo","nonce":"n"}`
	out := map[string]string{}
	for _, s := range []struct {
		alg, jwk string
		key      any
	}{{"ES256", ecJWK, ec}, {"EdDSA", edJWK, ed}} {
		input := b64.EncodeToString([]byte(`{"typ":"dpop+jwt","alg":"`+s.alg+`","jwk":`+s.jwk+`}`)) + "." + b64.EncodeToString([]byte(claims))
		sig, err := signingMethods[s.alg].Sign(input, s.key)
		if err != nil {
			tb.Fatal(err)
		}
		out[input] = input + "." + b64.EncodeToString(sig)
	}
	return out
}

// FuzzParseProof feeds arbitrary bytes to the DPoP proof parser: it never
// panics, every refusal carries a DPoP reason, and nothing but a signing
// input the fixture signed ever verifies.
func FuzzParseProof(f *testing.F) {
	proofs := fuzzProofs(f)
	for _, p := range proofs {
		f.Add(p)
		h, rest, _ := strings.Cut(p, ".")
		f.Add(h + "." + rest[:len(rest)/2])
	}
	for _, s := range []string{"", ".", "..", "a.b.c", "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.", strings.Repeat(".", 100)} {
		f.Add(s)
	}
	keys := &proofKeys{} // shared across inputs, as by requests
	f.Fuzz(func(t *testing.T, raw string) {
		p, e := parseProof(raw, defaultDPoPAlgorithms, keys)
		if e != nil {
			if p != nil || e.Scheme != SchemeDPoP || !strings.HasPrefix(string(e.Reason), "dpop_") {
				t.Fatalf("%q: refusal %v with proof %v", raw, e, p)
			}
			return
		}
		head, _, _ := strings.Cut(raw, ".")
		payload := raw[len(head)+1:]
		payload = payload[:strings.LastIndexByte(payload, '.')]
		if _, ok := proofs[head+"."+payload]; !ok {
			t.Fatalf("%q verified, but no fixture key signed it", raw)
		}
		if len(p.jkt) != 43 || p.jti == "" || p.htm == "" || p.htu == "" {
			t.Fatalf("%q: accepted proof %+v lacks a required member", raw, p)
		}
	})
}

// FuzzNormalizeHTU: normalising is idempotent, and never lets a query,
// fragment or userinfo through.
func FuzzNormalizeHTU(f *testing.F) {
	for _, s := range []string{"https://api.example/entries", "HTTP://API.example:80/a/../b/./%7e%2f?q#f", "https://[::1]:443/",
		"http://h:/", "https://u@h/", "http://h/%zz", "http://h/a/b/..", "ftp://h/", "http:///x", "http://h:8x/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := normalizeHTU(s)
		if !ok {
			return
		}
		host, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(n, "http://"), "https://"), "/")
		if strings.ContainsAny(n, "?#") || strings.Contains(host, "@") {
			t.Fatalf("%q normalised to %q", s, n)
		}
		if again, ok := normalizeHTU(n); !ok || again != n {
			t.Fatalf("%q normalised to %q, then to %q (%v)", s, n, again, ok)
		}
	})
}
