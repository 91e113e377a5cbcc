module github.com/wardenhq/warden/examples/echo

go 1.26.0

toolchain go1.26.8

require (
	github.com/labstack/echo/v4 v4.16.0
	github.com/wardenhq/warden v0.0.0-00010101000000-000000000000
	github.com/wardenhq/warden/adapters/echo v0.0.0-00010101000000-000000000000
)

require (
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

replace (
	github.com/wardenhq/warden => ../..
	github.com/wardenhq/warden/adapters/echo => ../../adapters/echo
)
