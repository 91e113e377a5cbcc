package warden

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
)

// linearDoc returns a JWK Set of withKID keys that have a kid and withoutKID
// keys that have none, all distinct P-256 keys.
func linearDoc(tb testing.TB, withKID, withoutKID int) []byte {
	tb.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	keys := make([]map[string]string, 0, withKID+withoutKID)
	for i := range withKID + withoutKID {
		k, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		pt := k.PublicKey().Bytes() // 0x04 || X || Y
		jwk := map[string]string{"kty": "EC", "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:])}
		if i < withKID {
			jwk["kid"] = "k" + strconv.Itoa(i)
		}
		keys = append(keys, jwk)
	}
	// Kid-less keys first: the order that made the old search longest.
	keys = append(keys[withKID:], keys[:withKID]...)
	doc, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

// linearDocs caches the big documents: generating 40,000 keys takes a while.
var linearDocs sync.Map // "withKID/withoutKID" → []byte

func cachedLinearDoc(tb testing.TB, withKID, withoutKID int) []byte {
	tb.Helper()
	key := strconv.Itoa(withKID) + "/" + strconv.Itoa(withoutKID)
	if doc, ok := linearDocs.Load(key); ok {
		return doc.([]byte)
	}
	doc := linearDoc(tb, withKID, withoutKID)
	linearDocs.Store(key, doc)
	return doc
}

// TestKeepUnchangedLinear checks issue 10, defect 10: a refresh compares
// each fetched key with at most one held key (the one with its kid), plus
// at most maxKeysWithoutKID² comparisons among kid-less keys, which only a
// small set keeps. It counts the comparisons instead of timing them.
func TestKeepUnchangedLinear(t *testing.T) {
	t.Parallel()
	n := 20_000
	if testing.Short() {
		n = 2_000
	}
	for _, tc := range []struct {
		name              string
		withKID, withoutK int
	}{
		{"large set, half without kid", n, n},
		{"small set, all without kid", 0, maxKeysWithoutKID},
		{"small set, mixed", 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := cachedLinearDoc(t, tc.withKID, tc.withoutK)
			prev, err := parseJWKS(doc)
			if err != nil {
				t.Fatal(err)
			}
			next, err := parseJWKS(doc)
			if err != nil {
				t.Fatal(err)
			}
			comparisons := 0
			next.keep(prev, func(a, b *verificationKey) bool {
				comparisons++
				return sameKey(a, b)
			})
			if bound := len(next.all) + maxKeysWithoutKID*maxKeysWithoutKID; comparisons > bound {
				t.Fatalf("%d keys: %d comparisons, want at most %d", len(next.all), comparisons, bound)
			}
			// Every key is unchanged, so every one must be the held pointer.
			for i, k := range next.all {
				if !prev.holds(k) {
					t.Fatalf("key %d (kid %q) was not kept", i, k.kid)
				}
			}
			for kid, k := range next.byKID {
				if prev.byKID[kid] != k {
					t.Fatalf("byKID[%q] is not the held key", kid)
				}
			}
			want := tc.withKID // a large set keeps no key without kid
			if tc.withKID+tc.withoutK <= maxKeysWithoutKID {
				want += tc.withoutK
			}
			if len(next.all) != want {
				t.Fatalf("the set kept %d keys, want %d", len(next.all), want)
			}
		})
	}
}

// BenchmarkJWKSRefresh measures parsing a fetched JWK Set and matching it
// against the held one, as every refresh does; ns/op must grow linearly
// with the number of keys.
func BenchmarkJWKSRefresh(b *testing.B) {
	for _, n := range []int{500, 2_000, 8_000} {
		doc := cachedLinearDoc(b, n, n)
		prev, err := parseJWKS(doc)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("keys="+strconv.Itoa(2*n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				next, err := parseJWKS(doc)
				if err != nil {
					b.Fatal(err)
				}
				next.keepUnchanged(prev)
			}
		})
	}
}

// BenchmarkKeySetHolds measures the check a token-cache hit makes that its
// key is still in the set: it must not grow with the set.
func BenchmarkKeySetHolds(b *testing.B) {
	for _, n := range []int{4, 1_000, 8_000} {
		set, err := parseJWKS(cachedLinearDoc(b, n, 0))
		if err != nil {
			b.Fatal(err)
		}
		last := set.all[len(set.all)-1]
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				if !set.holds(last) {
					b.Fatal("key not held")
				}
			}
		})
	}
}
