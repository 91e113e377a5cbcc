package jwks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/fetch"
)

func TestDiscoveryURLs(t *testing.T) {
	for _, tc := range []struct {
		issuer string
		want   []string
	}{
		{"https://idp.example", []string{
			"https://idp.example/.well-known/openid-configuration",
			"https://idp.example/.well-known/oauth-authorization-server",
		}},
		{"https://idp.example/", []string{
			"https://idp.example/.well-known/openid-configuration",
			"https://idp.example/.well-known/oauth-authorization-server",
		}},
		{"https://cms.example/authenticate", []string{
			"https://cms.example/authenticate/.well-known/openid-configuration",
			"https://cms.example/.well-known/oauth-authorization-server/authenticate",
		}},
		{"https://cms.example/authenticate/", []string{
			"https://cms.example/authenticate/.well-known/openid-configuration",
			"https://cms.example/.well-known/oauth-authorization-server/authenticate",
		}},
		{"https://idp.example:8443/realms/a%2Fb", []string{
			"https://idp.example:8443/realms/a%2Fb/.well-known/openid-configuration",
			"https://idp.example:8443/.well-known/oauth-authorization-server/realms/a%2Fb",
		}},
		{"https://idp.example/?tenant=1", nil},
		{"https://idp.example/#x", nil},
		{"https://user@idp.example/", nil},
		{"idp.example", nil},
		{"ftp://idp.example", nil},
	} {
		got, err := DiscoveryURLs(tc.issuer)
		if (err != nil) != (tc.want == nil) || !slices.Equal(got, tc.want) {
			t.Errorf("DiscoveryURLs(%q) = %q, %v; want %q", tc.issuer, got, err, tc.want)
		}
	}
}

func TestParseMetadata(t *testing.T) {
	const iss = "https://cms.example/authenticate"
	for _, tc := range []struct {
		name, doc string
		want      error
	}{
		{"good", `{"issuer":"https://cms.example/authenticate","jwks_uri":"https://cms.example/authenticate/keys"}`, nil},
		{"loopback http jwks_uri", `{"issuer":"https://cms.example/authenticate","jwks_uri":"http://127.0.0.1:9/keys"}`, nil},
		{"trailing slash differs", `{"issuer":"https://cms.example/authenticate/","jwks_uri":"https://cms.example/keys"}`, ErrIssuerMismatch},
		{"case differs", `{"issuer":"https://CMS.example/authenticate","jwks_uri":"https://cms.example/keys"}`, ErrIssuerMismatch},
		{"other issuer", `{"issuer":"https://evil.example/authenticate","jwks_uri":"https://evil.example/keys"}`, ErrIssuerMismatch},
		{"member name case differs", `{"ISSUER":"https://cms.example/authenticate","jwks_uri":"https://cms.example/keys"}`, ErrBadMetadata},
		{"issuer not a string", `{"issuer":["https://cms.example/authenticate"],"jwks_uri":"https://cms.example/keys"}`, ErrBadMetadata},
		{"no jwks_uri", `{"issuer":"https://cms.example/authenticate"}`, ErrBadMetadata},
		{"http jwks_uri on a public host", `{"issuer":"https://cms.example/authenticate","jwks_uri":"http://cms.example/keys"}`, ErrBadMetadata},
		{"relative jwks_uri", `{"issuer":"https://cms.example/authenticate","jwks_uri":"/keys"}`, ErrBadMetadata},
		{"HTML", `<html>login</html>`, ErrBadMetadata},
		{"array", `[]`, ErrBadMetadata},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMetadata([]byte(tc.doc), iss)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// dsServer answers the given paths with bodies and records every path asked.
type dsServer struct {
	*httptest.Server
	mu    sync.Mutex
	asked []string
}

func newDSServer(t *testing.T, docs func(base string) map[string]string) *dsServer {
	t.Helper()
	s := &dsServer{}
	var served map[string]string
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.asked = append(s.asked, r.URL.Path)
		s.mu.Unlock()
		body, ok := served[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	served = docs(s.URL)
	t.Cleanup(s.Close)
	return s
}

func (s *dsServer) paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asked)
}

func dsFetcher() *fetch.Client { return fetch.New(nil, 5*time.Second, 1<<20) }

func TestDiscover(t *testing.T) {
	meta := func(iss, jwks string) string { return `{"issuer":"` + iss + `","jwks_uri":"` + jwks + `"}` }
	for _, tc := range []struct {
		name     string
		path     string // of the issuer
		explicit string
		docs     func(base string) map[string]string
		asked    []string
		want     error // nil: the jwks_uri base+"/keys" is found
	}{
		{"OpenID Connect first", "", "", func(b string) map[string]string {
			return map[string]string{"/.well-known/openid-configuration": meta(b, b+"/keys"), "/.well-known/oauth-authorization-server": meta(b, b+"/other")}
		}, []string{"/.well-known/openid-configuration"}, nil},
		{"RFC 8414 fallback", "", "", func(b string) map[string]string {
			return map[string]string{"/.well-known/oauth-authorization-server": meta(b, b+"/keys")}
		}, []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"}, nil},
		{"path issuer, appended form", "/authenticate", "", func(b string) map[string]string {
			return map[string]string{"/authenticate/.well-known/openid-configuration": meta(b+"/authenticate", b+"/keys")}
		}, []string{"/authenticate/.well-known/openid-configuration"}, nil},
		{"path issuer, inserted form", "/authenticate", "", func(b string) map[string]string {
			return map[string]string{"/.well-known/oauth-authorization-server/authenticate": meta(b+"/authenticate", b+"/keys")}
		}, []string{"/authenticate/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/authenticate"}, nil},
		{"mismatch at one location, match at the next", "/authenticate", "", func(b string) map[string]string {
			return map[string]string{
				"/authenticate/.well-known/openid-configuration":       meta("https://evil.example/authenticate", "https://evil.example/keys"),
				"/.well-known/oauth-authorization-server/authenticate": meta(b+"/authenticate", b+"/keys"),
			}
		}, []string{"/authenticate/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/authenticate"}, nil},
		{"mismatch everywhere", "/authenticate", "", func(b string) map[string]string {
			return map[string]string{
				"/authenticate/.well-known/openid-configuration":       meta(b, b+"/keys"),
				"/.well-known/oauth-authorization-server/authenticate": meta(b+"/authenticate/", b+"/keys"),
			}
		}, []string{"/authenticate/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/authenticate"}, ErrIssuerMismatch},
		{"explicit URL only", "/tenant", "/meta.json", func(b string) map[string]string {
			return map[string]string{"/meta.json": meta(b+"/tenant", b+"/keys")}
		}, []string{"/meta.json"}, nil},
		{"explicit URL mismatch", "/tenant", "/meta.json", func(b string) map[string]string {
			return map[string]string{"/meta.json": meta(b, b+"/keys")}
		}, []string{"/meta.json"}, ErrIssuerMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newDSServer(t, tc.docs)
			explicit := ""
			if tc.explicit != "" {
				explicit = srv.URL + tc.explicit
			}
			md, err := Discover(context.Background(), dsFetcher(), srv.URL+tc.path, explicit)
			got := md.JWKSURI
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("got %q, %v; want %v", got, err, tc.want)
				}
			} else if err != nil || got != srv.URL+"/keys" {
				t.Fatalf("got %q, %v; want %s/keys", got, err, srv.URL)
			}
			if asked := srv.paths(); !slices.Equal(asked, tc.asked) {
				t.Fatalf("asked %q, want %q", asked, tc.asked)
			}
		})
	}
}
