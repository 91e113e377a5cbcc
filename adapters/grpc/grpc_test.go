package wardengrpc_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	wardengrpc "github.com/wardenhq/warden/adapters/grpc"
	"github.com/wardenhq/warden/wardentest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// fixture is a real gRPC server on loopback, over TLS that asks for (but
// does not require) a client certificate, protected by the interceptors.
type fixture struct {
	iss       *wardentest.Issuer
	mw        *warden.Middleware
	ca        *wardentest.Certificate
	client    *wardentest.Certificate // a client certificate of ca
	addr      string
	svc       *entries
	mu        sync.Mutex
	decisions []warden.Decision
}

func newFixture(t *testing.T, opts func(*warden.Middleware) wardengrpc.Options) *fixture {
	t.Helper()
	f := &fixture{iss: wardentest.NewIssuer(t), ca: wardentest.NewCA("ca")}
	f.client = f.ca.Issue("client")
	cfg := f.iss.StaticConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.OnDecision = func(_ context.Context, d warden.Decision) {
		f.mu.Lock()
		f.decisions = append(f.decisions, d)
		f.mu.Unlock()
	}
	mw, err := warden.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mw.Close() })
	f.mw = mw
	auth := wardengrpc.New(mw, opts(mw))
	server := f.ca.Issue("server", "127.0.0.1")
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{server.TLS()}, ClientAuth: tls.RequestClientCert})),
		grpc.UnaryInterceptor(auth.Unary), grpc.StreamInterceptor(auth.Stream))
	f.svc = &entries{mw: mw, calls: make(chan string, 16)}
	srv.RegisterService(&entriesService, f.svc)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	f.addr = lis.Addr().String()
	return f
}

func defaultOptions(*warden.Middleware) wardengrpc.Options {
	return wardengrpc.Options{
		Methods: map[string]warden.Requirement{
			listMethod:   warden.Scopes("Entry_Read"),
			watchMethod:  warden.Scopes("Entry_Read"),
			deleteMethod: {},
		},
		Public: []string{healthMethod},
	}
}

// conn dials the server, with the client certificate when withCert.
func (f *fixture) conn(t *testing.T, withCert bool) *grpc.ClientConn {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(f.ca.Cert)
	tc := &tls.Config{RootCAs: roots}
	if withCert {
		tc.Certificates = []tls.Certificate{f.client.TLS()}
	}
	cc, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func (f *fixture) takeDecisions() []warden.Decision {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.decisions
	f.decisions = nil
	return d
}

// outcome is what one call got.
type outcome struct {
	code    codes.Code
	message string
	trailer metadata.MD
	body    string
}

// invoke makes one call of method, unary or streaming, with the metadata.
func invoke(t *testing.T, cc *grpc.ClientConn, method string, md metadata.MD, arg string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), 10*time.Second)
	defer cancel()
	out := new(wrapperspb.StringValue)
	var trailer metadata.MD
	var err error
	if method == watchMethod {
		var s grpc.ClientStream
		s, err = cc.NewStream(ctx, &entriesService.Streams[0], method)
		if err == nil {
			if err = s.SendMsg(wrapperspb.String(arg)); err == nil {
				if err = s.CloseSend(); err == nil {
					err = s.RecvMsg(out)
				}
			}
			trailer = s.Trailer()
		}
	} else {
		err = cc.Invoke(ctx, method, wrapperspb.String(arg), out, grpc.Trailer(&trailer))
	}
	st, _ := status.FromError(err)
	return outcome{code: st.Code(), message: st.Message(), trailer: trailer, body: out.GetValue()}
}

const (
	bearerBare = `Bearer realm="api"`
	dpopBare   = `DPoP realm="api", algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"`
)

func invalidToken(desc string) []string {
	return []string{bearerBare + `, error="invalid_token", error_description="` + desc + `"`}
}

// TestInterceptors sends each case to the unary and the streaming method:
// the status code, the fixed message, the www-authenticate trailer, one
// Decision with the reason, and the principal in the handler.
func TestInterceptors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, defaultOptions)
	now := time.Now()
	key := wardentest.NewECKey("client-key")
	bound := f.iss.Mint(wardentest.Token{DPoPKey: key, Claims: wardentest.Claims{"scope": "Entry_Read"}})
	certBound := f.iss.Mint(wardentest.Token{Certificate: f.client.Cert, Claims: wardentest.Claims{"scope": "Entry_Read"}})
	bearer := func(tok string) metadata.MD { return metadata.Pairs("authorization", "Bearer "+tok) }
	rows := []struct {
		name       string
		md         func(method string) metadata.MD
		withCert   bool
		code       codes.Code
		message    string
		challenges []string
		reason     warden.Reason
		subject    string
	}{
		{name: "no token", md: func(string) metadata.MD { return nil }, code: codes.Unauthenticated,
			message: "Authentication is required", challenges: []string{bearerBare, dpopBare}, reason: warden.ReasonMissingCredentials},
		{name: "malformed", md: func(string) metadata.MD { return bearer("not-a-jwt") }, code: codes.Unauthenticated,
			message: "The access token is malformed", challenges: invalidToken("The access token is malformed"), reason: warden.ReasonMalformedToken},
		{name: "two values", md: func(string) metadata.MD {
			return metadata.Pairs("authorization", "Bearer a", "authorization", "Bearer b")
		}, code: codes.InvalidArgument, message: "The request is malformed",
			challenges: []string{bearerBare + `, error="invalid_request", error_description="The request is malformed"`}, reason: warden.ReasonMalformedRequest},
		{name: "expired", md: func(string) metadata.MD {
			return bearer(f.iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read",
				"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-30 * time.Minute).Unix()}}))
		}, code: codes.Unauthenticated, message: "The access token expired", challenges: invalidToken("The access token expired"), reason: warden.ReasonExpired},
		{name: "wrong audience", md: func(string) metadata.MD {
			return bearer(f.iss.Mint(wardentest.Token{Claims: wardentest.Claims{"scope": "Entry_Read", "aud": "https://other.example"}}))
		}, code: codes.Unauthenticated, message: "The access token is not intended for this resource",
			challenges: invalidToken("The access token is not intended for this resource"), reason: warden.ReasonWrongAudience},
		{name: "insufficient scope", md: func(string) metadata.MD { return bearer(f.iss.Scoped("Other")) },
			code: codes.PermissionDenied, message: "The request requires higher privileges than provided by the access token",
			challenges: []string{bearerBare + `, error="insufficient_scope", scope="Entry_Read"`}, reason: warden.ReasonInsufficientScope},
		{name: "good", md: func(string) metadata.MD { return bearer(f.iss.Scoped("Entry_Read")) }, code: codes.OK,
			reason: warden.ReasonOK, subject: "user-1"},
		{name: "Basic on a Bearer-only method", md: func(string) metadata.MD {
			return metadata.Pairs("authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("id:secret")))
		}, code: codes.Unauthenticated, message: "Authentication is required", challenges: []string{bearerBare, dpopBare}, reason: warden.ReasonUnsupportedScheme},
		{name: "DPoP good", md: func(method string) metadata.MD {
			proof := key.Proof(wardentest.Proof{Method: "POST", URL: "https://" + f.addr + method, AccessToken: bound})
			return metadata.Pairs("authorization", "DPoP "+bound, "dpop", proof)
		}, code: codes.OK, reason: warden.ReasonOK, subject: "user-1"},
		{name: "DPoP proof for HTTP's GET", md: func(method string) metadata.MD {
			proof := key.Proof(wardentest.Proof{Method: "GET", URL: "https://" + f.addr + method, AccessToken: bound})
			return metadata.Pairs("authorization", "DPoP "+bound, "dpop", proof)
		}, code: codes.Unauthenticated, message: "The DPoP proof is for another HTTP method",
			challenges: []string{dpopBare + `, error="invalid_dpop_proof", error_description="The DPoP proof is for another HTTP method"`},
			reason:     warden.ReasonDPoPWrongMethod},
		{name: "DPoP proof for another method", md: func(string) metadata.MD {
			proof := key.Proof(wardentest.Proof{Method: "POST", URL: "https://" + f.addr + "/warden.test.Entries/Other", AccessToken: bound})
			return metadata.Pairs("authorization", "DPoP "+bound, "dpop", proof)
		}, code: codes.Unauthenticated, message: "The DPoP proof is for another URI",
			challenges: []string{dpopBare + `, error="invalid_dpop_proof", error_description="The DPoP proof is for another URI"`},
			reason:     warden.ReasonDPoPWrongURI},
		{name: "DPoP-bound token as Bearer", md: func(string) metadata.MD { return bearer(bound) }, code: codes.Unauthenticated,
			message:    "The access token is bound to a key and must be presented with DPoP",
			challenges: append(invalidToken("The access token is bound to a key and must be presented with DPoP"), dpopBare),
			reason:     warden.ReasonDPoPDowngrade},
		{name: "certificate-bound without the certificate", md: func(string) metadata.MD { return bearer(certBound) },
			code: codes.Unauthenticated, message: "The access token is bound to a client certificate the request lacks",
			challenges: invalidToken("The access token is bound to a client certificate the request lacks"), reason: warden.ReasonCertificateMissing},
		{name: "certificate-bound with it", md: func(string) metadata.MD { return bearer(certBound) }, withCert: true,
			code: codes.OK, reason: warden.ReasonOK, subject: "user-1"},
	}
	plain, withCert := f.conn(t, false), f.conn(t, true)
	for _, row := range rows {
		for _, method := range []string{listMethod, watchMethod} {
			t.Run(row.name+" "+method, func(t *testing.T) {
				cc := plain
				if row.withCert {
					cc = withCert
				}
				f.takeDecisions()
				got := invoke(t, cc, method, row.md(method), "")
				if got.code != row.code || got.message != row.message {
					t.Errorf("status %v %q, want %v %q", got.code, got.message, row.code, row.message)
				}
				if ch := got.trailer.Get("www-authenticate"); !slices.Equal(ch, row.challenges) {
					t.Errorf("www-authenticate %q, want %q", ch, row.challenges)
				}
				ds := f.takeDecisions()
				if len(ds) != 1 || ds[0].Reason != row.reason {
					t.Fatalf("decisions %+v, want one %q", ds, row.reason)
				}
				ran := len(f.svc.calls) > 0
				for len(f.svc.calls) > 0 {
					<-f.svc.calls
				}
				if ran != (row.code == codes.OK) {
					t.Errorf("the handler ran: %v, for %v", ran, row.code)
				}
				if row.code == codes.OK {
					var p struct{ Subject string }
					if err := json.Unmarshal([]byte(got.body), &p); err != nil || p.Subject != row.subject {
						t.Errorf("handler saw %q, want subject %q", got.body, row.subject)
					}
				}
			})
		}
	}
}

// TestUnlistedAndPublic: an unlisted method is closed unless Unlisted
// opens it; a public one needs nothing. Neither makes a Decision when
// warden does not look at the call.
func TestUnlistedAndPublic(t *testing.T) {
	t.Parallel()
	closed := newFixture(t, func(*warden.Middleware) wardengrpc.Options {
		return wardengrpc.Options{Methods: map[string]warden.Requirement{listMethod: {}}, Public: []string{healthMethod}}
	})
	cc := closed.conn(t, false)
	good := metadata.Pairs("authorization", "Bearer "+closed.iss.Scoped("Entry_Read"))
	if got := invoke(t, cc, watchMethod, good, ""); got.code != codes.PermissionDenied || got.message != "The method is not open to any caller" || len(got.trailer.Get("www-authenticate")) != 0 {
		t.Errorf("unlisted: %+v", got)
	}
	if got := invoke(t, cc, healthMethod, nil, ""); got.code != codes.OK || got.body != "anonymous" {
		t.Errorf("public: %+v", got)
	}
	if got := invoke(t, cc, healthMethod, metadata.Pairs("authorization", "Bearer not-a-jwt"), ""); got.code != codes.OK {
		t.Errorf("public with a bad token: %+v", got)
	}
	if ds := closed.takeDecisions(); len(ds) != 0 {
		t.Errorf("decisions %+v, want none", ds)
	}

	open := newFixture(t, func(*warden.Middleware) wardengrpc.Options {
		req := warden.Scopes("Entry_Read")
		return wardengrpc.Options{Unlisted: &req}
	})
	cc = open.conn(t, false)
	if got := invoke(t, cc, watchMethod, metadata.Pairs("authorization", "Bearer "+open.iss.Scoped("Entry_Read")), ""); got.code != codes.OK {
		t.Errorf("Unlisted set: %+v", got)
	}
	if got := invoke(t, cc, watchMethod, metadata.Pairs("authorization", "Bearer "+open.iss.Scoped("")), ""); got.code != codes.PermissionDenied {
		t.Errorf("Unlisted set, scope missing: %+v", got)
	}
	if ds := open.takeDecisions(); len(ds) != 2 {
		t.Errorf("decisions %+v, want two", ds)
	}
}

// TestRefuse: a handler-level check answers as the interceptor would.
func TestRefuse(t *testing.T) {
	t.Parallel()
	f := newFixture(t, defaultOptions)
	cc := f.conn(t, false)
	md := metadata.Pairs("authorization", "Bearer "+f.iss.Scoped("entry:1"))
	if got := invoke(t, cc, deleteMethod, md, "1"); got.code != codes.OK {
		t.Errorf("entry 1: %+v", got)
	}
	got := invoke(t, cc, deleteMethod, md, "2")
	if got.code != codes.PermissionDenied || !slices.Equal(got.trailer.Get("www-authenticate"), []string{bearerBare + `, error="insufficient_scope", scope="entry:2"`}) {
		t.Errorf("entry 2: %+v", got)
	}
	if err := wardengrpc.Refuse(context.Background(), context.Canceled); err != context.Canceled {
		t.Errorf("Refuse changed another error: %v", err)
	}
	if wardengrpc.Refuse(context.Background(), nil) != nil {
		t.Error("Refuse(nil) is not nil")
	}
}

// TestNewPanics: configuration mistakes are found at start-up.
func TestNewPanics(t *testing.T) {
	t.Parallel()
	f := newFixture(t, defaultOptions)
	for _, opts := range []wardengrpc.Options{
		{Methods: map[string]warden.Requirement{"List": {}}},
		{Methods: map[string]warden.Requirement{"/svc/": {}}},
		{Public: []string{"/svc/a/b"}},
		{Methods: map[string]warden.Requirement{"/svc/a": {}}, Public: []string{"/svc/a"}},
		{Methods: map[string]warden.Requirement{"/svc/a": warden.Scopes("a b")}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v) did not panic", opts)
				}
			}()
			wardengrpc.New(f.mw, opts)
		}()
	}
}
