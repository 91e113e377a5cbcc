package warden

import (
	"encoding/base64"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

// rvProof builds an unsigned DPoP proof whose jwk is an RSA key with a
// modulus of modBytes bytes (all 0xff: as many bits as bytes allow).
func rvProof(t *testing.T, modBytes int) string {
	t.Helper()
	n := make([]byte, modBytes)
	for i := range n {
		n[i] = 0xff
	}
	enc := base64.RawURLEncoding
	header, err := json.Marshal(map[string]any{
		"typ": "dpop+jwt", "alg": "RS256",
		"jwk": map[string]string{"kty": "RSA", "e": "AQAB", "n": enc.EncodeToString(n)},
	})
	if err != nil {
		t.Fatal(err)
	}
	payload := `{"jti":"j","htm":"GET","htu":"https://api.example/x","iat":1800000000}`
	return enc.EncodeToString(header) + "." + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(make([]byte, 256))
}

// bytesPerCall is the heap bytes one call of f allocates, on average.
func bytesPerCall(f func()) uint64 {
	const runs = 20
	f() // warm up
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}

// TestReviewDPoPJWKBound: a proof's jwk is bounded in bytes before it is
// decoded. RSA proof keys were already bounded to 4096 bits before any
// RSA operation, but only after the whole header and the modulus were
// decoded into a big.Int, so a proof carrying a 64 kB modulus (possible
// whenever MaxTokenSize is raised) cost a decode of all of it per request:
// before the fix, 229,608 bytes allocated per proof (3,926 for an
// 8192-bit key, refused once decoded). Now a header over
// maxProofHeader bytes is refused unread, and an RSA modulus is measured
// by its encoded length before it is decoded.
//
// Not parallel: it measures the process's allocations.
func TestReviewDPoPJWKBound(t *testing.T) {
	algs := []string{"RS256"}
	for _, tc := range []struct {
		name     string
		modBytes int
		reason   Reason
		maxBytes uint64
	}{
		{"64 kB modulus", 64 << 10, ReasonDPoPProofMalformed, 4 << 10},
		{"1 kB modulus (8192 bits)", 1 << 10, ReasonDPoPBadKey, 3 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := rvProof(t, tc.modBytes)
			_, e := parseProof(raw, algs, nil)
			if e == nil || e.Reason != tc.reason {
				t.Fatalf("parseProof = %v, want %s", e, tc.reason)
			}
			got := bytesPerCall(func() { _, _ = parseProof(raw, algs, nil) })
			t.Logf("%d bytes allocated per refused proof", got)
			if got > tc.maxBytes {
				t.Errorf("%d bytes allocated per refused proof, want at most %d", got, tc.maxBytes)
			}
		})
	}
	// A 4096-bit key, the largest accepted, still parses (and fails only
	// its signature here).
	raw := rvProof(t, 512)
	if _, e := parseProof(raw, algs, nil); e == nil || e.Reason != ReasonDPoPBadSignature {
		t.Fatalf("4096-bit key: parseProof = %v, want %s", e, ReasonDPoPBadSignature)
	}
	if !strings.Contains(raw, ".") {
		t.Fatal("not a proof")
	}
}
