package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/MicahParks/jwkset"
)

// FuzzParseJWKS checks the JWK Set parser, whose input comes from the
// network: it must never panic, and every key it keeps must obey the
// policy parseJWKS documents, whatever the document: usable for
// verification by its use and key_ops, no private members, RSA within
// 2048-8192 bits and an odd e in [3, 2^31-1], Ed25519 canonical and not of
// small order, one key per kid, keys without kid only in a set small
// enough to search. Parsing the same document again and keeping unchanged
// keys must keep every one of them.
func FuzzParseJWKS(f *testing.F) {
	ec := ksEC()
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaPub := &ksRSA().PublicKey
	j := func(key any, members map[string]any) map[string]any { return ksJWK(f, key, members) }
	for _, doc := range [][]byte{
		ksSet(f, j(&ec.PublicKey, map[string]any{"kid": "e", "use": "sig", "alg": "ES256"}), j(edPub, map[string]any{"kid": "d"}), j(rsaPub, map[string]any{"kid": "r", "key_ops": []string{"verify"}})),
		ksSet(f, j(&ec.PublicKey, nil), j(edPub, nil)),
		ksSet(f, j(&ec.PublicKey, map[string]any{"key_ops": []string{"verify", "verify"}}), j(rsaPub, map[string]any{"use": "enc"})),
		ksSet(f, j(&ec.PublicKey, map[string]any{"d": "AAAA"}), map[string]any{"kty": "oct", "k": "c2VjcmV0"}),
		ksSet(f, ksEdJWK(make([]byte, 32), "small"), rsaJWK(rsaPub.N, []byte{1}, "e1")),
		[]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`),
		[]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""},{"kid":"a"},{"kid":"a"}]}`),
		[]byte(`{"keys":[]}`), []byte(`{"keys":null}`), []byte(`[]`), []byte(`{"keys":[1,"x",null,{}]}`),
	} {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		set, err := Parse(doc)
		if err != nil {
			if set != nil {
				t.Fatalf("an error (%v) and a set", err)
			}
			return
		}
		var raw struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(doc, &raw); err != nil || raw.Keys == nil {
			t.Fatalf("accepted a document encoding/json reads as no JWK Set: %v", err)
		}
		if len(set.all) > len(raw.Keys) {
			t.Fatalf("%d keys from %d JWKs", len(set.all), len(raw.Keys))
		}
		withKID := 0
		for _, k := range set.all {
			if k.KID == "" {
				if !set.searchable || len(set.all) > maxKeysWithoutKID {
					t.Fatalf("a key without kid kept in a set of %d keys", len(set.all))
				}
			} else {
				withKID++
				if set.byKID[k.KID] != k {
					t.Fatalf("kid %q does not map to its key", k.KID)
				}
			}
			if !set.Holds(k) {
				t.Fatalf("the set does not hold its key %q", k.KID)
			}
			switch pk := k.Public.(type) {
			case *rsa.PublicKey:
				if b := pk.N.BitLen(); b < minRSABits || b > maxRSABits || pk.N.Bit(0) == 0 || pk.E < 3 || pk.E > maxRSAExponent || pk.E%2 == 0 {
					t.Fatalf("RSA key of %d bits, e = %d kept", b, pk.E)
				}
			case ed25519.PublicKey:
				if err := checkEd25519Key(base64.RawURLEncoding.EncodeToString(pk)); err != nil {
					t.Fatalf("Ed25519 key kept: %v", err)
				}
			case *ecdsa.PublicKey:
			default:
				t.Fatalf("key of type %T kept", pk)
			}
		}
		if withKID != len(set.byKID) {
			t.Fatalf("%d keys with kid, %d in the index", withKID, len(set.byKID))
		}
		// Every kept key came from a JWK that may verify and holds no
		// private member.
		for _, r := range raw.Keys {
			var m jwkset.JWKMarshal
			if json.Unmarshal(r, &m) != nil || m.KID == "" {
				continue
			}
			if _, kept := set.byKID[m.KID]; kept && (!canVerify(&m) || hasPrivateMembers(&m)) {
				t.Fatalf("kid %q kept, though its use, key_ops or private members forbid it", m.KID)
			}
		}
		again, err := Parse(doc)
		if err != nil {
			t.Fatalf("the same document parsed once, then failed: %v", err)
		}
		again.KeepUnchanged(set)
		for _, k := range again.all {
			if !set.Holds(k) {
				t.Fatalf("key %q of an unchanged document was not kept", k.KID)
			}
		}
	})
}
