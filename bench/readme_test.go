package bench_test

import (
	"context"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/wardenhq/warden"
)

// readmeKeyfunc is the README's block on keyfunc, which the README quotes
// (TestReadmeBlocksAreCompiled in the core); BenchmarkKeyfunc measures it.
func readmeKeyfunc(ctx context.Context) (*warden.Middleware, error) {
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{"https://idp.example/jwks.json"}) // as the service runs it today
	if err != nil {
		return nil, err
	}
	return warden.New(warden.Config{Issuers: []warden.IssuerConfig{{
		URL:      "https://idp.example",
		Audience: "https://api.example",
		Keyfunc:  kf.Keyfunc, // the issuer's keys from keyfunc, instead of discovery
	}}})
}

var _ = readmeKeyfunc
