package wardentest

import (
	"encoding/base64"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// SignHMAC returns the compact JWS of header and payload (raw JSON) signed
// with an HMAC algorithm ("HS256", "HS384", "HS512") and secret, for issuers
// configured with warden.IssuerConfig.HMACSecret and for algorithm-confusion tests.
func SignHMAC(alg string, secret, header, payload []byte) string {
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	method := jwt.GetSigningMethod(alg)
	if method == nil {
		panic("wardentest: unknown algorithm " + alg)
	}
	sig, err := method.Sign(input, secret)
	if err != nil {
		panic(fmt.Sprintf("wardentest: signing with %s: %v", alg, err))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}
