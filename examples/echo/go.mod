module github.com/wardenhq/warden/examples/echo

go 1.26.0

toolchain go1.26.8

require (
	github.com/labstack/echo/v4 v4.16.0
	github.com/wardenhq/warden v0.1.0
	github.com/wardenhq/warden/adapters/echo v0.1.0
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/labstack/gommon v0.5.0 // indirect
	github.com/mattn/go-colorable v0.1.15 // indirect
	github.com/mattn/go-isatty v0.0.22 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasttemplate v1.2.2 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

// The repository's own modules resolve to their directories here, so a clone
// builds as it stands. A replace applies only in the main module: users get
// the versions required in this file. See README, "Modules and releases".
replace (
	github.com/wardenhq/warden => ../..
	github.com/wardenhq/warden/adapters/echo => ../../adapters/echo
)
