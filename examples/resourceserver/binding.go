package main

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/wardenhq/warden"
)

// bindingOptions are the flags of sender-constrained tokens: DPoP
// (RFC 9449) and certificate-bound tokens over TLS (RFC 8705).
type bindingOptions struct {
	dpop, nonceKeyFile, publicURL, redis string
	nonce                                bool
	tlsCert, tlsKey, clientCA, certHdr   string
}

func (b *bindingOptions) flags(fs *flag.FlagSet) {
	fs.StringVar(&b.dpop, "dpop", "allowed", "DPoP (RFC 9449) on the Bearer routes: off, allowed or required")
	fs.BoolVar(&b.nonce, "dpop-nonce", false, "require server nonces in DPoP proofs (RFC 9449 §9); the key is random unless -dpop-nonce-key")
	fs.StringVar(&b.nonceKeyFile, "dpop-nonce-key", "", "`FILE` holding the nonce key as 64 hex characters (and an optional newline), shared by every instance; implies -dpop-nonce")
	fs.StringVar(&b.publicURL, "public-url", "", "the `URL` clients call, for the htu of DPoP proofs (default http:// or https:// and the listen address)")
	fs.StringVar(&b.redis, "redis", "", "keep DPoP proofs and revoked tokens in the Redis at `ADDR` (host:port), shared by every instance, instead of in memory")
	fs.StringVar(&b.tlsCert, "tls-cert", "", "serve HTTPS with the certificate (chain) in this PEM `FILE`; needs -tls-key")
	fs.StringVar(&b.tlsKey, "tls-key", "", "the private key of -tls-cert, a PEM `FILE`")
	fs.StringVar(&b.clientCA, "client-ca", "", "request, but do not require, client certificates issued by the CA in this PEM `FILE`, for mTLS-bound tokens (RFC 8705); needs -tls-cert")
	fs.StringVar(&b.certHdr, "client-cert-header", "", "take the client certificate from the header `NAME` (URL-encoded PEM, set by a TLS-terminating proxy) instead of the connection")
}

// check reports flag combinations that cannot work.
func (b *bindingOptions) check() error {
	switch {
	case b.dpop != "off" && b.dpop != "allowed" && b.dpop != "required":
		return fmt.Errorf("-dpop %q: want off, allowed or required", b.dpop)
	case b.dpop == "off" && (b.nonce || b.nonceKeyFile != "" || b.redis != "" || b.publicURL != ""):
		return errors.New("-dpop off: -dpop-nonce, -dpop-nonce-key, -redis and -public-url concern DPoP")
	case (b.tlsCert == "") != (b.tlsKey == ""):
		return errors.New("-tls-cert and -tls-key go together")
	case b.clientCA != "" && b.tlsCert == "":
		return errors.New("-client-ca needs -tls-cert: client certificates come with TLS")
	case b.clientCA != "" && b.certHdr != "":
		return errors.New("-client-ca and -client-cert-header are two sources of one certificate: choose one")
	}
	return nil
}

// tlsConfig returns the server's TLS configuration, or nil for plain HTTP.
// With -client-ca the server asks for a certificate and verifies one that is
// given, but serves clients without one too: a certificate-bound token then
// gets 401, any other request goes on.
func (b *bindingOptions) tlsConfig() (*tls.Config, error) {
	if b.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(b.tlsCert, b.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert/-tls-key: %v", err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if b.clientCA != "" {
		pem, err := os.ReadFile(b.clientCA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-client-ca %s: no PEM certificate", b.clientCA)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return c, nil
}

// httpClient is the client warden fetches keys with: the default, or, over
// TLS, one that also trusts this server's own certificate, since in demo
// mode the issuer is this very listener.
func (b *bindingOptions) httpClient(c *tls.Config) *http.Client {
	if c == nil {
		return nil
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	for _, der := range c.Certificates[0].Certificate {
		if cert, err := x509.ParseCertificate(der); err == nil {
			roots.AddCert(cert)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}
}

// config builds warden's DPoP and mTLS settings; base is this server's URL.
func (b *bindingOptions) config(base string) (warden.DPoPConfig, warden.MTLSConfig, error) {
	m := warden.MTLSConfig{CertificateHeader: b.certHdr}
	var d warden.DPoPConfig
	switch b.dpop {
	case "off":
		d.Mode = warden.DPoPOff
		return d, m, nil
	case "required":
		d.Mode = warden.DPoPRequired
	}
	d.PublicURL = base
	if b.publicURL != "" {
		d.PublicURL = b.publicURL
	}
	if b.nonce || b.nonceKeyFile != "" {
		key, err := nonceKey(b.nonceKeyFile)
		if err != nil {
			return d, m, err
		}
		d.NonceKey = key
	}
	if b.redis != "" {
		store, err := dialRedis(b.redis)
		if err != nil {
			return d, m, fmt.Errorf("-redis %s: %v", b.redis, err)
		}
		d.ReplayStore = store
	}
	return d, m, nil
}

// nonceKey reads the -dpop-nonce-key file (32 bytes as 64 hexadecimal
// characters, optionally followed by a newline), or makes a random key,
// good for this one instance, without a file.
func nonceKey(file string) ([]byte, error) {
	if file == "" {
		key := make([]byte, 32)
		_, err := rand.Read(key)
		return key, err
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	raw = bytes.TrimSuffix(bytes.TrimSuffix(raw, []byte("\n")), []byte("\r"))
	key := make([]byte, 32)
	if n, err := hex.Decode(key, raw); err != nil || n != 32 || len(raw) != 64 {
		return nil, fmt.Errorf("-dpop-nonce-key %s: want 64 hexadecimal characters (32 bytes), optionally followed by a newline", file)
	}
	return key, nil
}

// printDPoPDemo prints the copy-paste DPoP flow: curl cannot sign proofs,
// so a small Go client does.
func printDPoPDemo(w io.Writer, base string, b bindingOptions) {
	if b.dpop == "off" {
		return
	}
	extra := ""
	if b.tlsCert != "" {
		extra = " -cacert " + b.tlsCert
	}
	fmt.Fprintf(w, `DPoP (RFC 9449, mode %[2]s): a token bound to the client's key, proved on every call
(curl cannot sign the proofs; examples/dpopclient does, and retries once with a server nonce):
  go run ./examples/dpopclient%[3]s -client demo-reader:demo-reader-secret -token-url %[1]s/oauth/token %[1]s/entries
  go run ./examples/dpopclient%[3]s -client demo-reader:demo-reader-secret -token-url %[1]s/oauth/token -replay %[1]s/entries   # 200, then 401 dpop_replayed

`, base, b.dpop, extra)
}
