// Package wardengrpc protects a gRPC server with warden: unary and stream
// server interceptors that read the token from the "authorization"
// metadata, check each method's warden.Requirement, put the principal in
// the handler's context (warden.PrincipalFrom reads it) and answer every
// refusal with a gRPC status and the RFC 6750 challenge in a
// "www-authenticate" trailer.
//
//	auth := wardengrpc.New(mw, wardengrpc.Options{Methods: map[string]warden.Requirement{
//		"/entries.v1.Entries/List":   warden.Scopes("Entry_Read"),
//		"/entries.v1.Entries/Create": warden.Scopes("Entry_Write"),
//	}})
//	srv := grpc.NewServer(grpc.UnaryInterceptor(auth.Unary), grpc.StreamInterceptor(auth.Stream))
//
// The metadata is read by the rules of the HTTP Authorization header
// (Bearer, DPoP and Basic, one value), and the call goes through the same
// steps as an HTTP request (warden.Middleware.RequireCall), so it gets the
// same Decision, with the same Reason, as the same credentials would over
// HTTP; exactly one per call of a listed method, through
// warden.Config.OnDecision.
//
// # Status codes
//
//	HTTP  gRPC               when
//	400   InvalidArgument    malformed credentials (two authorization values, "Bearer" without a token)
//	401   Unauthenticated    no credentials, a bad, expired or untrusted token, bad client credentials
//	403   PermissionDenied   a valid token without the method's scope, role, client or claim
//	429   ResourceExhausted  too many failed Basic checks for one client id
//	503   Unavailable        the issuer's keys, the introspection endpoint or a store cannot be reached
//
// The status message is warden's fixed description ("The access token
// expired"): never a token, a claim or a cause. The trailers carry what the
// HTTP response's headers would: "www-authenticate" (every challenge, with
// error=, scope=, resource_metadata= as warden writes them),
// "retry-after" and "dpop-nonce".
//
// # DPoP and certificate-bound tokens
//
// gRPC runs over HTTP/2, where every call is a POST to
// scheme://authority/package.Service/Method. That is what a DPoP proof
// (RFC 9449, sent in the "dpop" metadata) must name: htm "POST" and htu
// the call's scheme ("https" on a TLS connection), its :authority and the
// full method name, or, when warden.Config.DPoP.PublicURL is set, that
// origin followed by the full method name, as for HTTP behind a proxy. A
// certificate-bound token (RFC 8705) is checked against the client
// certificate of the TLS connection.
package wardengrpc

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/wardenhq/warden"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Options says what each method of a server requires.
type Options struct {
	// Methods maps full method names ("/package.Service/Method", as in
	// grpc.UnaryServerInfo.FullMethod) to what a call of each requires.
	// The zero warden.Requirement admits every authenticated caller.
	Methods map[string]warden.Requirement
	// Unlisted is what a call of a method in neither Methods nor Public
	// requires. Nil, the default, refuses every such call with
	// PermissionDenied before its credentials are read (no Decision, as
	// for a path no route serves), so a method added to the server without
	// a line here is closed, not open.
	Unlisted *warden.Requirement
	// Public lists the methods anyone may call, with or without
	// credentials, which are then not read (no Decision): health checks,
	// server reflection. A method may not be both in Public and in Methods.
	Public []string
}

// Interceptor holds the compiled check of every method. Its Unary and
// Stream methods are the grpc.UnaryServerInterceptor and
// grpc.StreamServerInterceptor.
type Interceptor struct {
	methods  map[string]func(context.Context, warden.Call) (context.Context, *warden.Error)
	public   map[string]bool
	unlisted func(context.Context, warden.Call) (context.Context, *warden.Error) // nil: refused
}

// New compiles opts with mw: each method's check is built once, here. Like
// warden.Middleware.Require it panics on a requirement that is invalid or
// that no configured issuer can meet, on a method name that is not
// "/service/method", and on a method that is both public and listed: those
// are programming errors found at start-up. Use mw.Accept to take Basic
// client credentials too.
func New(mw *warden.Middleware, opts Options) *Interceptor {
	if mw == nil {
		panic("wardengrpc: New needs a warden.Middleware")
	}
	i := &Interceptor{methods: map[string]func(context.Context, warden.Call) (context.Context, *warden.Error){}, public: map[string]bool{}}
	for _, m := range opts.Public {
		checkName(m)
		i.public[m] = true
	}
	for m, req := range opts.Methods {
		checkName(m)
		if i.public[m] {
			panic("wardengrpc: " + m + " is both public and in Methods")
		}
		i.methods[m] = mw.RequireCall(req)
	}
	if opts.Unlisted != nil {
		i.unlisted = mw.RequireCall(*opts.Unlisted)
	}
	return i
}

// checkName panics unless m has the form of a full method name.
func checkName(m string) {
	svc, method, ok := strings.Cut(strings.TrimPrefix(m, "/"), "/")
	if !strings.HasPrefix(m, "/") || !ok || svc == "" || method == "" || strings.Contains(method, "/") {
		panic("wardengrpc: " + m + ` is not a full method name ("/package.Service/Method")`)
	}
}

// Unary is the grpc.UnaryServerInterceptor: the handler runs only for an
// admitted call, with the principal in its context.
func (i *Interceptor) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := i.check(ctx, info.FullMethod, func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) })
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// Stream is the grpc.StreamServerInterceptor: the handler runs only for an
// admitted call, with a stream whose Context holds the principal.
func (i *Interceptor) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := i.check(ss.Context(), info.FullMethod, ss.SetTrailer)
	if err != nil {
		return err
	}
	return handler(srv, &admittedStream{ServerStream: ss, ctx: ctx})
}

// admittedStream is a stream whose context holds the principal.
type admittedStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the context holding the principal.
func (s *admittedStream) Context() context.Context { return s.ctx }

// errUnlisted refuses a method nothing opened; the message is fixed text.
var errUnlisted = status.Error(codes.PermissionDenied, "The method is not open to any caller")

// check runs the method's check on the call ctx belongs to.
func (i *Interceptor) check(ctx context.Context, method string, setTrailer func(metadata.MD)) (context.Context, error) {
	if i.public[method] {
		return ctx, nil
	}
	chk, ok := i.methods[method]
	if !ok {
		chk = i.unlisted
	}
	if chk == nil {
		return ctx, errUnlisted
	}
	admitted, e := chk(ctx, callOf(ctx, method))
	if e != nil {
		setTrailer(trailer(e))
		return ctx, status.Error(code(e), e.Description())
	}
	return admitted, nil
}

// callOf reads what a gRPC call presents: its authorization and DPoP
// metadata, the URI it was made to, and the TLS client certificate.
func callOf(ctx context.Context, method string) warden.Call {
	md, _ := metadata.FromIncomingContext(ctx)
	c := warden.Call{Authorization: md.Get("authorization"), DPoP: md.Get("dpop"), Method: http.MethodPost}
	scheme := "http"
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			scheme = "https"
			if certs := ti.State.PeerCertificates; len(certs) > 0 {
				c.PeerCertificate = certs[0]
			}
		}
	}
	var authority string
	if a := md.Get(":authority"); len(a) == 1 {
		authority = a[0]
	}
	c.URI = scheme + "://" + authority + method
	return c
}

// code returns the gRPC status code of a refusal: the HTTP status warden
// would have answered, mapped as the package documentation's table says.
// An unknown status fails closed as Unauthenticated.
func code(e *warden.Error) codes.Code {
	switch e.Status() {
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	}
	return codes.Unauthenticated
}

// trailer carries what the HTTP response's headers would: the challenges,
// Retry-After and DPoP-Nonce, under lower-case keys (gRPC metadata).
func trailer(e *warden.Error) metadata.MD {
	md := metadata.MD{}
	for k, vs := range e.Header() {
		md[strings.ToLower(k)] = vs
	}
	return md
}

// Refuse turns a refusal a handler met (warden.Middleware.Authorize, a
// check only the handler can make: a per-item scope, a tool) into the
// status error to return, with its challenges set as trailers, as the
// interceptor would have answered it. Any other error, and nil, are
// returned as they are.
//
//	if err := mw.Authorize(ctx, p, warden.Scopes("entry:"+id)); err != nil {
//		return nil, wardengrpc.Refuse(ctx, err)
//	}
//
// In a stream handler, pass the stream's context.
func Refuse(ctx context.Context, err error) error {
	var e *warden.Error
	if !errors.As(err, &e) {
		return err
	}
	_ = grpc.SetTrailer(ctx, trailer(e))
	return status.Error(code(e), e.Description())
}
