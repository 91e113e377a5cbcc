package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// TestClient runs the client against an issuer and an API that requires
// DPoP with server nonces: it gets a bound token, is asked for a nonce,
// retries with it, and sees its replay refused.
func TestClient(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	iss.AddClient(wardentest.Client{ID: "c1", Secret: "s1", Scopes: []string{"Entry_Read"}})
	cfg := iss.Config()
	cfg.DPoP = warden.DPoPConfig{Mode: warden.DPoPRequired, NonceKey: bytes.Repeat([]byte{7}, 32)}
	mw, err := warden.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	api := httptest.NewServer(mw.Require(warden.Scopes("Entry_Read"))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`["entry"]`))
	})))
	defer api.Close()

	var out bytes.Buffer
	err = run(context.Background(), []string{"-client", "c1:s1", "-token-url", iss.URL + "/oauth/token", "-replay", api.URL + "/entries"}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, &out)
	}
	for _, want := range []string{
		"token: DPoP-bound to key ",
		"GET " + api.URL + "/entries -> 401 Unauthorized\n  WWW-Authenticate: DPoP realm=\"api\", algs=",
		"retrying with the server's nonce\nGET " + api.URL + "/entries -> 200 OK\n  [\"entry\"]",
		"replaying the same proof\nGET " + api.URL + "/entries -> 401 Unauthorized",
		"The DPoP proof was already used",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, &out)
		}
	}
	if err := run(context.Background(), []string{"-client", "c1:wrong", "-token-url", iss.URL + "/oauth/token", api.URL}, &out); err == nil {
		t.Error("a wrong secret: no error")
	}
}
