package jwks

import (
	"strings"
	"testing"
	"time"
)

// TestInspectAgreesWithParse: Inspect judges each key as Parse does, and
// reports the error for which Parse refuses the whole set.
func TestInspectAgreesWithParse(t *testing.T) {
	t.Parallel()
	ec := `{"kty":"EC","crv":"P-256","kid":"%s","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"%s}`
	key := func(kid, extra string) string {
		return strings.Replace(strings.Replace(ec, "%s", kid, 1), "%s", extra, 1)
	}
	for _, row := range []struct {
		name   string
		doc    string
		usable []bool
		why    []string
		setErr string
	}{
		{"usable and skipped", `{"keys":[` + key("a", "") + `,` + key("b", `,"use":"enc"`) + `,{"kty":"oct","k":"c2VjcmV0"}]}`,
			[]bool{true, false, false}, []string{"", `"use" or "key_ops" do not allow verifying signatures`, "a symmetric key: a JWK Set never supplies an HMAC secret"}, ""},
		{"a repeated kid", `{"keys":[` + key("a", "") + `,` + key("a", "") + `]}`,
			[]bool{true, false}, []string{"", `kid "a" appears more than once`}, `kid "a" appears more than once`},
		{"five keys, one without kid", `{"keys":[` + key("a", "") + `,` + key("b", "") + `,` + key("c", "") + `,` + key("d", "") + `,` + key("", "") + `]}`,
			[]bool{true, true, true, true, false}, []string{"", "", "", "", "no kid, in a set of more than 4 keys: no token can select it"}, ""},
	} {
		reports, err := Inspect([]byte(row.doc))
		_, perr := Parse([]byte(row.doc))
		if (err == nil) != (perr == nil) || err != nil && (err.Error() != perr.Error() || err.Error() != row.setErr) {
			t.Errorf("%s: Inspect's error %v, Parse's %v, want %q", row.name, err, perr, row.setErr)
		}
		for i, r := range reports {
			if r.Usable != row.usable[i] || r.Why != row.why[i] {
				t.Errorf("%s: key %d: usable %v why %q, want %v %q", row.name, i, r.Usable, r.Why, row.usable[i], row.why[i])
			}
		}
		if set, err := Parse([]byte(row.doc)); err == nil {
			n := 0
			for _, u := range row.usable {
				if u {
					n++
				}
			}
			if set.Len() != n {
				t.Errorf("%s: Parse keeps %d keys, Inspect says %d", row.name, set.Len(), n)
			}
		}
	}
}

// TestRefreshWindow: 80-90 % of the lifetime, clamped, at most half of
// MaxStaleness; the delays drawn stay inside it.
func TestRefreshWindow(t *testing.T) {
	t.Parallel()
	opt, _ := Options{}.WithDefaults()
	short, _ := Options{MaxStaleness: time.Hour}.WithDefaults()
	for _, row := range []struct {
		opt    Options
		ttl    time.Duration
		lo, hi time.Duration
	}{
		{opt, time.Hour, 48 * time.Minute, 54 * time.Minute},
		{opt, -1, 48 * time.Minute, 54 * time.Minute},
		{opt, 10 * time.Second, time.Minute, time.Minute},
		{opt, 100 * 24 * time.Hour, 12 * time.Hour, 12 * time.Hour},
		{short, 2 * time.Hour, 30 * time.Minute, 30 * time.Minute},
	} {
		lo, hi := row.opt.RefreshWindow(row.ttl)
		if lo != row.lo || hi != row.hi {
			t.Errorf("ttl %s: %s..%s, want %s..%s", row.ttl, lo, hi, row.lo, row.hi)
		}
		s := &Remote{opt: row.opt}
		for range 100 {
			if d := s.refreshDelay(row.ttl); d < lo || d > hi {
				t.Fatalf("ttl %s: delay %s outside %s..%s", row.ttl, d, lo, hi)
			}
		}
	}
}
