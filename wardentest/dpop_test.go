package wardentest_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/wardentest"
)

// TestTokenEndpointDPoP: a token request with a DPoP proof gets a token
// bound to the proof's key (RFC 9449 §5); a bad proof gets 400
// invalid_dpop_proof; none gets a bearer token.
func TestTokenEndpointDPoP(t *testing.T) {
	iss := wardentest.NewIssuer(t)
	iss.AddClient(wardentest.Client{ID: "c1", Secret: "s1", Scopes: []string{"Entry_Read"}})
	key := wardentest.NewECKey("client")
	tokenURL := iss.URL + "/oauth/token"
	request := func(proofs ...string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("c1", "s1")
		for _, p := range proofs {
			req.Header.Add("DPoP", p)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	claims := func(token string) map[string]any {
		parts := strings.Split(token, ".")
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c map[string]any
		_ = json.Unmarshal(b, &c)
		return c
	}

	status, body := request(key.Proof(wardentest.Proof{Method: "POST", URL: tokenURL}))
	if status != 200 || body["token_type"] != "DPoP" {
		t.Fatalf("with a proof: %d %v", status, body)
	}
	cnf, _ := claims(body["access_token"].(string))["cnf"].(map[string]any)
	if cnf["jkt"] != key.Thumbprint() {
		t.Errorf("cnf %v, want jkt %s", cnf, key.Thumbprint())
	}
	status, body = request()
	if status != 200 || body["token_type"] != "Bearer" || claims(body["access_token"].(string))["cnf"] != nil {
		t.Errorf("without a proof: %d %v", status, body)
	}
	for name, proofs := range map[string][]string{
		"for GET":           {key.Proof(wardentest.Proof{Method: "GET", URL: tokenURL})},
		"for another URL":   {key.Proof(wardentest.Proof{Method: "POST", URL: iss.URL + "/other"})},
		"stale":             {key.Proof(wardentest.Proof{Method: "POST", URL: tokenURL, IssuedAt: time.Now().Add(-2 * time.Minute)})},
		"wrong typ":         {key.Proof(wardentest.Proof{Method: "POST", URL: tokenURL, Header: map[string]any{"typ": "JWT"}})},
		"another key's jwk": {key.Proof(wardentest.Proof{Method: "POST", URL: tokenURL, Header: map[string]any{"jwk": wardentest.NewECKey("x").JWK()}})},
		"two proofs":        {key.Proof(wardentest.Proof{Method: "POST", URL: tokenURL}), key.Proof(wardentest.Proof{Method: "POST", URL: tokenURL})},
		"not a JWT":         {"abc"},
	} {
		if status, body := request(proofs...); status != 400 || body["error"] != "invalid_dpop_proof" {
			t.Errorf("%s: %d %v, want 400 invalid_dpop_proof", name, status, body)
		}
	}
}
