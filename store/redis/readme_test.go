package redis_test

import (
	goredis "github.com/redis/go-redis/v9"
	"github.com/wardenhq/warden"
	redisstore "github.com/wardenhq/warden/store/redis"
)

// readmeDPoP is the README's block on DPoP with a replay store shared by a
// fleet, which the README quotes (TestReadmeBlocksAreCompiled in the core).
func readmeDPoP(rdb *goredis.Client, nonceKey []byte) (*warden.Middleware, error) {
	// import redisstore "github.com/wardenhq/warden/store/redis"
	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{URL: "https://idp.example", Audience: "https://api.example"}},
		DPoP: warden.DPoPConfig{
			Mode:        warden.DPoPRequired,                       // only DPoP-bound tokens on Bearer routes
			PublicURL:   "https://api.example",                     // what clients put in htu
			NonceKey:    nonceKey,                                  // 32 random bytes, the same on every replica: server nonces on
			ReplayStore: redisstore.New(rdb, redisstore.Options{}), // one store for the fleet
		},
	})
	// in a handler: p.Scheme() == warden.SchemeDPoP, p.Confirmation().JKT is the key's thumbprint
	return mw, err
}

var _ = readmeDPoP
