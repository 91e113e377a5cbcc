// Package conformance proves that warden behaves identically behind every
// supported router and transport: net/http's ServeMux and chi (which take
// warden's func(http.Handler) http.Handler middleware as it is), Gin
// (through adapters/gin), Echo (through adapters/echo), net/http with the
// issuer's keys from a keyfunc.Keyfunc (IssuerConfig.Keyfunc), and gRPC
// (through adapters/grpc). Its test sends one table of requests to a real
// server built with each, compares the raw HTTP responses byte for byte and
// the decisions' reasons, and requires the gRPC answer (status code,
// message, www-authenticate trailer, principal) to be what the HTTP
// response maps to. The package holds no code of its own; it is a separate
// module so that the core module never depends on any framework.
package conformance
