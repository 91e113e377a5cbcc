module github.com/wardenhq/warden/store/redis

go 1.26.8

require (
	github.com/redis/go-redis/v9 v9.23.0
	github.com/wardenhq/warden v0.0.0
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

replace github.com/wardenhq/warden => ../..
