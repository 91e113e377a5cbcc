// Command resourceserver is warden's demo and reference server: an API whose
// routes take OAuth 2.0 Bearer tokens (and, on two routes, HTTP Basic client
// credentials), each route with its own scope requirement.
//
// With no flags it also runs a development issuer on the same listener, with
// fixed demo clients, so that
//
//	go run ./examples/resourceserver
//
// is all it takes to get a token with curl and call the API. With -issuer it
// trusts a real issuer instead (keys found by discovery, or at -jwks).
//
// Flags:
//
//	-addr ADDR            listen address (default 127.0.0.1:8080)
//	-issuer URL           trust this issuer instead of running the demo issuer
//	-jwks URL             take the issuer's keys from this JWK Set URL, not discovery
//	-audience AUD         required audience (required with -issuer; demo: https://api.example.test)
//	-realm REALM          realm of the challenges (default api)
//	-basic-clients FILE   JSON list of {"client_id", "secret_hash", "scopes"} for HTTP Basic
//	-introspect URL       with -issuer: introspect opaque tokens at this RFC 7662 endpoint
//	-introspect-client-id ID, -introspect-client-secret SECRET
//	                      warden's client credentials there (client_secret_basic); with -issuer and
//	                      no -introspect, the endpoint is the discovery document's introspection_endpoint
//	-introspect-cache-ttl DURATION
//	                      how long an active answer is cached: the revocation delay accepted (default 30s)
//	-introspect-jwt       introspect JWTs too, so revoked JWTs are refused within the cache TTL
//
// Demo mode introspects the demo issuer's opaque tokens (client demo-opaque).
//
//	-dpop MODE            DPoP (RFC 9449) on the Bearer routes: off, allowed (default) or required
//	-dpop-nonce           require server nonces in DPoP proofs (RFC 9449 §9)
//	-dpop-nonce-key FILE  the nonce key, 64 hex characters, shared by every instance (implies -dpop-nonce)
//	-public-url URL       the origin clients call, for DPoP htu (default http:// or https:// + the address)
//	-redis ADDR           keep DPoP proofs and revoked tokens in Redis at ADDR, shared by every instance, instead of in memory
//	-tls-cert FILE        serve HTTPS with this certificate (PEM), with -tls-key FILE
//	-client-ca FILE       request (not require) client certificates issued by this CA, for mTLS-bound tokens
//	-client-cert-header NAME  take the client certificate from this header (URL-encoded PEM) set by a TLS proxy
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/clientstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		// One line, so a script or a human sees the reason at once.
		fmt.Fprintln(os.Stderr, "resourceserver:", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	addr, issuer, jwks, audience, realm, basicClients string
	introspect, introspectID, introspectSecret        string
	introspectTTL                                     time.Duration
	introspectJWT                                     bool
	binding                                           bindingOptions
}

// demoAudience is the audience of the demo issuer's tokens.
const demoAudience = "https://api.example.test"

func parseFlags(args []string) (options, *flag.FlagSet, error) {
	var o options
	fs := flag.NewFlagSet("resourceserver", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the error is reported in one line by main
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&o.issuer, "issuer", "", "trust this issuer (discovery) instead of running the demo issuer")
	fs.StringVar(&o.jwks, "jwks", "", "take the issuer's keys from this JWK Set URL instead of discovery")
	fs.StringVar(&o.audience, "audience", "", "required token audience (required with -issuer; default "+demoAudience+" in demo mode)")
	fs.StringVar(&o.realm, "realm", "api", "realm of the WWW-Authenticate challenges")
	fs.StringVar(&o.basicClients, "basic-clients", "", `JSON file: [{"client_id", "secret_hash", "scopes"}] for HTTP Basic`)
	fs.StringVar(&o.introspect, "introspect", "", "with -issuer: the RFC 7662 introspection endpoint for opaque tokens")
	fs.StringVar(&o.introspectID, "introspect-client-id", "", "warden's client id at the introspection endpoint")
	fs.StringVar(&o.introspectSecret, "introspect-client-secret", "", "warden's client secret there (client_secret_basic)")
	fs.DurationVar(&o.introspectTTL, "introspect-cache-ttl", 30*time.Second, "how long an active introspection answer is cached")
	fs.BoolVar(&o.introspectJWT, "introspect-jwt", false, "introspect JWTs too, to refuse revoked ones")
	o.binding.flags(fs)
	if err := fs.Parse(args); err != nil {
		return o, fs, err
	}
	if err := o.binding.check(); err != nil {
		return o, fs, err
	}
	switch {
	case (o.introspect != "" || o.introspectID != "" || o.introspectSecret != "") && o.issuer == "":
		return o, fs, errors.New("-introspect, -introspect-client-id and -introspect-client-secret need -issuer (demo mode introspects its own issuer)")
	case o.introspect != "" && o.introspectID == "":
		return o, fs, errors.New("-introspect needs -introspect-client-id and -introspect-client-secret")
	case (o.introspectID == "") != (o.introspectSecret == ""):
		return o, fs, errors.New("-introspect-client-id and -introspect-client-secret go together")
	case o.introspectTTL <= 0:
		return o, fs, errors.New("-introspect-cache-ttl must be positive")
	}
	switch {
	case fs.NArg() > 0:
		return o, fs, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.issuer != "" && o.audience == "":
		return o, fs, errors.New("-audience is required with -issuer")
	case o.jwks != "" && o.issuer == "":
		return o, fs, errors.New("-jwks needs -issuer: the tokens' issuer must be checked too")
	case o.issuer == "" && o.audience == "":
		o.audience = demoAudience
	}
	return o, fs, nil
}

// run serves until ctx is done. It writes the banner to stdout and the
// access log to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, fs, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, "usage: resourceserver [-addr ADDR] [-issuer URL [-jwks URL] -audience AUD] [-realm REALM] [-basic-clients FILE]\n"+
			"                      [-introspect URL] [-introspect-client-id ID -introspect-client-secret SECRET] [-introspect-cache-ttl D] [-introspect-jwt]\n"+
			"                      [-dpop off|allowed|required] [-dpop-nonce] [-dpop-nonce-key FILE] [-public-url URL] [-redis ADDR]\n"+
			"                      [-tls-cert FILE -tls-key FILE [-client-ca FILE]] [-client-cert-header NAME]")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	}
	if err != nil {
		return err
	}
	clients, err := loadClients(o.basicClients, o.issuer == "")
	if err != nil {
		return err
	}

	tlsConfig, err := o.binding.tlsConfig()
	if err != nil {
		return err
	}
	// Listen first: in demo mode the issuer's URL is this listener's.
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	scheme := "http://"
	if tlsConfig != nil {
		ln, scheme = tls.NewListener(ln, tlsConfig), "https://"
	}
	base := scheme + advertised(ln.Addr())
	mux := http.NewServeMux()
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	started := new(atomic.Bool)
	srv := &http.Server{Handler: accessLog(logger, mux), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer srv.Close()

	cfg := warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      o.issuer,
			Audience: o.audience,
			JWKSURL:  o.jwks,
		}},
		Realm:      o.realm,
		Clients:    clients,
		HTTPClient: o.binding.httpClient(tlsConfig),
		OnDecision: recordDecision, // logged by accessLog, with the status: one line per request
		Logger:     slog.New(startupGate{logger.Handler(), started}),
	}
	if o.introspectID != "" {
		// The endpoint as given, or (empty) the discovery document's.
		cfg.Issuers[0].Introspection = warden.Introspection{Endpoint: o.introspect, ClientID: o.introspectID,
			ClientSecret: o.introspectSecret, CacheTTL: o.introspectTTL, JWT: o.introspectJWT}
	}
	if cfg.DPoP, cfg.MTLS, err = o.binding.config(base); err != nil {
		return err
	}
	if cfg.DPoP.ReplayStore != nil {
		// -redis: the revocation deny-list is shared by every instance too,
		// so a token revoked on one is refused by all (issue 13).
		cfg.Revocation.Store = cfg.DPoP.ReplayStore
	}
	if closer, ok := cfg.DPoP.ReplayStore.(io.Closer); ok {
		defer closer.Close()
	}
	demo := o.issuer == ""
	if demo {
		// Demo mode: the development issuer answers on this very listener,
		// and warden discovers its keys and its introspection endpoint over
		// HTTP as it would any issuer's.
		secret := make([]byte, 16)
		_, _ = rand.Read(secret)
		iss := newDemoIssuer(base, o.audience, hex.EncodeToString(secret))
		mux.Handle("GET /.well-known/openid-configuration", iss)
		mux.Handle("GET /.well-known/oauth-authorization-server", iss)
		mux.Handle("GET /jwks.json", iss)
		mux.Handle("/oauth/token", iss)
		mux.Handle("/oauth/introspect", iss)
		mux.Handle("/oauth/revoke", iss)
		cfg.Issuers[0].URL = iss.URL
		cfg.Issuers[0].Introspection = warden.Introspection{ClientID: demoIntrospectionClient,
			ClientSecret: hex.EncodeToString(secret), CacheTTL: o.introspectTTL, JWT: o.introspectJWT}
	}
	// New waits for the issuer's first key set and fails if it cannot be
	// had; the API routes answer once it is there.
	mw, err := warden.New(cfg)
	if err != nil {
		return err
	}
	defer mw.Close()
	routes(mux, mw)
	// RFC 9728: clients find the issuer and the scopes in the protected
	// resource metadata; the resource identifier is this server's base URL,
	// so the document is at the well-known path of the root.
	md, err := mw.MetadataHandler(warden.ResourceMetadata{Resource: base, ResourceName: "warden demo API"})
	if err == nil {
		var mdURL string
		mdURL, err = warden.MetadataURL(base)
		if u, perr := url.Parse(mdURL); err == nil && perr == nil {
			mux.Handle("GET "+u.Path, md)
		}
	}
	if err != nil {
		fmt.Fprintf(stdout, "RFC 9728 metadata not published: %v\n", err) // plain http on a non-loopback address
	}
	if demo {
		printDemo(stdout, base, o.audience, o.introspectTTL)
		printDPoPDemo(stdout, base, o.binding)
	}
	started.Store(true)
	fmt.Fprintf(stdout, "listening on %s\n", base)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// loadClients reads the -basic-clients file. Without one, demo mode takes
// the demo clients, whose secrets are public; outside demo mode only the
// file may define clients, so the store is empty and every Basic attempt
// fails.
func loadClients(path string, demo bool) (*clientstore.Store, error) {
	var list []clientstore.Client
	if demo {
		list = demoBasicClients()
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		list = nil
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("-basic-clients %s: %v", path, err)
		}
	}
	return clientstore.New(list)
}

// advertised is the address to put in URLs: a wildcard listen address is
// reached on loopback.
func advertised(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
}
