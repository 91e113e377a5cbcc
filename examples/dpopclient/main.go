// Command dpopclient calls an API with a DPoP-bound access token (RFC 9449):
// it makes a key, asks the token endpoint for a token bound to the key (a
// DPoP proof on the token request, RFC 9449 §5), then calls the API with
// "Authorization: DPoP <token>" and a fresh proof signed by the key. When
// the API asks for a server nonce (401 use_dpop_nonce and a DPoP-Nonce
// header, RFC 9449 §9), it retries once with it. curl cannot sign proofs;
// this is the demo's copy-paste client:
//
//	go run ./examples/dpopclient -client demo-reader:demo-reader-secret \
//	    -token-url http://127.0.0.1:8080/oauth/token http://127.0.0.1:8080/entries
//
// Flags:
//
//	-client ID:SECRET  client credentials for the token endpoint (HTTP Basic)
//	-token-url URL     the token endpoint
//	-method METHOD     the API request's method (default GET)
//	-cacert FILE       also trust this PEM certificate (a demo serving HTTPS with its own certificate)
//	-replay            send the last proof a second time, to see the replay refused
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/wardenhq/warden/wardentest"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dpopclient:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("dpopclient", flag.ContinueOnError)
	fs.SetOutput(out)
	client := fs.String("client", "", "client credentials `ID:SECRET` for the token endpoint (HTTP Basic)")
	tokenURL := fs.String("token-url", "", "the token endpoint `URL`")
	method := fs.String("method", http.MethodGet, "the API request's `METHOD`")
	cacert := fs.String("cacert", "", "also trust the certificate in this PEM `FILE`")
	replay := fs.Bool("replay", false, "send the last proof again, to see the replay refused")
	if err := fs.Parse(args); err != nil {
		return err
	}
	id, secret, ok := strings.Cut(*client, ":")
	if fs.NArg() != 1 || !ok || *tokenURL == "" {
		return errors.New("usage: dpopclient -client ID:SECRET -token-url URL [-method METHOD] [-cacert FILE] [-replay] API-URL")
	}
	target := fs.Arg(0)
	hc, err := httpClient(*cacert)
	if err != nil {
		return err
	}
	key := wardentest.NewECKey("dpop") // a fresh P-256 key: the token is bound to it

	// The token request carries a proof for POST to the token endpoint.
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, *tokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	req.Header.Set("DPoP", key.Proof(wardentest.Proof{Method: http.MethodPost, URL: *tokenURL}))
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		return fmt.Errorf("token endpoint: %s", resp.Status)
	}
	if !strings.EqualFold(tok.TokenType, "DPoP") {
		return fmt.Errorf("token endpoint issued a %q token, not a DPoP-bound one", tok.TokenType)
	}
	fmt.Fprintf(out, "token: DPoP-bound to key %s, expires in %d s\n", key.Thumbprint(), tok.ExpiresIn)

	proof := ""
	call := func(nonce string) (*http.Response, string, error) {
		if nonce != "" || proof == "" {
			proof = key.Proof(wardentest.Proof{Method: *method, URL: target, AccessToken: tok.AccessToken, Nonce: nonce, IssuedAt: time.Now()})
		}
		req, _ := http.NewRequestWithContext(ctx, *method, target, nil)
		req.Header.Set("Authorization", "DPoP "+tok.AccessToken)
		req.Header.Set("DPoP", proof)
		resp, err := hc.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		fmt.Fprintf(out, "%s %s -> %s\n", *method, target, resp.Status)
		for _, c := range resp.Header.Values("WWW-Authenticate") {
			fmt.Fprintf(out, "  WWW-Authenticate: %s\n", c)
		}
		fmt.Fprintf(out, "  %s\n", strings.TrimSpace(string(body)))
		return resp, resp.Header.Get("DPoP-Nonce"), nil
	}
	resp, nonce, err := call("")
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusUnauthorized && nonce != "" && strings.Contains(resp.Header.Get("WWW-Authenticate"), "use_dpop_nonce") {
		fmt.Fprintln(out, "retrying with the server's nonce")
		if _, _, err = call(nonce); err != nil {
			return err
		}
	}
	if *replay {
		fmt.Fprintln(out, "replaying the same proof")
		_, _, err = call("")
	}
	return err
}

// httpClient trusts the system's roots and, with -cacert, one more
// certificate.
func httpClient(cacert string) (*http.Client, error) {
	c := &http.Client{Timeout: 30 * time.Second}
	if cacert == "" {
		return c, nil
	}
	pem, err := os.ReadFile(cacert)
	if err != nil {
		return nil, err
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-cacert %s: no PEM certificate", cacert)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	c.Transport = tr
	return c, nil
}
