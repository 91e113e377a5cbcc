package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFreshness(t *testing.T) {
	for _, tc := range []struct {
		cacheControl, age string
		want              time.Duration
		ok                bool
	}{
		{"", "", 0, false},
		{"public", "", 0, false},
		{"max-age=300", "", 300 * time.Second, true},
		{"public, max-age=300, must-revalidate", "", 300 * time.Second, true},
		{"MAX-AGE=60", "", time.Minute, true},
		{`max-age="60"`, "", time.Minute, true},
		{"max-age=300", "100", 200 * time.Second, true},
		{"max-age=300", "900", 0, true},
		{"max-age=-1", "", 0, true},
		{"max-age=soon", "", 0, true},
		{"no-store", "", 0, true},
		{"max-age=300, no-cache", "", 0, true},
		{"max-age=99999999999999999", "", (1 << 31) * time.Second, true},
	} {
		h := http.Header{}
		if tc.cacheControl != "" {
			h.Set("Cache-Control", tc.cacheControl)
		}
		if tc.age != "" {
			h.Set("Age", tc.age)
		}
		got, ok := Freshness(h)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Cache-Control %q, Age %q: got %s %v, want %s %v", tc.cacheControl, tc.age, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFetcherLimits(t *testing.T) {
	const limit = 1000
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a redirect to another origin was followed")
	}))
	defer other.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/exact", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(make([]byte, limit)) })
	mux.HandleFunc("/over", func(w http.ResponseWriter, _ *http.Request) {
		w.(http.Flusher).Flush() // chunked: no Content-Length to refuse early
		_, _ = w.Write(make([]byte, limit+1))
	})
	mux.HandleFunc("/announced", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		_, _ = w.Write(make([]byte, 10))
	})
	mux.HandleFunc("/404", http.NotFound)
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/exact", http.StatusFound) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, other.URL, http.StatusFound) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL+"/exact", http.StatusFound) // https → http
	}))
	defer tlsSrv.Close()

	own := New(nil, 5*time.Second, limit)
	defer own.CloseIdle()
	supplied := New(tlsSrv.Client(), 5*time.Second, limit) // trusts the test certificate; follows anything by itself
	for _, tc := range []struct {
		f      *Client
		url    string
		want   error
		status int
	}{
		{own, srv.URL + "/exact", nil, 0},
		{own, srv.URL + "/over", ErrTooLarge, 0},
		{own, srv.URL + "/announced", ErrTooLarge, 0},
		{own, srv.URL + "/404?api_key=secret", nil, http.StatusNotFound},
		{own, srv.URL + "/moved", nil, 0},
		{own, srv.URL + "/away", ErrRedirectRefused, 0},
		{own, srv.URL + "/loop", ErrRedirectRefused, 0},
		{supplied, srv.URL + "/away", ErrRedirectRefused, 0},
		{supplied, srv.URL + "/over", ErrTooLarge, 0},
		{supplied, tlsSrv.URL + "/", ErrRedirectRefused, 0},
	} {
		body, _, err := tc.f.Get(context.Background(), tc.url, "application/json")
		var se *StatusError
		switch {
		case tc.status != 0:
			if !errors.As(err, &se) || se.Code != tc.status {
				t.Errorf("GET %s: got %v, want status %d", tc.url, err, tc.status)
			}
		case tc.want != nil:
			if !errors.Is(err, tc.want) {
				t.Errorf("GET %s: got %v, want %v", tc.url, err, tc.want)
			}
		case err != nil || len(body) != limit:
			t.Errorf("GET %s: got %d bytes, %v; want %d bytes", tc.url, len(body), err, limit)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error shows the URL's query: %v", err)
		}
	}
}
