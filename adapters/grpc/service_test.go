package wardengrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/wardenhq/warden"
	wardengrpc "github.com/wardenhq/warden/adapters/grpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The test service, written by hand to need no protoc: warden.test.Entries
// with a unary method List and a server-streaming method Watch, both of
// which answer the principal they see as JSON, and a unary method Delete
// that checks a scope only the handler knows with Middleware.Authorize.

const (
	listMethod   = "/warden.test.Entries/List"
	watchMethod  = "/warden.test.Entries/Watch"
	deleteMethod = "/warden.test.Entries/Delete"
	healthMethod = "/warden.test.Entries/Health"
)

// entries serves the methods; mw is the Middleware Delete asks.
type entries struct {
	mw    *warden.Middleware
	calls chan string // the method of every handler that ran
}

func whoami(ctx context.Context) (*wrapperspb.StringValue, error) {
	p, ok := warden.PrincipalFrom(ctx)
	if !ok {
		return wrapperspb.String("anonymous"), nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, status.Error(codes.Internal, "principal does not marshal")
	}
	return wrapperspb.String(string(b)), nil
}

func unary(method string, h func(*entries, context.Context, *wrapperspb.StringValue) (any, error)) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: method[len("/warden.test.Entries/"):],
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			s := srv.(*entries)
			run := func(ctx context.Context, req any) (any, error) {
				s.calls <- method
				return h(s, ctx, req.(*wrapperspb.StringValue))
			}
			if interceptor == nil {
				return run(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: method}, run)
		},
	}
}

var entriesService = grpc.ServiceDesc{
	ServiceName: "warden.test.Entries",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		unary(listMethod, func(_ *entries, ctx context.Context, _ *wrapperspb.StringValue) (any, error) { return whoami(ctx) }),
		unary(healthMethod, func(_ *entries, ctx context.Context, _ *wrapperspb.StringValue) (any, error) { return whoami(ctx) }),
		unary(deleteMethod, func(s *entries, ctx context.Context, in *wrapperspb.StringValue) (any, error) {
			p, _ := warden.PrincipalFrom(ctx)
			if err := s.mw.Authorize(ctx, p, warden.Scopes("entry:"+in.GetValue())); err != nil {
				return nil, wardengrpc.Refuse(ctx, err)
			}
			return whoami(ctx)
		}),
	},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Watch",
		ServerStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error {
			srv.(*entries).calls <- watchMethod
			in := new(wrapperspb.StringValue)
			if err := ss.RecvMsg(in); err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			out, err := whoami(ss.Context())
			if err != nil {
				return err
			}
			return ss.SendMsg(out)
		},
	}},
}
