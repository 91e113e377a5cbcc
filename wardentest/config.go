package wardentest

import "github.com/wardenhq/warden"

// Config returns a warden.Config that trusts the issuer: its URL as Issuer,
// its Audience, its JWK Set URL (so rotations are fetched as from a real
// issuer) and its clock as Now, so a clock set with SetClock governs both
// the tokens and their verification. Add Clients, Realm and the rest as the
// test needs.
func (i *Issuer) Config() warden.Config {
	return warden.Config{Issuers: []warden.IssuerConfig{{URL: i.URL, Audience: i.Audience, JWKSURL: i.JWKSURL()}}, Now: i.Now}
}

// StaticConfig is Config with the issuer's current public keys given as a
// static JWK Set instead of a URL: no key is ever fetched, so later
// rotations are not seen.
func (i *Issuer) StaticConfig() warden.Config {
	return warden.Config{Issuers: []warden.IssuerConfig{{URL: i.URL, Audience: i.Audience, JWKS: JWKS(i.Keys()...)}}, Now: i.Now}
}
