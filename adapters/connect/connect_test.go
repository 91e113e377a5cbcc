package wardenconnect_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/wardenhq/warden"
	wardenconnect "github.com/wardenhq/warden/adapters/connect"
	"github.com/wardenhq/warden/wardentest"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	listProcedure   = "/warden.test.Entries/List"
	deleteProcedure = "/warden.test.Entries/Delete"
	healthProcedure = "/warden.test.Entries/Health"
	otherProcedure  = "/warden.test.Entries/Other"
	publicURL       = "https://api.example.test"
)

// fixture is a Connect server on loopback, its procedures written by hand
// (no codegen), each answering the principal it sees as JSON.
type fixture struct {
	iss       *wardentest.Issuer
	url       string
	mu        sync.Mutex
	decisions []warden.Decision
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{iss: wardentest.NewIssuer(t)}
	cfg := f.iss.StaticConfig()
	cfg.DPoP.PublicURL = publicURL
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
	auth := wardenconnect.New(mw, wardenconnect.Options{
		Procedures: map[string]warden.Requirement{listProcedure: warden.Scopes("Entry_Read"), deleteProcedure: {}},
		Public:     []string{healthProcedure},
	})
	whoami := func(ctx context.Context, _ *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
		p, ok := warden.PrincipalFrom(ctx)
		if !ok {
			return connect.NewResponse(wrapperspb.String("anonymous")), nil
		}
		b, _ := json.Marshal(p)
		return connect.NewResponse(wrapperspb.String(string(b))), nil
	}
	del := func(ctx context.Context, r *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
		p, _ := warden.PrincipalFrom(ctx)
		if err := mw.Authorize(ctx, p, warden.Scopes("entry:"+r.Msg.GetValue())); err != nil {
			return nil, wardenconnect.Refuse(err)
		}
		return whoami(ctx, r)
	}
	mux := http.NewServeMux()
	for _, p := range []string{listProcedure, healthProcedure, otherProcedure} {
		mux.Handle(p, connect.NewUnaryHandler(p, whoami, connect.WithInterceptors(auth)))
	}
	mux.Handle(deleteProcedure, connect.NewUnaryHandler(deleteProcedure, del, connect.WithInterceptors(auth)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fixture) take() []warden.Decision {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.decisions
	f.decisions = nil
	return d
}

const bearerBare = `Bearer realm="api"`

// TestInterceptor calls over the Connect and the gRPC protocols: the same
// code, message, WWW-Authenticate in the error's metadata, and one Decision.
func TestInterceptor(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	key := wardentest.NewECKey("client-key")
	bound := f.iss.Mint(wardentest.Token{DPoPKey: key, Claims: wardentest.Claims{"scope": "Entry_Read"}})
	rows := []struct {
		name       string
		procedure  string
		header     func(method string) http.Header
		code       connect.Code // 0: OK
		message    string
		challenges []string
		reason     warden.Reason
	}{
		{name: "no token", procedure: listProcedure, header: func(string) http.Header { return nil },
			code: connect.CodeUnauthenticated, message: "Authentication is required",
			challenges: []string{bearerBare, `DPoP realm="api", algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"`},
			reason:     warden.ReasonMissingCredentials},
		{name: "two values", procedure: listProcedure, header: func(string) http.Header {
			return http.Header{"Authorization": {"Bearer a", "Bearer b"}}
		}, code: connect.CodeInvalidArgument, message: "The request is malformed",
			challenges: []string{bearerBare + `, error="invalid_request", error_description="The request is malformed"`}, reason: warden.ReasonMalformedRequest},
		{name: "expired", procedure: listProcedure, header: func(string) http.Header {
			return http.Header{"Authorization": {"Bearer " + f.iss.Mint(wardentest.Token{Claims: wardentest.Claims{
				"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-30 * time.Minute).Unix()}})}}
		}, code: connect.CodeUnauthenticated, message: "The access token expired",
			challenges: []string{bearerBare + `, error="invalid_token", error_description="The access token expired"`}, reason: warden.ReasonExpired},
		{name: "insufficient scope", procedure: listProcedure, header: func(string) http.Header {
			return http.Header{"Authorization": {"Bearer " + f.iss.Scoped("Other")}}
		}, code: connect.CodePermissionDenied, message: "The request requires higher privileges than provided by the access token",
			challenges: []string{bearerBare + `, error="insufficient_scope", scope="Entry_Read"`}, reason: warden.ReasonInsufficientScope},
		{name: "good", procedure: listProcedure, header: func(string) http.Header {
			return http.Header{"Authorization": {"Bearer " + f.iss.Scoped("Entry_Read")}}
		}, reason: warden.ReasonOK},
		{name: "DPoP good", procedure: listProcedure, header: func(method string) http.Header {
			return http.Header{"Authorization": {"DPoP " + bound},
				"Dpop": {key.Proof(wardentest.Proof{Method: method, URL: publicURL + listProcedure, AccessToken: bound})}}
		}, reason: warden.ReasonOK},
		{name: "handler-level refusal", procedure: deleteProcedure, header: func(string) http.Header {
			return http.Header{"Authorization": {"Bearer " + f.iss.Scoped("entry:1")}}
		}, code: connect.CodePermissionDenied, message: "The request requires higher privileges than provided by the access token",
			challenges: []string{bearerBare + `, error="insufficient_scope", scope="entry:2"`}, reason: warden.ReasonOK},
	}
	for _, protocol := range []struct {
		name string
		opt  connect.ClientOption
	}{{"connect", nil}, {"grpc", connect.WithGRPC()}, {"grpc-web", connect.WithGRPCWeb()}} {
		for _, row := range rows {
			t.Run(protocol.name+" "+row.name, func(t *testing.T) {
				var opts []connect.ClientOption
				if protocol.opt != nil {
					opts = append(opts, protocol.opt)
				}
				client := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](http.DefaultClient, f.url+row.procedure, opts...)
				req := connect.NewRequest(wrapperspb.String("2"))
				for k, vs := range row.header(http.MethodPost) {
					req.Header()[k] = vs
				}
				f.take()
				res, err := client.CallUnary(context.Background(), req)
				if row.code == 0 {
					if err != nil || res.Msg.GetValue() == "anonymous" {
						t.Fatalf("got %v, %v", res, err)
					}
				} else {
					var ce *connect.Error
					if !errors.As(err, &ce) || ce.Code() != row.code || ce.Message() != row.message {
						t.Fatalf("got %v, want %v %q", err, row.code, row.message)
					}
					if got := ce.Meta().Values("WWW-Authenticate"); !slices.Equal(got, row.challenges) {
						t.Errorf("WWW-Authenticate %q, want %q", got, row.challenges)
					}
				}
				if ds := f.take(); len(ds) != 1 || ds[0].Reason != row.reason {
					t.Errorf("decisions %+v, want one %q", ds, row.reason)
				}
			})
		}
	}
}

// TestUnlistedAndPublic: closed unless opened; public needs nothing.
func TestUnlistedAndPublic(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	call := func(procedure string) error {
		client := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](http.DefaultClient, f.url+procedure)
		req := connect.NewRequest(wrapperspb.String(""))
		req.Header().Set("Authorization", "Bearer "+f.iss.Scoped("Entry_Read"))
		_, err := client.CallUnary(context.Background(), req)
		return err
	}
	if err := call(otherProcedure); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("unlisted: %v", err)
	}
	if err := call(healthProcedure); err != nil {
		t.Errorf("public: %v", err)
	}
	if ds := f.take(); len(ds) != 0 {
		t.Errorf("decisions %+v, want none", ds)
	}
	if wardenconnect.Refuse(nil) != nil || wardenconnect.Refuse(context.Canceled) != context.Canceled {
		t.Error("Refuse changed what is no refusal")
	}
}

// TestNewPanics: configuration mistakes are found at start-up.
func TestNewPanics(t *testing.T) {
	t.Parallel()
	iss := wardentest.NewIssuer(t)
	mw, err := warden.New(iss.StaticConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	for _, opts := range []wardenconnect.Options{
		{Procedures: map[string]warden.Requirement{"List": {}}},
		{Public: []string{"/a"}},
		{Procedures: map[string]warden.Requirement{"/s/a": {}}, Public: []string{"/s/a"}},
		{Procedures: map[string]warden.Requirement{"/s/a": warden.Scopes("a b")}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v) did not panic", opts)
				}
			}()
			wardenconnect.New(mw, opts)
		}()
	}
}
