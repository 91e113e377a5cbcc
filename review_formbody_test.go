package warden_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// countingBody counts the bytes read from a request body.
type countingBody struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingBody) Close() error { return nil }

// TestReviewFormBodyBound: with Config.AllowFormToken, the form body of an
// unauthenticated request is read only up to 3×MaxTokenSize + 4 KiB; a
// larger one is 400 invalid_request, however valid the token in it. Before
// the fix, ParseForm read the whole 1 MiB body (and up to 10 MB) and the
// request was admitted.
func TestReviewFormBodyBound(t *testing.T) {
	t.Parallel()
	mw, iss, dec := rvMiddleware(t, func(cfg *warden.Config) {
		cfg.AllowFormToken = true
		cfg.MaxTokenSize = 4 << 10
	})
	h := mw.Require()(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	token := iss.Mint(wardentest.Token{})
	const bound = 3*(4<<10) + 4<<10
	for _, tc := range []struct {
		name     string
		body     string
		status   int
		maxRead  int64
		reason   warden.Reason
		challenB string
		respBody string
	}{
		{name: "token alone", body: "access_token=" + token, status: http.StatusNoContent, maxRead: bound, reason: warden.ReasonOK},
		{name: "token and small fields", body: "a=" + strings.Repeat("x", 2<<10) + "&access_token=" + token, status: http.StatusNoContent, maxRead: bound, reason: warden.ReasonOK},
		{name: "1 MiB of other fields", body: "a=" + strings.Repeat("x", 1<<20) + "&access_token=" + token, status: http.StatusBadRequest, maxRead: bound + 1,
			reason: warden.ReasonMalformedRequest, challenB: `Bearer realm="api", error="invalid_request", error_description="The request is malformed"`,
			respBody: `{"error":"invalid_request","error_description":"The request is malformed"}` + "\n"},
		{name: "just over the bound", body: "access_token=" + token + "&a=" + strings.Repeat("x", bound), status: http.StatusBadRequest, maxRead: bound + 1,
			reason: warden.ReasonMalformedRequest, challenB: `Bearer realm="api", error="invalid_request", error_description="The request is malformed"`,
			respBody: `{"error":"invalid_request","error_description":"The request is malformed"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingBody{r: strings.NewReader(tc.body)}
			r := httptest.NewRequest(http.MethodPost, "https://api.example/x", nil)
			r.Body = body
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Errorf("status %d, want %d", w.Code, tc.status)
			}
			if got := body.n.Load(); got > tc.maxRead {
				t.Errorf("read %d bytes of the body, want at most %d", got, tc.maxRead)
			}
			var want []string
			if tc.challenB != "" {
				want = []string{tc.challenB}
			}
			if got := w.Result().Header.Values("WWW-Authenticate"); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("WWW-Authenticate %q, want %q", got, want)
			}
			if w.Body.String() != tc.respBody {
				t.Errorf("body %q, want %q", w.Body.String(), tc.respBody)
			}
			if ds := dec.take(); len(ds) != 1 || ds[0].Reason != tc.reason {
				t.Errorf("decisions %+v, want one with reason %s", ds, tc.reason)
			}
		})
	}
}
