// Package wardenecho adapts warden middleware to the Echo web framework.
//
// Warden's middleware has the net/http shape func(http.Handler) http.Handler,
// so net/http and chi use it as it is; Echo needs this shim because its chain
// is built from echo.MiddlewareFunc and handlers that return errors. The
// adapter keeps warden in charge of every refusal: warden writes the status,
// WWW-Authenticate, Cache-Control and body itself, and the adapter returns nil
// without calling the next handler, so Echo's HTTPErrorHandler never runs and
// a refusal through Echo is byte-identical to the same refusal through
// net/http.
package wardenecho

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/wardenhq/warden"
)

// New turns warden middleware (m.Authenticate, m.Require(...), m.Optional,
// m.Accept(...).Require(...)) into an echo.MiddlewareFunc:
//
//	e.GET("/entries", listEntries, wardenecho.New(m.Require(warden.Scopes("Entry_Read"))))
//
// When the request is let through, next runs with c.Request() carrying the
// principal, so warden.PrincipalFrom(c.Request().Context()) (or Principal(c))
// finds it, and next's error is returned to Echo as usual. When it is
// refused, New returns nil: the response is exactly the one warden wrote.
//
// mw is applied to a fresh next handler on every request, because the Echo
// context differs per request; warden's Require and RequireAny compile the
// route once, when they are called, so applying the result is cheap.
func New(mw func(http.Handler) http.Handler) echo.MiddlewareFunc {
	if mw == nil {
		panic("wardenecho: New needs a middleware")
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			var err error
			mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				c.SetRequest(r) // the request whose context holds the principal
				err = next(c)
			})).ServeHTTP(c.Response(), c.Request())
			return err
		}
	}
}

// Principal returns the principal warden authenticated for c's request. It
// is warden.PrincipalFrom(c.Request().Context()).
func Principal(c echo.Context) (*warden.Principal, bool) {
	if c == nil || c.Request() == nil {
		return nil, false
	}
	return warden.PrincipalFrom(c.Request().Context())
}
