package wardentest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden/wardentest"
)

// TestJWKSServerFailures: each failure looks on the wire as its name says,
// seen by a plain client that follows no redirect. The client gives up on
// Hang once its request has reached the endpoint.
func TestJWKSServerFailures(t *testing.T) {
	t.Parallel()
	key := wardentest.NewECKey("ec-1")
	good := string(wardentest.JWKS(key))
	cases := []struct {
		failure  wardentest.Failure
		status   int    // 0: no response
		body     string // prefix of the body, when there is one
		location string // suffix of the Location header
	}{
		{wardentest.Healthy, 200, good, ""},
		{wardentest.Status500, 500, "upstream unavailable", ""},
		{wardentest.HTMLPage, 200, "<!doctype html>", ""},
		{wardentest.BadJSON, 200, `{"keys":[{"kty":"RSA","n":`, ""},
		{wardentest.Truncated, 0, "", ""}, // the body ends before Content-Length
		{wardentest.Oversized, 200, `{"keys":[`, ""},
		{wardentest.Endless, 200, `{"keys":[`, ""}, // still streaming past the 11 MiB read here
		{wardentest.Hang, 0, "", ""},
		{wardentest.Reset, 0, "", ""},
		{wardentest.EmptySet, 200, `{"keys":[]}`, ""},
		{wardentest.RedirectOffHost, 302, "", "/jwks"},
		{wardentest.RedirectSameHost, 302, "", "/jwks-moved"},
		{wardentest.RedirectLoop, 302, "", "/jwks-hop1"},
		{wardentest.Slow, 200, good, ""},
	}
	require.Len(t, cases, len(wardentest.Failures())+1, "a failure without a row")
	for _, tc := range cases {
		t.Run(tc.failure.String(), func(t *testing.T) {
			t.Parallel()
			srv := wardentest.NewJWKSServer(t, key)
			srv.Fail(tc.failure)
			client := &http.Client{
				Timeout:       10 * time.Second, // a bound on a hung test
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
			ctx := context.Background()
			if tc.failure == wardentest.Hang {
				ctx = cancelOnArrival(t, func() bool { return srv.FetchesWhile(wardentest.Hang) == 1 })
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			resp, err := client.Do(req)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(io.LimitReader(resp.Body, 11<<20))
				resp.Body.Close()
			}
			assert.Equal(t, int64(1), srv.FetchesWhile(tc.failure))
			if tc.status == 0 {
				assert.Error(t, err, "a failure without an answer answered")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.True(t, strings.HasPrefix(string(body), tc.body), "body %.80q, want prefix %.80q", body, tc.body)
			assert.True(t, strings.HasSuffix(resp.Header.Get("Location"), tc.location), "Location %q", resp.Header.Get("Location"))
			switch tc.failure {
			case wardentest.Oversized:
				assert.Greater(t, len(body), 10<<20-1)
			case wardentest.Endless:
				assert.Equal(t, 11<<20, len(body))
			}
		})
	}
}

// TestJWKSServerRedirectTargets: the redirect targets serve the keys, and
// following the off-host one is counted.
func TestJWKSServerRedirectTargets(t *testing.T) {
	t.Parallel()
	key := wardentest.NewECKey("ec-1")
	srv := wardentest.NewJWKSServer(t, key)
	for _, f := range []wardentest.Failure{wardentest.RedirectOffHost, wardentest.RedirectSameHost, wardentest.RedirectLoop} {
		srv.Fail(f)
		resp, err := http.Get(srv.URL) // the default client follows up to 10 redirects
		require.NoError(t, err, f)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, string(wardentest.JWKS(key)), string(body), f)
	}
	assert.Equal(t, int64(1), srv.OffHostFetches())
}

// TestJWKSServerKeysAndDocument: SetKeys rotates, SetDocument serves a
// hostile document verbatim, SetCacheControl sets the header.
func TestJWKSServerKeysAndDocument(t *testing.T) {
	t.Parallel()
	a, b := wardentest.NewECKey("a"), wardentest.NewEd25519Key("b")
	srv := wardentest.NewJWKSServer(t, a)
	get := func() (string, string) {
		resp, err := http.Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body), resp.Header.Get("Cache-Control")
	}
	body, cc := get()
	assert.Equal(t, string(wardentest.JWKS(a)), body)
	assert.Empty(t, cc)
	srv.SetKeys(a, b)
	srv.SetCacheControl("max-age=60")
	body, cc = get()
	assert.Equal(t, string(wardentest.JWKS(a, b)), body)
	assert.Equal(t, "max-age=60", cc)
	srv.SetDocument([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	body, _ = get()
	assert.Equal(t, `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, body)
	srv.SetKeys(b)
	body, _ = get()
	assert.Equal(t, string(wardentest.JWKS(b)), body)
	assert.Equal(t, int64(4), srv.Fetches())
}

// TestIssuerFailJWKS: an issuer's own JWK Set fails on demand while its
// discovery document keeps answering.
func TestIssuerFailJWKS(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	iss.FailJWKS(wardentest.Status500)
	resp, err := http.Get(iss.JWKSURL())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	resp, err = http.Get(iss.URL + "/.well-known/openid-configuration")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	iss.FailJWKS(wardentest.Hang)
	ctx := cancelOnArrival(t, func() bool { return iss.JWKSFetches() == 2 }) // the hung request counts too
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, iss.JWKSURL(), nil)
	_, err = http.DefaultClient.Do(req)
	assert.ErrorIs(t, err, context.Canceled, "hang answered")
	iss.FailJWKS(wardentest.Healthy)
	assert.Equal(t, int64(2), iss.JWKSFetches())
}

// cancelOnArrival returns a context that is cancelled once arrived reports
// that the request made with it reached the endpoint: a client that gives
// up on a hung endpoint, but never before its request was counted. The
// wait is bounded by ten seconds.
func cancelOnArrival(t *testing.T, arrived func() bool) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	go func() {
		for !arrived() && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	return ctx
}

// A JWK Set endpoint that fails on demand, for outage tests.
func ExampleJWKSServer() {
	srv := wardentest.StartJWKSServer(wardentest.NewECKey("ec-1")) // in a test: NewJWKSServer(t, …)
	defer srv.Close()
	srv.Fail(wardentest.Status500)
	resp, _ := http.Get(srv.URL)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, srv.Fetches())
	srv.Fail(wardentest.Healthy)
	resp, _ = http.Get(srv.URL)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, srv.Fetches())
	// Output:
	// 500 1
	// 200 2
}
