package warden_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Rows that depend on the real HTTP server: raw bytes written to a TCP
// connection on 127.0.0.1, so that net/http's own header parsing (OWS
// trimming, repeated fields, header-size limit, control bytes) takes part.

// atkWireServer serves the table's route over loopback and counts the
// requests that reach the middleware.
func atkWireServer(t *testing.T, fx *atkFixture) (addr string, reached *atomic.Int64) {
	t.Helper()
	reached = &atomic.Int64{}
	route := fx.handler(atkRow{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		route.ServeHTTP(w, r)
	}))
	// net/http pauses half a second before closing a connection it refused
	// itself (A18, A20), and Close waits for that pause: let it run out
	// after the test instead of holding one of the parallel tests' slots.
	t.Cleanup(func() { go srv.Close() })
	return srv.Listener.Addr().String(), reached
}

// atkRawRequest writes raw to a new connection and reads one response. The
// write runs concurrently so that a server refusing a huge request early
// cannot deadlock the test.
func atkRawRequest(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err, "dial")
	defer conn.Close()
	// A bound on a hung server, not a timing assertion.
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	go func() { _, _ = io.WriteString(conn, raw) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "reading the response")
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// TestAttackWire runs rows A2, A5, A8, A10, A11, A18, A19, A20 and G14 on a
// real net/http server.
func TestAttackWire(t *testing.T) {
	t.Parallel()
	fx := newAtkFixture(t)
	addr, reached := atkWireServer(t, fx)
	t0 := fx.t0
	basic := basicAuth("c1:s3cr3t")
	req := func(lines ...string) string {
		return "GET /x HTTP/1.1\r\nHost: api.test\r\n" + strings.Join(lines, "\r\n") + "\r\nConnection: close\r\n\r\n"
	}
	ok := echoBody("user1", "c1", "Bearer", "")
	for _, tc := range []struct {
		id         string
		raw        string
		status     int
		challenges []string
		body       string // exact body of a middleware response
		reaches    bool   // whether the middleware runs at all
	}{
		{"A2", req("Authorization: bearer " + t0), 200, nil, ok, true},
		// A5: net/http trims the OWS around a field value.
		{"A5", req("Authorization:   Bearer " + t0 + "   "), 200, nil, ok, true},
		{"A5-tab", req("Authorization:\t Bearer " + t0 + " \t"), 200, nil, ok, true},
		// A8 (issue 2): "Bearer " trims to "Bearer": no token, 400.
		{"A8", req("Authorization: Bearer "), 400, []string{reqChallenge}, bodyReq, true},
		{"A10", req("Authorization: Bearer "+t0, "Authorization: Bearer "+t0), 400, []string{reqChallenge}, bodyReq, true},
		// The field name is case-insensitive: net/http merges both lines.
		{"A10-case", req("Authorization: Bearer "+t0, "authorization: Bearer "+t0), 400, []string{reqChallenge}, bodyReq, true},
		{"A11", req("Authorization: Bearer "+t0, "Authorization: "+basic), 400, []string{reqChallenge}, bodyReq, true},
		{"A19", req("Authorization: Bearer café.x.y"), 401, tokChallenge(descMalformed), tokBody(descMalformed), true},
		{"G14", req("Authorization: "+basic, "Authorization: "+basic), 400, []string{reqChallenge}, bodyReq, true},
		// A18: over net/http's DefaultMaxHeaderBytes (1 MiB): 431 before the
		// middleware runs.
		{"A18", req("Authorization: Bearer " + strings.Repeat("a", 1<<20+4096)), 431, nil, "", false},
		// A20: a control byte in a field value: net/http answers 400 itself.
		{"A20", req("Authorization: Bearer " + t0[:10] + "\x01" + t0[10:]), 400, nil, "", false},
	} {
		t.Run(tc.id, func(t *testing.T) {
			before := reached.Load()
			resp, body := atkRawRequest(t, addr, tc.raw)
			assert.Equal(t, tc.status, resp.StatusCode, "status (body %q)", body)
			assert.Equal(t, tc.challenges, resp.Header.Values("WWW-Authenticate"), "WWW-Authenticate")
			assert.Equal(t, tc.reaches, reached.Load() > before, "the middleware ran")
			if tc.reaches {
				assert.Equal(t, tc.body, body, "body")
			}
			assert.NotContains(t, body, t0[:20], "the response echoes the token")
		})
	}
}
