package warden_test

import (
	"context"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// revStubStore answers every Contains with revoked, or fails with err.
type revStubStore struct {
	revoked bool
	err     error
}

func (s revStubStore) Claim(context.Context, string, time.Time) (bool, error) { return s.err == nil, s.err }
func (s revStubStore) Contains(context.Context, string) (bool, error)         { return s.revoked, s.err }

// introDecisionConfig sets the first issuer to introspect opaque tokens at
// endpoint as client "rs", which it registers with iss.
func introDecisionConfig(iss *wardentest.Issuer, endpoint string) func(*warden.Config) {
	iss.AddClient(wardentest.Client{ID: "rs", Secret: "rs-secret"})
	return func(c *warden.Config) {
		c.Issuers[0].Introspection = warden.Introspection{Endpoint: endpoint, ClientID: "rs", ClientSecret: "rs-secret", Timeout: 2 * time.Second}
	}
}
