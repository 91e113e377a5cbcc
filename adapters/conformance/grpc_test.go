package conformance_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	wardengrpc "github.com/wardenhq/warden/adapters/grpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The gRPC side of the conformance suite: the routes of servers_test.go as
// the unary methods of a service written by hand (no protoc), each
// answering the principal as JSON, as the HTTP handlers do.

// rpcMethods maps each route's path to its method.
var rpcMethods = map[string]string{
	"/entries":       "/conformance.Routes/Entries",
	"/projects":      "/conformance.Routes/Projects",
	"/whoami":        "/conformance.Routes/Whoami",
	"/organisations": "/conformance.Routes/Organisations",
}

func routesService() *grpc.ServiceDesc {
	desc := &grpc.ServiceDesc{ServiceName: "conformance.Routes", HandlerType: (*any)(nil)}
	for _, method := range rpcMethods {
		desc.Methods = append(desc.Methods, grpc.MethodDesc{
			MethodName: method[strings.LastIndexByte(method, '/')+1:],
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				in := new(wrapperspb.StringValue)
				if err := dec(in); err != nil {
					return nil, err
				}
				return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: method},
					func(ctx context.Context, _ any) (any, error) {
						srv.(*rpcServer).calls++
						status, body := principalBody(warden.PrincipalFrom(ctx))
						if status != http.StatusOK {
							return nil, errNoPrincipal
						}
						return wrapperspb.String(string(body)), nil
					})
			},
		})
	}
	return desc
}

var errNoPrincipal = status.Error(codes.Internal, "no principal")

// rpcServer is a gRPC server on loopback with the routes' requirements.
type rpcServer struct {
	conn      *grpc.ClientConn
	addr      string
	calls     int // handler runs; the test's calls are sequential
	decisions *decisionLog
}

// startGRPC serves the routes over gRPC. Methods that take Basic too are
// checked by an interceptor built on the Middleware view that accepts it;
// each interceptor lists the others' methods as public, so a call gets one
// check and one Decision.
func startGRPC(t *testing.T, cfg warden.Config) *rpcServer {
	t.Helper()
	s := &rpcServer{decisions: new(decisionLog)}
	cs, err := clients()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clients, cfg.OnDecision = mustStore(t, cs), s.decisions.hook
	m, err := warden.New(cfg)
	if err != nil {
		t.Fatalf("warden.New: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	entries, projects, whoami, orgs := rpcMethods["/entries"], rpcMethods["/projects"], rpcMethods["/whoami"], rpcMethods["/organisations"]
	bearer := wardengrpc.New(m, wardengrpc.Options{
		Methods: map[string]warden.Requirement{
			entries:  warden.Scopes("Entry_Read"),
			projects: warden.AnyScope("Project_Read", "Project_Admin"),
		},
		Public: []string{whoami, orgs},
	})
	either := wardengrpc.New(m.Accept(warden.SchemeBearer, warden.SchemeBasic), wardengrpc.Options{
		Methods: map[string]warden.Requirement{whoami: {}}, Public: []string{entries, projects, orgs}})
	basic := wardengrpc.New(m.Accept(warden.SchemeBasic), wardengrpc.Options{
		Methods: map[string]warden.Requirement{orgs: warden.Scopes("Organisation_Read")}, Public: []string{entries, projects, whoami}})
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(bearer.Unary, either.Unary, basic.Unary))
	srv.RegisterService(routesService(), s)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	s.addr = lis.Addr().String()
	if s.conn, err = grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.conn.Close() })
	return s
}

// httpToCode is the mapping adapters/grpc documents.
var httpToCode = map[int]codes.Code{200: codes.OK, 400: codes.InvalidArgument, 401: codes.Unauthenticated,
	403: codes.PermissionDenied, 429: codes.ResourceExhausted, 503: codes.Unavailable}

// check makes tc's call over gRPC and requires it to answer what the HTTP
// response ref says, with one Decision of reason.
func (s *rpcServer) check(t *testing.T, tc conformanceCase, ref []byte, reason warden.Reason) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(ref)), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	method := rpcMethods[tc.path]
	md := metadata.MD{}
	for _, a := range tc.auth {
		md.Append("authorization", a)
	}
	if tc.dpop != nil {
		md.Append("dpop", tc.dpop("http://"+s.addr+method, http.MethodPost)) // gRPC is a POST (RFC 9113 §8.3.1, gRPC over HTTP/2)
	}
	ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), 10*time.Second)
	defer cancel()
	s.decisions.take()
	before := s.calls
	out := new(wrapperspb.StringValue)
	var trailer metadata.MD
	err = s.conn.Invoke(ctx, method, wrapperspb.String(""), out, grpc.Trailer(&trailer))
	st := status.Convert(err)

	if want := httpToCode[resp.StatusCode]; st.Code() != want {
		t.Errorf("gRPC: code %v, want %v (HTTP %d)", st.Code(), want, resp.StatusCode)
	}
	if ch := trailer.Get("www-authenticate"); !slices.Equal(ch, resp.Header.Values("WWW-Authenticate")) {
		t.Errorf("gRPC: www-authenticate %q, HTTP %q", ch, resp.Header.Values("WWW-Authenticate"))
	}
	if ra := trailer.Get("retry-after"); !slices.Equal(ra, resp.Header.Values("Retry-After")) {
		t.Errorf("gRPC: retry-after %q, HTTP %q", ra, resp.Header.Values("Retry-After"))
	}
	if resp.StatusCode == http.StatusOK {
		if out.GetValue() != string(body) {
			t.Errorf("gRPC: principal %s, HTTP %s", out.GetValue(), body)
		}
	} else {
		var e struct {
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &e) != nil || st.Message() != e.Description {
			t.Errorf("gRPC: message %q, HTTP body %s", st.Message(), body)
		}
	}
	if ran := s.calls - before; ran != 0 && ran != 1 || (ran == 1) != (resp.StatusCode == http.StatusOK) {
		t.Errorf("gRPC: handler ran %d times for a %d", ran, resp.StatusCode)
	}
	if ds := s.decisions.take(); len(ds) != 1 || ds[0].Reason != reason {
		t.Errorf("gRPC: decisions %+v, want one %q", ds, reason)
	}
}
