package jwks

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/MicahParks/jwkset"
)

// KeyReport is what Parse makes of one member of a JWK Set's "keys", for
// people (the token doctor, cmd/warden keys).
type KeyReport struct {
	Index              int
	KID, KTY, Alg, Use string
	Curve              string // crv, for EC and OKP keys
	Bits               int    // the RSA modulus size, or the curve's size
	Usable             bool
	// Why says why the key is not used: skipped (the rest of the set is
	// still good) or, with Rejects, why the whole set is refused.
	Why     string
	Rejects bool
}

// curveBits is the size of each curve warden knows.
var curveBits = map[jwkset.CRV]int{jwkset.CrvP256: 256, jwkset.CrvP384: 384, jwkset.CrvP521: 521, jwkset.CrvEd25519: 256}

// Inspect reports on every member of doc's "keys" what Parse makes of it,
// with the same judgement, and returns the error for which Parse refuses
// the whole set, or nil.
func Inspect(doc []byte) ([]KeyReport, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("JWK Set is not valid JSON: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`JWK Set has no "keys" array`)
	}
	var out []KeyReport
	var setErr error
	usable := 0
	seen := map[string]bool{}
	for i, raw := range set.Keys {
		j := judgeKey(i, raw, seen)
		m := j.jwk
		r := KeyReport{Index: i, KID: m.KID, KTY: string(m.KTY), Alg: string(m.ALG), Use: string(m.USE), Curve: string(m.CRV),
			Bits: curveBits[m.CRV], Usable: j.key != nil, Why: j.skip}
		if n, err := jwkUint(m.N); m.KTY == jwkset.KtyRSA && err == nil {
			r.Bits = n.BitLen()
		}
		if j.key != nil {
			if pk, ok := j.key.Public.(*rsa.PublicKey); ok {
				r.Bits = pk.N.BitLen()
			}
			usable++
		}
		if j.err != nil {
			r.Why, r.Rejects = j.err.Error(), true
			setErr = cmpFirst(setErr, j.err)
		}
		out = append(out, r)
	}
	if usable > maxKeysWithoutKID {
		for i := range out {
			if out[i].Usable && out[i].KID == "" {
				out[i].Usable = false
				out[i].Why = fmt.Sprintf("no kid, in a set of more than %d keys: no token can select it", maxKeysWithoutKID)
			}
		}
	}
	return out, setErr
}

func cmpFirst(prev, err error) error {
	if prev != nil {
		return prev
	}
	return err
}
