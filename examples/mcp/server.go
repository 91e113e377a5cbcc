package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/wardenhq/warden"
)

// This file is what an MCP server author writes: tools, each with the scope
// calling it requires, and three lines that put warden in front of the
// SDK's streamable HTTP handler. warden does the rest: the RFC 9728
// metadata, every 401 and 403 with its challenge (resource_metadata in each,
// scope="…" in each insufficient_scope), one decision per request.

// toolScopes is the scope each tool requires of the caller.
var toolScopes = map[string]string{
	"whoami":       "mcp:whoami",
	"list_entries": "entries:read",
	"delete_entry": "entries:write",
}

// entry is one item the tools serve.
type entry struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// newMCPServer registers the tools. Each handler checks its own scope again
// with Middleware.Authorize: the check in front of the SDK (toolGate)
// gives MCP clients the HTTP challenge they act on, and this one holds
// whatever the SDK made of the request's bytes.
func newMCPServer(mw *warden.Middleware) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "entries", Version: "v1.0.0"}, nil)
	type whoamiOut struct {
		Subject  string   `json:"subject"`
		ClientID string   `json:"client_id"`
		Scopes   []string `json:"scopes"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "whoami", Description: "The caller warden authenticated"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoamiOut, error) {
			p, err := caller(ctx, mw, req, "whoami")
			if err != nil {
				return nil, whoamiOut{}, err
			}
			return nil, whoamiOut{Subject: p.Subject(), ClientID: p.ClientID(), Scopes: p.Scopes()}, nil
		})
	type listOut struct {
		Entries []entry `json:"entries"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "list_entries", Description: "List the entries"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, listOut, error) {
			if _, err := caller(ctx, mw, req, "list_entries"); err != nil {
				return nil, listOut{}, err
			}
			return nil, listOut{Entries: []entry{{"1", "Hello"}, {"2", "World"}}}, nil
		})
	type deleteIn struct {
		ID string `json:"id" jsonschema:"the entry to delete"`
	}
	type deleteOut struct {
		Deleted string `json:"deleted"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "delete_entry", Description: "Delete an entry"},
		func(ctx context.Context, req *mcp.CallToolRequest, in deleteIn) (*mcp.CallToolResult, deleteOut, error) {
			if _, err := caller(ctx, mw, req, "delete_entry"); err != nil {
				return nil, deleteOut{}, err
			}
			return nil, deleteOut{Deleted: in.ID}, nil
		})
	return s
}

// caller returns the principal of the HTTP request that carried the call,
// once it holds the tool's scope.
func caller(ctx context.Context, mw *warden.Middleware, req *mcp.CallToolRequest, tool string) (*warden.Principal, error) {
	var p *warden.Principal
	if ti := req.Extra.TokenInfo; ti != nil {
		p, _ = ti.Extra[principalKey].(*warden.Principal)
	}
	if err := mw.Authorize(ctx, p, warden.Scopes(toolScopes[tool])); err != nil {
		var e *warden.Error
		if errors.As(err, &e) {
			return nil, fmt.Errorf("%s: %s", e.Code(), e.Description()) // fixed text, never a cause
		}
		return nil, err
	}
	return p, nil
}

// principalKey is where the principal travels in the SDK's auth.TokenInfo.
const principalKey = "warden.principal"

// handler is the MCP endpoint: warden authenticates every request (401
// with resource_metadata), toolGate checks each tool call's scope (403
// insufficient_scope), and the principal reaches the tool handlers through
// the SDK's TokenInfo, which also binds each MCP session to its user.
func handler(mw *warden.Middleware, s *mcp.Server) http.Handler {
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	toTokenInfo := auth.RequireBearerToken(func(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
		p, ok := warden.PrincipalFrom(r.Context())
		if !ok {
			return nil, auth.ErrInvalidToken // never: warden admitted the request
		}
		return &auth.TokenInfo{Scopes: p.Scopes(), Expiration: p.ExpiresAt(), UserID: p.Issuer() + " " + p.Subject(),
			Extra: map[string]any{principalKey: p}}, nil
	}, nil)
	return mw.Authenticate(toolGate(mw, toTokenInfo(sdk)))
}

// maxMessage bounds the JSON-RPC message toolGate reads.
const maxMessage = 4 << 20

// toolGate checks the scope of every tool a tools/call message calls with
// Middleware.Check, which writes what a route requiring it would write:
// 403, WWW-Authenticate: Bearer …, error="insufficient_scope",
// scope="entries:write", with resource_metadata, the challenge MCP clients
// act on (MCP authorization, "Scope Challenge Handling"). It runs in front
// of the SDK, which answers a call inside a JSON-RPC response, after the
// HTTP status is sent. A batch (an array) has each of its calls checked.
func toolGate(mw *warden.Middleware, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMessage))
		if err != nil {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		msgs := []json.RawMessage{body}
		if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '[' {
			_ = json.Unmarshal(b, &msgs)
		}
		for _, raw := range msgs {
			var m struct {
				Method string `json:"method"`
				Params struct {
					Name string `json:"name"`
				} `json:"params"`
			}
			if json.Unmarshal(raw, &m) != nil || m.Method != "tools/call" {
				continue
			}
			scope, ok := toolScopes[m.Params.Name]
			if !ok {
				continue // the SDK answers that the tool does not exist
			}
			if !mw.Check(w, r, warden.Scopes(scope)) {
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// scopesSupported lists every tool scope, for the RFC 9728 metadata.
func scopesSupported() []string {
	return slices.Compact(slices.Sorted(maps.Values(toolScopes)))
}
