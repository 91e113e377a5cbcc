package warden_test

import (
	"encoding/base64"
	"testing"
)

// atkBasicRows are table section G: HTTP Basic client authentication
// (RFC 7617 with RFC 6749 §2.3.1 form-urlencoding). Every failure is the
// same 401 with the Basic challenge, so an unknown client and a wrong
// secret cannot be told apart.
func atkBasicRows(_ *atkFixture) []atkRow {
	std := base64.StdEncoding.EncodeToString
	fail := func(id string, auth ...string) atkRow {
		return atkRow{id: id, auth: auth, status: 401, challenges: []string{bareBasic}, body: bodyBasic}
	}
	admit := func(id, client string, auth ...string) atkRow {
		return atkRow{id: id, auth: auth, status: 200, body: echoBody(client, client, "Basic", "")}
	}
	return []atkRow{
		admit("G1", "c1", basicAuth("c1:s3cr3t")),
		admit("G2", "c1", "basic "+std([]byte("c1:s3cr3t"))),
		fail("G3a", basicAuth("c1:wrong")),
		fail("G3b", basicAuth("nobody:s3cr3t")),
		// G4 [POLICY]: undecodable credentials are failed client
		// authentication, 401 with the Basic challenge.
		fail("G4", "Basic !!!notbase64"),
		fail("G5", basicAuth("c1")),
		fail("G6a", basicAuth("c:1:pw")),
		admit("G6b", "c:1", basicAuth("c%3A1:pw")),
		admit("G7a", "c7", basicAuth("c7:a%2Bb")),
		fail("G7b", basicAuth("c7:a+b")),
		admit("G8", "c8", basicAuth("c8:p%40ss+word")),
		fail("G9", basicAuth("c1:%zz")),
		fail("G10", "Basic "+std([]byte{'c', '1', ':', 0xff})),
		fail("G11", basicAuth("c\x011:s3cr3t")),
		fail("G11b", basicAuth("c%011:s3cr3t")),
		fail("G12a", basicAuth(":s3cr3t")),
		fail("G12b", basicAuth("c1:")),
		// G13 [POLICY]: base64 must carry its padding (RFC 4648 §4, as
		// r.BasicAuth). The table's example "YzE6czNjcjN0" is base64 of 9
		// bytes, which has no padding to drop, so it is valid (G13a); G13b
		// drops the "=" of an 11-byte credential that means the same.
		admit("G13a", "c1", "Basic YzE6czNjcjN0"),
		fail("G13b", "Basic "+base64.RawStdEncoding.EncodeToString([]byte("c%31:s3cr3t"))),
		admit("G13c", "c1", "Basic "+std([]byte("c%31:s3cr3t"))),
		// G14: Authorization is a singleton field: 400 invalid_request. The
		// route takes Bearer too, so the challenge is the Bearer one.
		{id: "G14", auth: []string{basicAuth("c1:s3cr3t"), basicAuth("c1:s3cr3t")}, status: 400, challenges: []string{reqChallenge}, body: bodyReq},
		// Valid client credentials without the route's permission: 403
		// with no challenge (RFC 7235 §3.1 ties challenges to 401).
		{id: "G-403", auth: []string{basicAuth("c2:other")}, status: 403, body: bodyScope},
		fail("G-trailing", basicAuth("c1:s3cr3t")+" x"),
		fail("G-empty", "Basic"),
	}
}

// TestAttackBasic runs table section G.
func TestAttackBasic(t *testing.T) {
	t.Parallel()
	fx := newAtkFixture(t)
	atkRun(t, fx, atkBasicRows(fx))
}
