package wardentest_test

import (
	"cmp"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTokenErrors asserts every RFC 6749 §5.2 error the endpoint answers.
func TestTokenErrors(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	const form = "application/x-www-form-urlencoded"
	basic := func(id, secret string) http.Header {
		cred := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
		return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(cred))}}
	}
	readerOK := basic("reader", "reader-secret")
	tests := []struct {
		name       string
		method     string
		ctype      string
		body       string
		header     http.Header
		wantStatus int
		wantCode   string
	}{
		{"no client authentication", "", form, "grant_type=client_credentials", nil, 401, "invalid_client"},
		{"post: wrong secret", "", form, "grant_type=client_credentials&client_id=reader&client_secret=nope", nil, 401, "invalid_client"},
		{"post: unknown client", "", form, "grant_type=client_credentials&client_id=ghost&client_secret=reader-secret", nil, 401, "invalid_client"},
		{"post: id without secret", "", form, "grant_type=client_credentials&client_id=reader", nil, 401, "invalid_client"},
		{"json: wrong secret", "", "application/json", `{"grant_type":"client_credentials","client_id":"reader","client_secret":"x"}`, nil, 401, "invalid_client"},
		{"basic: wrong secret", "", form, "grant_type=client_credentials", basic("reader", "nope"), 401, "invalid_client"},
		{"basic: unknown client", "", form, "grant_type=client_credentials", basic("ghost", "x"), 401, "invalid_client"},
		{"basic: not base64", "", form, "grant_type=client_credentials", http.Header{"Authorization": {"Basic !!!"}}, 401, "invalid_client"},
		{"bearer instead of basic", "", form, "grant_type=client_credentials", http.Header{"Authorization": {"Bearer abc"}}, 401, "invalid_client"},
		{"empty authorization", "", form, "grant_type=client_credentials", http.Header{"Authorization": {""}}, 401, "invalid_client"},
		{"two authorization fields", "", form, "grant_type=client_credentials", http.Header{"Authorization": {readerOK.Get("Authorization"), readerOK.Get("Authorization")}}, 400, "invalid_request"},
		{"basic and post together", "", form, "grant_type=client_credentials&client_id=reader&client_secret=reader-secret", readerOK, 400, "invalid_request"},
		{"basic with another client_id", "", form, "grant_type=client_credentials&client_id=impersonator", readerOK, 400, "invalid_request"},
		{"missing grant_type", "", form, "scope=Entry_Read", readerOK, 400, "invalid_request"},
		{"repeated parameter", "", form, "grant_type=client_credentials&scope=Entry_Read&scope=Entry_Read", readerOK, 400, "invalid_request"},
		{"bad form escape", "", form, "grant_type=client_credentials&scope=%zz", readerOK, 400, "invalid_request"},
		{"no content type", "", "", "grant_type=client_credentials", readerOK, 400, "invalid_request"},
		{"text body", "", "text/plain", "grant_type=client_credentials", readerOK, 400, "invalid_request"},
		{"json: scope not a string", "", "application/json", `{"grant_type":"client_credentials","scope":["Entry_Read"]}`, readerOK, 400, "invalid_request"},
		{"json: trailing data", "", "application/json", `{"grant_type":"client_credentials"} {}`, readerOK, 400, "invalid_request"},
		{"json: not an object", "", "application/json", `"client_credentials"`, readerOK, 400, "invalid_request"},
		{"body too large", "", form, "grant_type=client_credentials&pad=" + strings.Repeat("a", 70<<10), readerOK, 400, "invalid_request"},
		{"GET", http.MethodGet, "", "", readerOK, 405, "invalid_request"},
		{"password grant", "", form, "grant_type=password&username=u&password=p", readerOK, 400, "unsupported_grant_type"},
		{"authorization_code grant", "", "application/json", `{"grant_type":"authorization_code","client_id":"reader","client_secret":"reader-secret"}`, nil, 400, "unsupported_grant_type"},
		{"scope not granted", "", form, "grant_type=client_credentials&scope=Entry_Write", readerOK, 400, "invalid_scope"},
		{"one scope of two not granted", "", form, "grant_type=client_credentials&scope=Entry_Read+Entry_Write", readerOK, 400, "invalid_scope"},
		{"scope with a quote", "", form, `grant_type=client_credentials&scope=Entry_Read%22`, readerOK, 400, "invalid_scope"},
		{"scope is case-sensitive", "", form, "grant_type=client_credentials&scope=entry_read", readerOK, 400, "invalid_scope"},
		{"act_as without permission", "", form, "grant_type=client_credentials&act_as=alice", readerOK, 400, "unauthorized_client"},
		{"act_as an unknown user", "", form, "grant_type=client_credentials&act_as=mallory", basic("impersonator", "imp-secret"), 400, "unauthorized_client"},
		{"act_as, scope beyond the user's", "", form, "grant_type=client_credentials&act_as=alice&scope=Entry_Write", basic("impersonator", "imp-secret"), 400, "invalid_scope"},
		{"act_as, the client's own scope", "", "application/json", `{"grant_type":"client_credentials","client_id":"impersonator","client_secret":"imp-secret","act_as":"alice","scope":"Entry_Write"}`, nil, 400, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(cmp.Or(tt.method, http.MethodPost), iss.URL+"/oauth/token", strings.NewReader(tt.body))
			require.NoError(t, err)
			for k, v := range tt.header {
				req.Header[k] = v
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body := decodeBody(t, resp, tt.wantStatus)
			assert.Equal(t, tt.wantCode, body["error"])
			d, _ := body["error_description"].(string)
			assert.NotEmpty(t, d, "error_description")
			assert.NotContains(t, d, "secret", "error_description: fixed text")
			assert.NotContains(t, body, "access_token", "an error response carries an access_token")
			if tt.wantStatus == http.StatusUnauthorized {
				assert.Equal(t, `Basic realm="token", charset="UTF-8"`, resp.Header.Get("WWW-Authenticate"))
			}
			if tt.wantStatus == http.StatusMethodNotAllowed {
				assert.Equal(t, "POST", resp.Header.Get("Allow"))
			}
		})
	}
}
