package wardenecho_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/wardenhq/warden"
	wardenecho "github.com/wardenhq/warden/adapters/echo"
	"github.com/wardenhq/warden/wardentest"
)

func newMiddleware(t testing.TB, iss *wardentest.Issuer) *warden.Middleware {
	t.Helper()
	m, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: iss.URL, Audience: iss.Audience, JWKS: wardentest.JWKS(iss.Keys()...)}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

var errTeapot = echo.NewHTTPError(http.StatusTeapot, "teapot")

// chain records what ran around the adapter.
type chain struct {
	handler bool
	err     error // what the adapter returned to the middleware before it
	subject string
}

func newEcho(m *warden.Middleware, got *chain) *echo.Echo {
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { got.err = next(c); return got.err }
	})
	handler := func(c echo.Context) error {
		got.handler = true
		p, ok := wardenecho.Principal(c)
		q, qok := warden.PrincipalFrom(c.Request().Context())
		if !ok || !qok || p != q {
			return c.NoContent(http.StatusInternalServerError)
		}
		got.subject = p.Subject()
		if c.QueryParam("fail") != "" {
			return errTeapot // must reach Echo's error handler unchanged
		}
		return c.NoContent(http.StatusNoContent)
	}
	e.GET("/entries", handler, wardenecho.New(m.Require(warden.Scopes("Entry_Read"))))
	return e
}

func TestNew(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	m := newMiddleware(t, iss)
	tests := []struct {
		name, path, token string
		status            int
		challenged        bool
		passed            bool
		err               error
	}{
		{"no token", "/entries", "", http.StatusUnauthorized, true, false, nil},
		{"bad token", "/entries", "not-a-jwt", http.StatusUnauthorized, true, false, nil},
		{"scope missing", "/entries", iss.Scoped("Other"), http.StatusForbidden, true, false, nil},
		{"scope held", "/entries", iss.Scoped("Entry_Read"), http.StatusNoContent, false, true, nil},
		{"handler error", "/entries?fail=1", iss.Scoped("Entry_Read"), http.StatusTeapot, false, true, errTeapot},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got chain
			e := newEcho(m, &got)
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if challenged := rec.Header().Get("WWW-Authenticate") != ""; challenged != tc.challenged {
				t.Errorf("challenged %v, want %v", challenged, tc.challenged)
			}
			if got.handler != tc.passed {
				t.Errorf("handler ran %v, want %v", got.handler, tc.passed)
			}
			if !errors.Is(got.err, tc.err) {
				t.Errorf("adapter returned %v, want %v", got.err, tc.err)
			}
			if tc.passed && got.subject != "user-1" {
				t.Errorf("handler saw subject %q, want user-1", got.subject)
			}
		})
	}
}

func TestPrincipalWithoutWarden(t *testing.T) {
	if _, ok := wardenecho.Principal(nil); ok {
		t.Error("Principal(nil) reported a principal")
	}
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	if p, ok := wardenecho.Principal(c); ok || p != nil {
		t.Errorf("Principal = %v, %v without warden; want nil, false", p, ok)
	}
}

func TestNewNilPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(nil) did not panic")
		}
	}()
	wardenecho.New(nil)
}

// BenchmarkPass measures a request let through, via Echo and via net/http
// directly, so the adapter's own cost is the difference.
func BenchmarkPass(b *testing.B) {
	iss := wardentest.NewIssuer(b)
	m := newMiddleware(b, iss)
	token := "Bearer " + iss.Scoped("Entry_Read")
	e := echo.New()
	e.GET("/entries", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, wardenecho.New(m.Require(warden.Scopes("Entry_Read"))))
	mux := http.NewServeMux()
	mux.Handle("GET /entries", m.Require(warden.Scopes("Entry_Read"))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"net/http", mux}, {"echo", e}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/entries", nil)
			req.Header.Set("Authorization", token)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				bc.h.ServeHTTP(rec, req)
				if rec.Code != http.StatusNoContent {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
