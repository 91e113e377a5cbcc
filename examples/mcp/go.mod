module github.com/wardenhq/warden/examples/mcp

go 1.26.0

toolchain go1.26.8

require (
	github.com/modelcontextprotocol/go-sdk v1.8.0
	github.com/wardenhq/warden v0.1.0
	golang.org/x/oauth2 v0.37.0
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/google/jsonschema-go v0.4.3 // indirect
	github.com/segmentio/asm v1.1.3 // indirect
	github.com/segmentio/encoding v0.5.4 // indirect
	github.com/yosida95/uritemplate/v3 v3.0.2 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sync v0.20.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

// The repository's own modules resolve to their directories here, so a clone
// builds as it stands. A replace applies only in the main module: users get
// the versions required in this file. See README, "Modules and releases".
replace github.com/wardenhq/warden => ../..
