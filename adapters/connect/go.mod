module github.com/wardenhq/warden/adapters/connect

go 1.26.0

toolchain go1.26.8

require (
	connectrpc.com/connect v1.21.1
	github.com/wardenhq/warden v0.1.0
	google.golang.org/protobuf v1.36.11
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

// The repository's own modules resolve to their directories here, so a clone
// builds as it stands. A replace applies only in the main module: users get
// the versions required in this file. See README, "Modules and releases".
replace github.com/wardenhq/warden => ../..
