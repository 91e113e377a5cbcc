package wardentest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wardenhq/warden/internal/jwks"
)

// Proof describes a DPoP proof (RFC 9449 §4.2) for Key.Proof. Zero fields
// take the defaults named; Header and Claims build proofs no well-behaved
// client would send.
type Proof struct {
	// Method is the htm claim. Default "GET".
	Method string
	// URL is the htu claim, written as given.
	URL string
	// AccessToken, when set, is hashed into the ath claim (RFC 9449 §4.2),
	// as every proof sent to a resource server needs.
	AccessToken string
	// Nonce, when set, is the nonce claim: the server's DPoP-Nonce.
	Nonce string
	// IssuedAt is the iat claim. Default: now.
	IssuedAt time.Time
	// Header members are merged over {"typ": "dpop+jwt", "alg": Key.Alg,
	// "jwk": the key's public JWK}; a nil value removes a member.
	Header map[string]any
	// Claims are merged over {"jti": random, "htm", "htu", "iat", "ath",
	// "nonce"}; a nil value removes a claim.
	Claims Claims
}

// Proof signs a DPoP proof with the key, for the DPoP header of a request.
func (k *Key) Proof(p Proof) string {
	iat := p.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	claims := Claims{"jti": randomID(), "htm": p.Method, "htu": p.URL, "iat": iat.Unix()}
	if p.Method == "" {
		claims["htm"] = http.MethodGet
	}
	if p.AccessToken != "" {
		sum := sha256.Sum256([]byte(p.AccessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if p.Nonce != "" {
		claims["nonce"] = p.Nonce
	}
	merge(claims, p.Claims)
	header := map[string]any{"typ": "dpop+jwt", "alg": k.Alg, "jwk": publicJWK(k.Signer.Public())}
	merge(header, p.Header)
	hb, _ := json.Marshal(header)
	pb, _ := json.Marshal(claims)
	alg, _ := header["alg"].(string)
	return k.Sign(alg, hb, pb)
}

func merge(dst, src map[string]any) {
	for name, v := range src {
		if v == nil {
			delete(dst, name)
		} else {
			dst[name] = v
		}
	}
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the key's public
// JWK: the cnf "jkt" of a token bound to the key (RFC 9449 §6.1).
func (k *Key) Thumbprint() string { return thumbprint(k.Signer.Public()) }

// publicJWK returns the members of a public key's JWK that RFC 7638 hashes.
func publicJWK(pub crypto.PublicKey) map[string]any {
	m := (&Key{Signer: fixedPublic{pub}}).JWK()
	for _, name := range []string{"kid", "alg", "use"} {
		delete(m, name)
	}
	return m
}

// fixedPublic lets JWK render a bare public key.
type fixedPublic struct{ pub crypto.PublicKey }

func (f fixedPublic) Public() crypto.PublicKey { return f.pub }
func (fixedPublic) Sign(_ io.Reader, _ []byte, _ crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("wardentest: public key only")
}

// thumbprint is RFC 7638 §3: SHA-256 over the required members in
// lexicographic order, without whitespace.
func thumbprint(pub crypto.PublicKey) string {
	m := publicJWK(pub)
	var names []string
	switch pub.(type) {
	case *rsa.PublicKey:
		names = []string{"e", "kty", "n"}
	case *ecdsa.PublicKey:
		names = []string{"crv", "kty", "x", "y"}
	case ed25519.PublicKey:
		names = []string{"crv", "kty", "x"}
	default:
		panic("wardentest: unsupported key type")
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, name := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + name + `":"` + m[name].(string) + `"`)
	}
	b.WriteByte('}')
	sum := sha256.Sum256([]byte(b.String()))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// certThumbprint is the RFC 8705 §3.1 x5t#S256 of a certificate.
func certThumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// tokenProofWindow is how far the iat of a token request's proof may lie
// from the issuer's clock.
const tokenProofWindow = time.Minute

var errTokenProof = errors.New("invalid DPoP proof")

// tokenRequestKey checks the DPoP proof of a token request (RFC 9449 §5:
// htm POST, htu the token endpoint, a fresh iat, a public jwk that verifies
// the signature) and returns the thumbprint the token is bound to, or ""
// when the request carries no proof. It does not remember jtis: the test
// kit's token endpoint is not where replays are tested.
func (i *Issuer) tokenRequestKey(r *http.Request) (string, error) {
	proofs := r.Header.Values("DPoP")
	switch len(proofs) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", errTokenProof
	}
	parts := strings.Split(proofs[0], ".")
	if len(parts) != 3 {
		return "", errTokenProof
	}
	var header struct {
		Typ string          `json:"typ"`
		Alg string          `json:"alg"`
		JWK json.RawMessage `json:"jwk"`
	}
	var claims struct {
		HTM string `json:"htm"`
		HTU string `json:"htu"`
		JTI string `json:"jti"`
		IAT int64  `json:"iat"`
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if errors.Join(err1, err2, err3) != nil || json.Unmarshal(hb, &header) != nil || json.Unmarshal(pb, &claims) != nil {
		return "", errTokenProof
	}
	var private struct {
		D *string `json:"d"`
	}
	asymmetric := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
	if !strings.EqualFold(header.Typ, "dpop+jwt") || !slices.Contains(asymmetric, header.Alg) ||
		json.Unmarshal(header.JWK, &private) != nil || private.D != nil {
		return "", errTokenProof
	}
	set, err := jwks.Parse([]byte(`{"keys":[` + string(header.JWK) + `]}`))
	if err != nil {
		return "", errTokenProof
	}
	key, ok := set.Find("", false, header.Alg)
	if !ok || jwt.GetSigningMethod(header.Alg).Verify(parts[0]+"."+parts[1], sig, key.Public) != nil {
		return "", errTokenProof
	}
	htu, _, _ := strings.Cut(claims.HTU, "?")
	now := i.Now()
	if claims.HTM != http.MethodPost || htu != i.URL+"/oauth/token" || claims.JTI == "" ||
		claims.IAT < now.Add(-tokenProofWindow).Unix() || claims.IAT > now.Add(tokenProofWindow).Unix() {
		return "", errTokenProof
	}
	return thumbprint(key.Public), nil
}
