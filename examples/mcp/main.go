// Command mcp is an MCP server (the official Go SDK, streamable HTTP
// transport) protected by warden, with a development issuer on the same
// listener, as the demo in examples/resourceserver has:
//
//	cd examples/mcp && go run .
//
// It prints the credentials of its clients and the commands to try.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// The demo clients. The secrets are public: never serve this beyond your
// machine.
var demoClients = []wardentest.Client{
	{ID: "mcp-reader", Secret: "mcp-reader-secret", Scopes: []string{"mcp:whoami", "entries:read"}},
	{ID: "mcp-editor", Secret: "mcp-editor-secret", Scopes: []string{"mcp:whoami", "entries:read", "entries:write"}},
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "mcp:", err)
		return 1
	}
	base := "http://" + ln.Addr().String()
	h, mw, err := newDemo(base, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		fmt.Fprintln(stderr, "mcp:", err)
		return 1
	}
	defer mw.Close()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(stdout, "MCP endpoint %s/mcp, metadata %s/.well-known/oauth-protected-resource/mcp\n", base, base)
	for _, c := range demoClients {
		fmt.Fprintf(stdout, "client %s:%s may %v\n", c.ID, c.Secret, c.Scopes)
	}
	fmt.Fprintf(stdout, "TOKEN=$(curl -s -u mcp-reader:mcp-reader-secret -d grant_type=client_credentials %s/oauth/token | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n", base)
	fmt.Fprintf(stdout, "listening on %s\n", base)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "mcp:", err)
		return 1
	}
	return 0
}

// newDemo builds the whole server at base: the development issuer (its
// discovery, keys and token endpoint), the RFC 9728 metadata, and the MCP
// endpoint warden protects.
func newDemo(base string, logger *slog.Logger) (http.Handler, *warden.Middleware, error) {
	resource := base + "/mcp"
	idp := wardentest.NewIssuerAt(base)
	idp.Audience = resource // tokens are minted for this MCP server (RFC 8707)
	for _, c := range demoClients {
		idp.AddClient(c)
	}
	mux := http.NewServeMux()
	mux.Handle("/", idp)
	h, mw, err := protect(mux, base, resource, base, logger)
	return h, mw, err
}

// protect mounts the MCP server on mux, guarded by warden trusting issuer
// for tokens whose audience is resource.
func protect(mux *http.ServeMux, base, resource, issuer string, logger *slog.Logger) (http.Handler, *warden.Middleware, error) {
	metadataURL, err := warden.MetadataURL(resource)
	if err != nil {
		return nil, nil, err
	}
	mw, err := warden.New(warden.Config{
		Issuers:             []warden.IssuerConfig{{URL: issuer, Audience: resource}},
		ResourceMetadataURL: metadataURL,                             // resource_metadata in every challenge
		DPoP:                warden.DPoPConfig{Mode: warden.DPoPOff}, // the SDK's clients send Bearer
		OnDecision:          warden.LogDecisions(logger),
		Logger:              logger,
		KeySetPolicy:        warden.KeySetPolicy{LazyStart: true}, // the issuer answers on this listener, once it serves
	})
	if err != nil {
		return nil, nil, err
	}
	md, err := mw.MetadataHandler(warden.ResourceMetadata{Resource: resource, ResourceName: "entries (MCP)",
		ScopesSupported: scopesSupported()})
	if err != nil {
		mw.Close()
		return nil, nil, err
	}
	mux.Handle("GET "+metadataURL[len(base):], md)
	mux.Handle("/mcp", handler(mw, newMCPServer(mw)))
	return mux, mw, nil
}
