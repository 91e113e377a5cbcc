// Package conformance proves that warden behaves identically behind every
// supported router: net/http's ServeMux and chi (which take warden's
// func(http.Handler) http.Handler middleware as it is), Gin (through
// adapters/gin) and Echo (through adapters/echo). Its test sends one table
// of requests to a real server built with each and compares the raw
// responses byte for byte. The package holds no code of its own; it is a
// separate module so that the core module never depends on any framework.
package conformance
