package wardengrpc_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"

	"github.com/wardenhq/warden"
	wardengrpc "github.com/wardenhq/warden/adapters/grpc"
	"github.com/wardenhq/warden/wardentest"
	"golang.org/x/oauth2/clientcredentials"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/oauth"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// A gRPC server protected by warden, and a client calling it with client
// credentials: golang.org/x/oauth2/clientcredentials gets the token from
// the authorization server (and a new one before it expires), and
// grpc/credentials/oauth attaches it to every call as the "authorization"
// metadata. oauth.TokenSource sends tokens over TLS only.
func Example() {
	idp := wardentest.StartIssuer() // stands for your authorization server
	defer idp.Close()
	idp.AddClient(wardentest.Client{ID: "reports", Secret: "reports-secret", Scopes: []string{"Entry_Read"}})
	ca := wardentest.NewCA("ca")
	serverCert := ca.Issue("server", "127.0.0.1")

	// The server.
	mw, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: idp.URL, Audience: idp.Audience}}})
	if err != nil {
		panic(err)
	}
	defer mw.Close()
	auth := wardengrpc.New(mw, wardengrpc.Options{Methods: map[string]warden.Requirement{
		"/warden.test.Entries/List":  warden.Scopes("Entry_Read"),
		"/warden.test.Entries/Watch": warden.Scopes("Entry_Read"),
	}})
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{serverCert.TLS()}})),
		grpc.UnaryInterceptor(auth.Unary), grpc.StreamInterceptor(auth.Stream))
	srv.RegisterService(&entriesService, &entries{mw: mw, calls: make(chan string, 8)})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	// The client.
	tokens := clientcredentials.Config{
		ClientID:     "reports",
		ClientSecret: "reports-secret",
		TokenURL:     idp.URL + "/oauth/token",
		Scopes:       []string{"Entry_Read"},
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots})),
		grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: tokens.TokenSource(context.Background())}))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	out := new(wrapperspb.StringValue)
	if err := conn.Invoke(context.Background(), "/warden.test.Entries/List", wrapperspb.String(""), out); err != nil {
		panic(err)
	}
	fmt.Println(out.GetValue()[:len(`{"subject":"reports"`)])

	// Without a token.
	bare, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots})))
	if err != nil {
		panic(err)
	}
	defer bare.Close()
	err = bare.Invoke(context.Background(), "/warden.test.Entries/List", wrapperspb.String(""), out)
	fmt.Println(status.Code(err), status.Convert(err).Message())
	// Output:
	// {"subject":"reports"
	// Unauthenticated Authentication is required
}
