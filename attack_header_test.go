package warden_test

import (
	"net/http"
	"strings"
	"testing"
)

// atkHeaderRows are table section A: how credentials are found in the
// request. A5, A10, A11, A18 and A20 also run on the wire
// (attack_wire_test.go), where net/http's own parsing takes part.
func atkHeaderRows(fx *atkFixture) []atkRow {
	t0 := fx.t0
	ok := echoBody("user1", "c1", "Bearer", "")
	return []atkRow{
		{id: "A1", status: 401, challenges: bareBoth, body: bodyNone},
		{id: "A2", auth: []string{"bearer " + t0}, status: 200, body: ok},
		{id: "A3", auth: []string{"BEARER " + t0}, status: 200, body: ok},
		{id: "A4", auth: []string{"Bearer  " + t0}, status: 200, body: ok},
		// A5 in a direct handler test: the middleware trims OWS itself.
		{id: "A5", auth: []string{"   Bearer " + t0 + "   "}, status: 200, body: ok},
		{id: "A6", auth: []string{"Bearer\t" + t0}, status: 401, challenges: tokChallenge(descMalformed), body: tokBody(descMalformed)},
		// A7/A8 [POLICY]: issue 2 decides "Bearer with no token" is a
		// malformed request, 400 invalid_request (RFC 6750 §3.1 "missing a
		// required parameter"), not the table's 401 invalid_token.
		{id: "A7", note: "issue 2: 400", auth: []string{"Bearer"}, status: 400, challenges: []string{reqChallenge}, body: bodyReq},
		{id: "A8", note: "issue 2: 400", auth: []string{"Bearer "}, status: 400, challenges: []string{reqChallenge}, body: bodyReq},
		{id: "A9", auth: []string{""}, status: 401, challenges: bareBoth, body: bodyNone},
		{id: "A10", auth: []string{"Bearer " + t0, "Bearer " + t0}, status: 400, challenges: []string{reqChallenge}, body: bodyReq},
		{id: "A11", auth: []string{"Bearer " + t0, basicAuth("c1:s3cr3t")}, status: 400, challenges: []string{reqChallenge}, body: bodyReq},
		// A12: "," is outside b64token, so the credentials are malformed.
		{id: "A12", auth: []string{"Bearer " + t0 + ", Bearer " + t0}, status: 401, challenges: tokChallenge(descMalformed), body: tokBody(descMalformed)},
		// A13/A15 [POLICY]: query and body transport are off by default
		// (Config.AllowQueryToken/AllowFormToken), so such a token is no
		// credentials at all.
		{id: "A13", query: "access_token=" + t0, status: 401, challenges: bareBoth, body: bodyNone},
		// A14 [POLICY]: a header and a query token are two methods, even with
		// query transport off: 400 (RFC 6750 §3.1).
		{id: "A14", auth: []string{"Bearer " + t0}, query: "access_token=" + t0, status: 400, challenges: []string{reqChallenge}, body: bodyReq},
		{id: "A14b", note: "a percent-encoded parameter name is the same parameter", auth: []string{"Bearer " + t0}, query: "access%5Ftoken=" + t0, status: 400, challenges: []string{reqChallenge}, body: bodyReq},
		{id: "A15", method: http.MethodPost, form: "access_token=" + t0, status: 401, challenges: bareBoth, body: bodyNone},
		{id: "A16a", auth: []string{"Token " + t0}, status: 401, challenges: bareBoth, body: bodyNone},
		{id: "A16b", auth: []string{`Digest username="c1", realm="api", nonce="n", uri="/x", response="r"`}, status: 401, challenges: bareBoth, body: bodyNone},
		{id: "A16c", auth: []string{"Bearerxyz"}, status: 401, challenges: bareBoth, body: bodyNone},
		{id: "A16d", auth: []string{"Bearer" + t0}, status: 401, challenges: bareBoth, body: bodyNone},
		{id: "A17", auth: []string{"Bearer " + strings.Repeat("eyJhbGci", 20<<10/8)}, status: 401, challenges: tokChallenge(descTooLarge), body: tokBody(descTooLarge)},
		{id: "A19", auth: []string{"Bearer café.x.y"}, status: 401, challenges: tokChallenge(descMalformed), body: tokBody(descMalformed)},
		// A20 in a direct handler test (net/http refuses it on the wire).
		{id: "A20", auth: []string{"Bearer " + t0[:10] + "\x01" + t0[10:]}, status: 401, challenges: tokChallenge(descMalformed), body: tokBody(descMalformed)},
		{id: "A21", header: map[string]string{"Proxy-Authorization": "Bearer " + t0}, status: 401, challenges: bareBoth, body: bodyNone},
		// Issue 2: garbage after the token is a malformed request.
		{id: "A-garbage", note: "issue 2: 400", auth: []string{"Bearer " + t0 + " xyz"}, status: 400, challenges: []string{reqChallenge}, body: bodyReq},
		{id: "A-empty-query", note: "an empty access_token is still a second method", auth: []string{"Bearer " + t0}, query: "access_token=", status: 400, challenges: []string{reqChallenge}, body: bodyReq},
	}
}

// TestAttackHeader runs table section A.
func TestAttackHeader(t *testing.T) {
	t.Parallel()
	fx := newAtkFixture(t)
	atkRun(t, fx, atkHeaderRows(fx))
}
