package warden

import (
	"regexp"
	"strings"
	"testing"
)

// xfccElementRE is the reference for xfccCert: one x-forwarded-client-cert
// element, key=value pairs separated by ";", each value a quoted string
// (in which a backslash escapes the next byte) or a run of bytes without
// quote, backslash, ";" or ",".
var (
	xfccElementRE = regexp.MustCompile(`(?s)^[A-Za-z]+=(?:"(?:[^"\\]|\\.)*"|[^";,\\]*)(?:;[A-Za-z]+=(?:"(?:[^"\\]|\\.)*"|[^";,\\]*))*$`)
	xfccPairRE    = regexp.MustCompile(`(?s)(?:^|;)([A-Za-z]+)=("(?:[^"\\]|\\.)*"|[^";,\\]*)`)
	xfccEscapeRE  = regexp.MustCompile(`(?s)\\(.)`)
)

// FuzzXFCC checks the x-forwarded-client-cert reader against the regular
// expressions above: it accepts exactly one element with exactly one Cert,
// and returns that Cert's value unquoted.
func FuzzXFCC(f *testing.F) {
	for _, s := range []string{
		`Cert="-----BEGIN%20CERTIFICATE-----%0A"`, `By=spiffe://p;Hash=ab;Cert="x";Subject="CN=a,O=b"`,
		`Subject="CN=a\"b;c,d";Cert=x`, `Cert="a",Cert="b"`, `Cert=a;Cert=b`, `Hash=a;URI=b`, `Cert="a`, `Cert="a"x`,
		`Cert="a\`, `Hash;Cert=a`, `a=b;;Cert=c`, `Cert=`, `Cert=""`, `=x`, `Cert=a"b`, "Cert=\"a\nb\"", `cert=a`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := xfccCert(v)
		want, wantOK := "", false
		if xfccElementRE.MatchString(v) {
			n := 0
			for _, m := range xfccPairRE.FindAllStringSubmatch(v, -1) {
				if m[1] != "Cert" {
					continue
				}
				n++
				want = m[2]
				if strings.HasPrefix(want, `"`) {
					want = xfccEscapeRE.ReplaceAllString(want[1:len(want)-1], "$1")
				}
			}
			wantOK = n == 1
		}
		if (err == nil) != wantOK || got != want && wantOK {
			t.Fatalf("xfccCert(%q) = %q, %v; the reference reads %q, %v", v, got, err, want, wantOK)
		}
	})
}
