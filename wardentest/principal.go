package wardentest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/wardenhq/warden"
)

// WithPrincipal returns a copy of ctx holding the principal of tok, for
// unit tests of handlers that read warden.PrincipalFrom, check with
// Middleware.Authorize, or are gRPC methods: call the handler with the
// context (r.WithContext for an http.Handler), without a middleware in
// front of it.
//
// The principal is genuine: the issuer mints tok and a real
// warden.Middleware verifies it, with the issuer's current keys and clock,
// any audience, vendor act_as honoured, and any DPoP key or certificate of
// tok proved.
// warden has no exported setter, so production code still cannot forge
// one. A token the Middleware refuses (expired, say) is an error: test
// refusals through the middleware itself.
func (i *Issuer) WithPrincipal(ctx context.Context, tok Token) (context.Context, error) {
	raw := i.Mint(tok)
	mw, err := warden.New(warden.Config{
		// Any audience: which ones a route accepts is the middleware's
		// test, not the handler's.
		Issuers: []warden.IssuerConfig{{URL: i.URL, SkipAudienceCheck: true, JWKS: JWKS(i.Keys()...), ActAs: true}},
		Now:     i.Now,
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return ctx, fmt.Errorf("wardentest: WithPrincipal: %w", err)
	}
	defer mw.Close()
	call := warden.Call{Authorization: []string{"Bearer " + raw}, Method: http.MethodPost, URI: "https://wardentest.invalid/"}
	if tok.DPoPKey != nil {
		call.Authorization[0] = "DPoP " + raw
		call.DPoP = []string{tok.DPoPKey.Proof(Proof{Method: call.Method, URL: call.URI, AccessToken: raw, IssuedAt: i.Now()})}
	}
	if tok.Certificate != nil {
		call.PeerCertificate = tok.Certificate
	}
	out, e := mw.RequireCall()(ctx, call)
	if e != nil {
		return ctx, fmt.Errorf("wardentest: WithPrincipal: the token was refused: %w", e)
	}
	return out, nil
}
