package warden_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"

	"github.com/wardenhq/warden/wardentest"
)

// signInput signs an arbitrary signing input (already base64url-encoded
// segments, possibly hostile) and appends the signature segment.
func signInput(alg, input string, key any) string {
	sig, err := jwt.GetSigningMethod(alg).Sign(input, key)
	if err != nil {
		panic(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// atkHeaderJSON is T0's header as raw JSON.
const atkHeaderJSON = `{"alg":"RS256","typ":"at+jwt","kid":"k1"}`

// atkStdPayload returns T0's claims whose standard-alphabet base64 differs
// from their base64url form (it contains '+' or '/').
func atkStdPayload(fx *atkFixture) string {
	for i := 0; i < 1000; i++ {
		p := fx.claimsJSON(map[string]any{"pad": strings.Repeat("?", i%7) + ">>~~"})
		if s := base64.RawStdEncoding.EncodeToString([]byte(p)); strings.ContainsAny(s, "+/") {
			return s
		}
	}
	panic("no payload with '+' or '/' in standard base64")
}

// atkNonCanonical re-encodes seg so its last character carries non-zero
// trailing bits: the same bytes under lenient decoding (wycheproof tc375).
func atkNonCanonical(raw string) string {
	for len(raw)%3 == 0 { // a multiple of 3 bytes has no trailing bits
		raw += " "
	}
	seg := base64.RawURLEncoding.EncodeToString([]byte(raw))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[last+1])
}

// atkDERSignature turns a raw r‖s ES256 signature segment into ASN.1 DER.
func atkDERSignature(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	raw, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
	der, _ := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])})
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(der)
}

// atkSelfSigned returns a DER certificate for key, for an x5c header.
func atkSelfSigned(key crypto.Signer) []byte {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"},
		NotBefore: time.Unix(1_700_000_000, 0), NotAfter: time.Unix(1_900_000_000, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic(err)
	}
	return der
}

// atkTokenRows are table section B: the structure of the token.
func atkTokenRows(fx *atkFixture) []atkRow {
	t0 := fx.t0
	h, p, s := atkSplit(t0)
	tok := func(desc string) ([]string, string) { return tokChallenge(desc), tokBody(desc) }
	malC, malB := tok(descMalformed)
	sigC, sigB := tok(descSig)
	bearer := func(tok string) []string { return []string{"Bearer " + tok} }
	k1 := fx.k1.Signer
	claims := fx.claimsJSON(nil)
	sigBytes, _ := base64.RawURLEncoding.DecodeString(s)
	sigBytes[10] ^= 1 // one signature bit flipped, still canonical base64url
	flipped := base64.RawURLEncoding.EncodeToString(sigBytes)
	edited := strings.Replace(claims, `"sub":"user1"`, `"sub":"admin"`, 1)
	return []atkRow{
		{id: "B1", auth: bearer(h + "." + p), status: 401, challenges: malC, body: malB},
		{id: "B2a", auth: bearer(t0 + ".x"), status: 401, challenges: malC, body: malB},
		{id: "B2b", auth: bearer(b64(`{"alg":"RSA-OAEP","enc":"A256GCM","kid":"k1"}`) + ".a.b.c.d"), status: 401, challenges: malC, body: malB},
		// B3: refused by the 8 KiB cap before any splitting (CVE-2025-30204).
		{id: "B3", auth: bearer(strings.Repeat(".", 500_000)), status: 401, challenges: tokChallenge(descTooLarge), body: tokBody(descTooLarge)},
		// B4a: padding inside the token is outside b64token; B4b: padding on
		// the signature is refused by strict RawURLEncoding.
		{id: "B4a", auth: bearer(signInput("RS256", h+"."+p+"=", k1)), status: 401, challenges: malC, body: malB},
		{id: "B4b", auth: bearer(t0 + "=="), status: 401, challenges: sigC, body: sigB},
		{id: "B5", auth: bearer(signInput("RS256", h+"."+atkStdPayload(fx), k1)), status: 401, challenges: malC, body: malB},
		{id: "B6a", auth: bearer(signInput("RS256", b64("\ufeff"+atkHeaderJSON)+"."+p, k1)), status: 401, challenges: malC, body: malB},
		{id: "B6b", auth: bearer(signInput("RS256", b64("not json")+"."+p, k1)), status: 401, challenges: malC, body: malB},
		{id: "B7", auth: bearer(signInput("RS256", h+"."+b64(`["a"]`), k1)), status: 401, challenges: malC, body: malB},
		{id: "B8", auth: bearer(h + "." + p + "."), status: 401, challenges: sigC, body: sigB},
		{id: "B9a", auth: bearer(h + "." + p + "." + flipped), status: 401, challenges: sigC, body: sigB},
		{id: "B9b", auth: bearer(h + "." + b64(edited) + "." + s), status: 401, challenges: sigC, body: sigB},
		// B10: JSON serialisation: '{' and '"' are outside b64token.
		{id: "B10", auth: bearer(`{"payload":"` + p + `","signatures":[{"protected":"` + h + `","signature":"` + s + `"}]}`), status: 401, challenges: malC, body: malB},
		// ECDSA signatures are malleable: (r, n-s) verifies like (r, s)
		// (Go's ecdsa does not enforce low-S, nor does RFC 7518). The claims
		// are still exactly what the issuer signed; use jti, never the raw
		// token bytes, to detect replays. SECURITY.md lists this.
		{id: "B-malleable", note: "documented limitation", auth: bearer(atkMalleate(fx.token(map[string]any{"alg": "ES256", "kid": "e1"}, nil))), status: 200, body: echoBody("user1", "c1", "Bearer", "")},
		{id: "B11a", auth: bearer(signInput("RS256", h+"."+atkNonCanonical(claims), k1)), status: 401, challenges: malC, body: malB},
		{id: "B11b", auth: bearer(signInput("RS256", atkNonCanonical(atkHeaderJSON)+"."+p, k1)), status: 401, challenges: malC, body: malB},
	}
}

// atkMalleate rewrites an ES256 token's signature (r, s) as (r, n-s).
func atkMalleate(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	raw, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
	n := elliptic.P256().Params().N
	s := new(big.Int).Sub(n, new(big.Int).SetBytes(raw[32:]))
	out := append(raw[:32:32], s.FillBytes(make([]byte, 32))...)
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(out)
}

func atkSplit(tok string) (h, p, s string) {
	parts := strings.SplitN(tok, ".", 3)
	return parts[0], parts[1], parts[2]
}

// atkAlgRows are table section C: algorithm and header attacks. The
// counter must see no request: jku, x5u, x5c and jwk are never used.
func atkAlgRows(fx *atkFixture, counter *hitCounter) []atkRow {
	claims := fx.claimsJSON(nil)
	p := b64(claims)
	tok := func(desc string) ([]string, string) { return tokChallenge(desc), tokBody(desc) }
	algC, algB := tok(descAlg)
	kidC, kidB := tok(descKID)
	sigC, sigB := tok(descSig)
	malC, malB := tok(descMalformed)
	bearer := func(tok string) []string { return []string{"Bearer " + tok} }
	ok := echoBody("user1", "c1", "Bearer", "")

	pub := fx.k1.Signer.Public().(*rsa.PublicKey)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hs := func(header string, key []byte) string { return signInput("HS256", b64(header)+"."+p, key) }

	attackerEC := wardentest.NewECKey("e1")
	attackerRSA := spareRSAKey("k1")
	ecJWK := attackerEC.JWK()
	esHeader := func(extra string) string { return `{"alg":"ES256","typ":"at+jwt","kid":"e1"` + extra + `}` }
	zeroSig := b64(esHeader("")) + "." + p + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64))
	jwkHeader := esHeader(`,"jwk":{"kty":"EC","crv":"P-256","x":"` + ecJWK["x"].(string) + `","y":"` + ecJWK["y"].(string) + `"}`)
	jkuHeader := `{"alg":"ES256","typ":"at+jwt","kid":"atk","jku":"` + counter.URL + `/jwks"}`
	x5cHeader := `{"alg":"RS256","typ":"at+jwt","kid":"k1","x5c":["` + base64.StdEncoding.EncodeToString(atkSelfSigned(attackerRSA.Signer)) + `"],"x5u":"` + counter.URL + `/cert"}`
	emptyKeyHMAC := func(header string) string {
		input := b64(header) + "." + p
		m := hmac.New(sha256.New, nil)
		m.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	ecKey := fx.e1.Signer.(*ecdsa.PrivateKey)

	return []atkRow{
		{id: "C1", auth: bearer("eyJhbGciOiJub25lIn0." + p + "."), status: 401, challenges: algC, body: algB},
		{id: "C2a", auth: bearer(b64(`{"alg":"None","typ":"at+jwt","kid":"k1"}`) + "." + p + "."), status: 401, challenges: algC, body: algB},
		{id: "C2b", auth: bearer(b64(`{"alg":"NONE","typ":"at+jwt","kid":"k1"}`) + "." + p + "."), status: 401, challenges: algC, body: algB},
		{id: "C2c", auth: bearer(b64(`{"alg":"nOnE","typ":"at+jwt","kid":"k1"}`) + "." + p + "."), status: 401, challenges: algC, body: algB},
		{id: "C3a", auth: bearer(hs(`{"alg":"HS256","kid":"k1","typ":"at+jwt"}`, pemBytes)), status: 401, challenges: algC, body: algB},
		{id: "C3b", auth: bearer(hs(`{"alg":"HS256","kid":"k1","typ":"at+jwt"}`, der)), status: 401, challenges: algC, body: algB},
		{id: "C3c", auth: bearer(hs(`{"alg":"HS256","kid":"k1","typ":"at+jwt"}`, pub.N.Bytes())), status: 401, challenges: algC, body: algB},
		{id: "C4", auth: bearer(hs(`{"alg":"HS256","typ":"at+jwt"}`, pemBytes)), status: 401, challenges: algC, body: algB},
		// C5: k1's JWK says alg RS256, so a PS256 token finds no fitting key.
		{id: "C5", auth: bearer(fx.k1.Sign("PS256", []byte(`{"alg":"PS256","typ":"at+jwt"}`), []byte(claims))), status: 401, challenges: kidC, body: kidB},
		{id: "C6", auth: bearer(zeroSig), status: 401, challenges: sigC, body: sigB},
		{id: "C7", auth: bearer(atkDERSignature(signInput("ES256", b64(esHeader(""))+"."+p, ecKey))), status: 401, challenges: sigC, body: sigB},
		{id: "C8a", auth: bearer(signInput("RS256", b64(`{"typ":"at+jwt","kid":"k1"}`)+"."+p, fx.k1.Signer)), status: 401, challenges: malC, body: malB},
		{id: "C8b", auth: bearer(signInput("RS256", b64(`{"alg":256,"typ":"at+jwt","kid":"k1"}`)+"."+p, fx.k1.Signer)), status: 401, challenges: malC, body: malB},
		{id: "C9", auth: bearer(signInput("RS256", b64(`{"alg":"RS256","typ":"at+jwt","kid":"k1","crit":["foo"],"foo":1}`)+"."+p, fx.k1.Signer)), status: 401, challenges: tokChallenge(descHeader), body: tokBody(descHeader)},
		{id: "C10", auth: bearer(attackerEC.Sign("ES256", []byte(jwkHeader), []byte(claims))), status: 401, challenges: sigC, body: sigB},
		{id: "C11", auth: bearer(attackerEC.Sign("ES256", []byte(jkuHeader), []byte(claims))), status: 401, challenges: kidC, body: kidB},
		{id: "C12", auth: bearer(attackerRSA.Sign("RS256", []byte(x5cHeader), []byte(claims))), status: 401, challenges: sigC, body: sigB},
		{id: "C13", auth: bearer(emptyKeyHMAC(`{"alg":"HS256","typ":"at+jwt","kid":"../../../../dev/null"}`)), status: 401, challenges: algC, body: algB},
		{id: "C14a", auth: bearer(signInput("RS256", b64(`{"alg":"RS256","typ":"at+jwt","kid":"' OR '1'='1"}`)+"."+p, fx.k1.Signer)), status: 401, challenges: kidC, body: kidB},
		{id: "C14b", auth: bearer(signInput("RS256", b64(`{"alg":"RS256","typ":"at+jwt","kid":"`+strings.Repeat("k", 10<<10)+`"}`)+"."+p, fx.k1.Signer)), status: 401, challenges: tokChallenge(descTooLarge), body: tokBody(descTooLarge)},
		{id: "C14c", auth: bearer(signInput("RS256", b64(`{"alg":"RS256","typ":"at+jwt","kid":"`+strings.Repeat("k", 4<<10)+`"}`)+"."+p, fx.k1.Signer)), status: 401, challenges: kidC, body: kidB},
		{id: "C15a", auth: bearer(signInput("RS256", b64(`{"alg":"RS256","typ":"at+jwt","kid":123}`)+"."+p, fx.k1.Signer)), status: 401, challenges: malC, body: malB},
		{id: "C15b", auth: bearer(signInput("RS256", b64(`{"alg":"RS256","typ":"at+jwt","kid":{"a":1}}`)+"."+p, fx.k1.Signer)), status: 401, challenges: malC, body: malB},
		// C16 [POLICY]: issue 3 decides a token without kid is tried against
		// the single key that fits its alg while the set holds at most four
		// keys; the fit includes the JWK's own alg, which closes the hole
		// the table warns of (C5).
		{id: "C16", note: "issue 3: 200", auth: bearer(signInput("RS256", b64(`{"alg":"RS256","typ":"at+jwt"}`)+"."+p, fx.k1.Signer)), status: 200, body: ok},
		// C17: duplicate header members: the last wins, as in encoding/json;
		// the signature covers the raw bytes either way.
		{id: "C17", auth: bearer(signInput("RS256", b64(`{"alg":"none","alg":"RS256","typ":"at+jwt","kid":"k1"}`)+"."+p, fx.k1.Signer)), status: 200, body: ok},
		{id: "C-kid-wrong-type", note: "kid e1 names an EC key; RS256 does not fit it", auth: bearer(signInput("RS256", b64(`{"alg":"RS256","typ":"at+jwt","kid":"e1"}`)+"."+p, fx.k1.Signer)), status: 401, challenges: kidC, body: kidB},
	}
}

// TestAttackToken runs table section B.
func TestAttackToken(t *testing.T) {
	t.Parallel()
	fx := newAtkFixture(t)
	atkRun(t, fx, atkTokenRows(fx))
}

// TestAttackAlgorithm runs table section C and proves that no header made
// warden contact the URL it names.
func TestAttackAlgorithm(t *testing.T) {
	t.Parallel()
	fx := newAtkFixture(t)
	counter := newHitCounter(t)
	atkRun(t, fx, atkAlgRows(fx, counter))
	assert.Zero(t, counter.hits.Load(), "requests to the jku/x5u listener")
}

// TestAttackJWKSHeaderURLs proves that with a remote key source too, jku,
// x5u, x5c and jwk headers never make warden fetch anything but its own
// configured JWKS URL.
func TestAttackJWKSHeaderURLs(t *testing.T) {
	t.Parallel()
	fx := newAtkFixture(t)
	j := wardentest.NewJWKSServer(t, fx.k1, fx.e1)
	mw, _ := fx.newRemote(t, j.URL, nil)
	counter := newHitCounter(t)
	atk := spareRSAKey("atk")
	jwk, _ := json.Marshal(atk.JWK())
	for i, extra := range []string{
		`"jku":"` + counter.URL + `/jwks"`,
		`"x5u":"` + counter.URL + `/cert"`,
		`"x5c":["` + base64.StdEncoding.EncodeToString(atkSelfSigned(atk.Signer)) + `"]`,
		`"jwk":` + string(jwk),
	} {
		fx.clock.Advance(time.Minute) // let each unknown kid trigger its own refresh
		hdr := `{"alg":"RS256","typ":"at+jwt","kid":"atk",` + extra + `}`
		tok := atk.Sign("RS256", []byte(hdr), []byte(fx.claimsJSON(nil)))
		fx.expect(t, mw, "header-"+string(rune('a'+i)), tok, 401, descKID)
	}
	assert.Zero(t, counter.hits.Load(), "requests to the URL named in a token header")
}
