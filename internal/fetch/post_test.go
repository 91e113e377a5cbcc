package fetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// TestPostForm: the form and the extra fields arrive; a 307 within the
// origin re-sends the form, a redirect to another origin is refused, and
// the size bound and StatusError apply as to Get.
func TestPostForm(t *testing.T) {
	t.Parallel()
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Errorf("a redirect to another origin was followed")
	}))
	defer other.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "not a form POST", http.StatusMethodNotAllowed)
			return
		}
		_ = r.ParseForm()
		_, _ = io.WriteString(w, r.PostForm.Get("token")+"|"+r.Header.Get("Authorization"))
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/echo", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(make([]byte, 101)) })
	mux.HandleFunc("/denied", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f := New(nil, 5*time.Second, 100)
	defer f.CloseIdle()
	form := url.Values{"token": {"t0k"}}
	header := http.Header{"Authorization": {"Basic x"}}
	for _, tc := range []struct {
		path    string
		want    string
		wantErr error
		status  int
	}{
		{path: "/echo", want: "t0k|Basic x"},
		{path: "/moved", want: "t0k|Basic x"},
		{path: "/away", wantErr: ErrRedirectRefused},
		{path: "/big", wantErr: ErrTooLarge},
		{path: "/denied", status: http.StatusUnauthorized},
	} {
		body, _, err := f.PostForm(context.Background(), srv.URL+tc.path, form, header)
		var se *StatusError
		switch {
		case tc.status != 0:
			if !errors.As(err, &se) || se.Code != tc.status {
				t.Errorf("%s: err %v, want status %d", tc.path, err, tc.status)
			}
		case tc.wantErr != nil:
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%s: err %v, want %v", tc.path, err, tc.wantErr)
			}
		case err != nil || string(body) != tc.want:
			t.Errorf("%s: got %q, %v; want %q", tc.path, body, err, tc.want)
		}
	}
}
