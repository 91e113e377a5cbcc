package wardengin_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/wardenhq/warden"
	wardengin "github.com/wardenhq/warden/adapters/gin"
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

// chain records which parts of a Gin chain ran around the adapter.
type chain struct {
	aborted, after, handler bool
	subject                 string
}

func newEngine(m *warden.Middleware, got *chain) *gin.Engine {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(func(c *gin.Context) { c.Next(); got.aborted = c.IsAborted() })
	r.GET("/entries", wardengin.New(m.Require(warden.Scopes("Entry_Read"))), func(c *gin.Context) { got.after = true }, func(c *gin.Context) {
		got.handler = true
		p, ok := wardengin.Principal(c)
		q, qok := warden.PrincipalFrom(c.Request.Context())
		if !ok || !qok || p != q {
			c.Status(http.StatusInternalServerError)
			return
		}
		got.subject = p.Subject()
		c.Status(http.StatusNoContent)
	})
	return r
}

func TestNew(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	m := newMiddleware(t, iss)
	tests := []struct {
		name       string
		token      string
		status     int
		challenged bool
		passed     bool
	}{
		{"no token", "", http.StatusUnauthorized, true, false},
		{"bad token", "not-a-jwt", http.StatusUnauthorized, true, false},
		{"scope missing", iss.Scoped("Other"), http.StatusForbidden, true, false},
		{"scope held", iss.Scoped("Entry_Read"), http.StatusNoContent, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got chain
			r := newEngine(m, &got)
			req := httptest.NewRequest(http.MethodGet, "/entries", nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if challenged := rec.Header().Get("WWW-Authenticate") != ""; challenged != tc.challenged {
				t.Errorf("challenged %v, want %v", challenged, tc.challenged)
			}
			if got.after != tc.passed || got.handler != tc.passed || got.aborted == tc.passed {
				t.Errorf("later handlers ran %v/%v, aborted %v; want ran %v, aborted %v",
					got.after, got.handler, got.aborted, tc.passed, !tc.passed)
			}
			if tc.passed && got.subject != "user-1" {
				t.Errorf("handler saw subject %q, want user-1", got.subject)
			}
		})
	}
}

func TestPrincipalWithoutWarden(t *testing.T) {
	if _, ok := wardengin.Principal(nil); ok {
		t.Error("Principal(nil) reported a principal")
	}
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
	if p, ok := wardengin.Principal(c); ok || p != nil {
		t.Errorf("Principal = %v, %v without warden; want nil, false", p, ok)
	}
}

func TestNewNilPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(nil) did not panic")
		}
	}()
	wardengin.New(nil)
}

// BenchmarkPass measures a request let through, via Gin and via net/http
// directly, so the adapter's own cost is the difference.
func BenchmarkPass(b *testing.B) {
	iss := wardentest.NewIssuer(b)
	m := newMiddleware(b, iss)
	token := "Bearer " + iss.Scoped("Entry_Read")
	gin.SetMode(gin.TestMode)
	g := gin.New()
	g.GET("/entries", wardengin.New(m.Require(warden.Scopes("Entry_Read"))), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	mux := http.NewServeMux()
	mux.Handle("GET /entries", m.Require(warden.Scopes("Entry_Read"))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"net/http", mux}, {"gin", g}} {
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
