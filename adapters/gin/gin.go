// Package wardengin adapts warden middleware to the Gin web framework.
//
// Warden's middleware has the net/http shape func(http.Handler) http.Handler,
// so net/http and chi use it as it is; Gin needs this shim because its chain
// is a list of gin.HandlerFunc driven by (*gin.Context).Next. The adapter
// keeps warden in charge of every refusal: warden writes the status,
// WWW-Authenticate, Cache-Control and body itself, and the adapter only stops
// the rest of the Gin chain, so a refusal through Gin is byte-identical to the
// same refusal through net/http.
package wardengin

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/wardenhq/warden"
)

// New turns warden middleware (m.Authenticate, m.Require(...), m.Optional,
// m.Accept(...).Require(...)) into a gin.HandlerFunc:
//
//	r.GET("/entries", wardengin.New(m.Require(warden.Scopes("Entry_Read"))), listEntries)
//
// When the request is let through, the handlers after it run with
// c.Request carrying the principal, so warden.PrincipalFrom(c.Request.Context())
// (or Principal(c)) finds it. When it is refused, the chain is aborted
// without writing anything more: the response is exactly the one warden wrote.
//
// mw is applied to a fresh next handler on every request, because the Gin
// context differs per request; warden's Require and RequireAny compile the
// route once, when they are called, so applying the result is cheap.
func New(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	if mw == nil {
		panic("wardengin: New needs a middleware")
	}
	return func(c *gin.Context) {
		passed := false
		mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r // the request whose context holds the principal
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
		if !passed {
			// Refused: warden already wrote the whole response. Abort, not
			// AbortWithStatus, so Gin writes nothing of its own.
			c.Abort()
		}
	}
}

// Principal returns the principal warden authenticated for c's request. It
// is warden.PrincipalFrom(c.Request.Context()).
func Principal(c *gin.Context) (*warden.Principal, bool) {
	if c == nil || c.Request == nil {
		return nil, false
	}
	return warden.PrincipalFrom(c.Request.Context())
}
