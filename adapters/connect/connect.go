// Package wardenconnect protects a Connect server (connectrpc.com/connect)
// with warden: an interceptor that checks each procedure's
// warden.Requirement, puts the principal in the handler's context
// (warden.PrincipalFrom reads it) and answers every refusal with a
// *connect.Error whose code is the one adapters/grpc uses, whose message is
// warden's fixed description, and whose metadata holds the challenges.
//
//	auth := wardenconnect.New(mw, wardenconnect.Options{Procedures: map[string]warden.Requirement{
//		entriesv1connect.EntriesListProcedure: warden.Scopes("Entry_Read"),
//	}})
//	mux.Handle(entriesv1connect.NewEntriesHandler(svc, connect.WithInterceptors(auth)))
//
// Connect serves over net/http, so warden's HTTP middleware works in front
// of a Connect handler too; but a Connect client then sees a plain HTTP 401
// or 403, and maps a 400 to Internal and a 429 to Unavailable, without
// warden's message. The interceptor answers in the protocol the client
// speaks (Connect, gRPC or gRPC-Web):
//
//	HTTP  Connect code       when
//	400   InvalidArgument    malformed credentials
//	401   Unauthenticated    no credentials, a bad, expired or untrusted token
//	403   PermissionDenied   a valid token without the procedure's scope, role, client or claim
//	429   ResourceExhausted  too many failed Basic checks for one client id
//	503   Unavailable        keys, introspection or a store unreachable
//
// Error metadata (response headers in the Connect protocol, trailers in
// gRPC) carries WWW-Authenticate, Retry-After and DPoP-Nonce as the HTTP
// path writes them. Exactly one Decision is made per call of a listed
// procedure.
//
// DPoP proofs (the DPoP header) name htm as the HTTP method (POST, or GET
// for Connect's GET requests) and htu as warden.Config.DPoP.PublicURL
// followed by the procedure's path, which must then be set: an interceptor
// does not see the Host the client addressed. Nor does it see the TLS
// connection, so a certificate-bound token (RFC 8705) is refused as lacking
// its certificate: serve those behind warden's HTTP middleware.
package wardenconnect

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"github.com/wardenhq/warden"
)

// Options says what each procedure of a server requires.
type Options struct {
	// Procedures maps procedure names ("/package.Service/Method", as in
	// connect.Spec.Procedure) to what a call of each requires. The zero
	// warden.Requirement admits every authenticated caller.
	Procedures map[string]warden.Requirement
	// Unlisted is what a call of a procedure in neither Procedures nor
	// Public requires. Nil, the default, refuses every such call with
	// PermissionDenied before its credentials are read (no Decision), so a
	// procedure added without a line here is closed, not open.
	Unlisted *warden.Requirement
	// Public lists the procedures anyone may call; their credentials are
	// not read (no Decision).
	Public []string
}

// Interceptor is the connect.Interceptor that checks every call.
type Interceptor struct {
	procedures map[string]func(context.Context, warden.Call) (context.Context, *warden.Error)
	public     map[string]bool
	unlisted   func(context.Context, warden.Call) (context.Context, *warden.Error) // nil: refused
}

var _ connect.Interceptor = (*Interceptor)(nil)

// New compiles opts with mw, each procedure's check once. Like
// warden.Middleware.Require it panics on an invalid requirement, on a name
// that is not "/service/method", and on a procedure that is both public
// and listed: programming errors found at start-up.
func New(mw *warden.Middleware, opts Options) *Interceptor {
	if mw == nil {
		panic("wardenconnect: New needs a warden.Middleware")
	}
	i := &Interceptor{procedures: map[string]func(context.Context, warden.Call) (context.Context, *warden.Error){}, public: map[string]bool{}}
	for _, p := range opts.Public {
		checkName(p)
		i.public[p] = true
	}
	for p, req := range opts.Procedures {
		checkName(p)
		if i.public[p] {
			panic("wardenconnect: " + p + " is both public and in Procedures")
		}
		i.procedures[p] = mw.RequireCall(req)
	}
	if opts.Unlisted != nil {
		i.unlisted = mw.RequireCall(*opts.Unlisted)
	}
	return i
}

// WrapUnary checks a unary call before its handler runs.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := i.check(ctx, req.Spec().Procedure, req.HTTPMethod(), req.Header())
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient leaves clients alone.
func (i *Interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler checks a streaming call before its handler runs.
func (i *Interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.check(ctx, conn.Spec().Procedure, http.MethodPost, conn.RequestHeader())
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// errUnlisted refuses a procedure nothing opened.
var errUnlisted = connect.NewError(connect.CodePermissionDenied, message("The procedure is not open to any caller"))

// message is the fixed, client-safe text of a refusal, a sentence as
// warden's descriptions are.
type message string

func (m message) Error() string { return string(m) }

func (i *Interceptor) check(ctx context.Context, procedure, method string, h http.Header) (context.Context, error) {
	if i.public[procedure] {
		return ctx, nil
	}
	chk, ok := i.procedures[procedure]
	if !ok {
		chk = i.unlisted
	}
	if chk == nil {
		return ctx, errUnlisted
	}
	admitted, e := chk(ctx, warden.Call{Authorization: h.Values("Authorization"), DPoP: h.Values("DPoP"),
		Method: method, URI: procedure})
	if e != nil {
		return ctx, refusal(e)
	}
	return admitted, nil
}

// refusal is the Connect error of a warden refusal.
func refusal(e *warden.Error) *connect.Error {
	ce := connect.NewError(code(e), message(e.Description()))
	for k, vs := range e.Header() {
		for _, v := range vs {
			ce.Meta().Add(k, v)
		}
	}
	return ce
}

// code maps the HTTP status warden would have answered; an unknown one
// fails closed as Unauthenticated.
func code(e *warden.Error) connect.Code {
	switch e.Status() {
	case http.StatusBadRequest:
		return connect.CodeInvalidArgument
	case http.StatusForbidden:
		return connect.CodePermissionDenied
	case http.StatusTooManyRequests:
		return connect.CodeResourceExhausted
	case http.StatusServiceUnavailable:
		return connect.CodeUnavailable
	}
	return connect.CodeUnauthenticated
}

// Refuse turns a refusal a handler met (warden.Middleware.Authorize, for a
// requirement only the handler knows) into the *connect.Error to return,
// as the interceptor would have answered it. Any other error, and nil, are
// returned as they are.
func Refuse(err error) error {
	var e *warden.Error
	if !errors.As(err, &e) {
		return err
	}
	return refusal(e)
}

// checkName panics unless p has the form "/service/method".
func checkName(p string) {
	svc, method, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !strings.HasPrefix(p, "/") || !ok || svc == "" || method == "" || strings.Contains(method, "/") {
		panic("wardenconnect: " + p + ` is not a procedure name ("/package.Service/Method")`)
	}
}
