package warden_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// The fuzz fixture uses fixed keys: fuzzing runs the target in several
// processes (the coordinator and its workers), and a token signed in one
// must verify in the others. The keys exist only for these tests.
const fuzzRSAPEM = `
-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCh8l3zsEJElCk6
U5AE0k/4ghsdnz7JNeRmd9IAifWduTGMkzlptb4w2SJ3yJ30aZAdsw74L8fz8RbP
WGiWw0yxp9YqR1vHCRGs1sGMIf1ZWI2SaXdUcloMlg1Dn1kMCWgFbhAtPQOdMm9v
DWK/w3rqXYx0iL13buaQ01I0wNeOd4gTNh4AxIf4HDdeGIF7nsbArnvCarA7yp64
/3xkhsKp1MoB8Mwrk3VNEkQX6phhncGby2neVRGcmITnEvBkTLkLjq6zKolSV9fF
0WQnnBhnN9eL5mqrjC/h4SJEEIZvF3hAyzl3Sivma0SVygI0xtfqDBrxlW4CKDIW
rFGV7oZfAgMBAAECggEAS1zgf+DMVeGk9fGhGb1NXdYeDEDpFPWxXkXwQjPxSv69
oi95Dkp3QYAqXBfN+cmOOWP0WWbS5CCTftYjhdVIwXvbXD1s5kjAIvCljTLcFVHy
P+o4j+HPKgBCF+/1nnZaI/y+Jm84WVT5KnLOO3Mapin2jNx9XzEKtubAYLBFH5Sf
CHxzN73MUwyTnZSNnNJf8XPUSoWYP2DgklCcloIGBtv57RrYv9DHR36RfrYdJuZq
QY5YgyfvwcJRjcY2uX0k01QK7XLtVtpC/HVwsBtlL//SspO2ZMoVycrl3dO46KHY
1vSlz6+Bu3ER8GZtKdv/Ju/LMYbv7uv5q70Iu1VEwQKBgQDNZkJNuANw162IgT5V
uCiELCDP/RB10ChfgCEOC+Ex/5lTM54MMCM5TaR0AjcD6cCpidfr9s+67uUjRy7L
9YAF18PGgWn54MgjebD7TOkeMLxK0JE7bqzTrS3K6c+akGbWlBIJFpMMz2qjlMRZ
xlQmr6R94VXFGZgbZlT9xpBtUQKBgQDJ17c6btq96IEG2OOLoM/Is3H5E553BFPu
cfRzBU5Y1mbFP0Qt3utqWNweTljxWP6CWugb5nnqQ6Z+cuJxSmvQW+zmiV6yUGiO
WbimdAXqfNDX+N/C3fuXvLG7gOt23xYnJjSf5chZzmeLYrEIik5r+EkkafZrGKT3
yNh9fdQMrwKBgGtaL/tI2tuGjldTHY5Vwy9ZlQi//nNlCUToxd3+jYPBUJSw3MEI
A9D2aKaNZc2wxZaWyfi1NdtA8xfeI3JMbM4g+Fzu1MHaHyCTgNHHX+v8kt0TZ2TF
sqSr1cxBKdVh9a3fFBIV72N5oQXAQmOdievyTynPtTFf8CUZ9f/xYRkRAoGAa1m3
sfRTkr2eIi4ol5Kn8G7AJ2Ev3s0GdsNU5/fie41Mi4vijyMIwj8Qk23IEFTsyBfh
azVhkh745jfkB601OlQp41MccmohsdQ2SRFcNCK+UJ+lItc9gK5zOO6QTWDJP3kq
dACaVmlY2OFcltY4b2RWQm+5B6zL0J2ZxuStazECgYB+jooyg2dnidaWoQ54VFq5
z0b7+MUy8QlPoH8jbiW0o3jLFjMvH93fjT759Yx5NnlxIYGSwPibvpWGxcTW8zgT
QRQIZENEG2qkoJ+1VQH/irKYmYPw2oYPHgadHGPGb1DZcEjZu5tfTGAiSfGZ0chN
EXRKqRfgAebpfKFPgDUv1g==
-----END PRIVATE KEY-----
`

const (
	fuzzIssuer   = "https://issuer.fuzz.test"
	fuzzAudience = "https://api.fuzz.test"
)

// fuzzNow is the fixture's fixed clock, so seed tokens stay valid forever.
var fuzzNow = time.Unix(1_800_000_000, 0)

// fuzzFixture is a middleware over the fixed keys, the route it protects,
// and every token signed for the fuzzers.
type fuzzFixture struct {
	keys   []*wardentest.Key
	mw     *warden.Middleware
	h      http.Handler
	signed map[string]fuzzSigned // by signing input (header.payload)
	tokens []string              // valid or interesting signed tokens, for seeds
}

// fuzzKeys returns the fixed RSA, EC P-256 and Ed25519 keys.
func fuzzKeys() []*wardentest.Key {
	block, _ := pem.Decode([]byte(fuzzRSAPEM))
	rk, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		panic(err)
	}
	ecSeed := sha256.Sum256([]byte("warden fuzz ec key"))
	ek, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), ecSeed[:])
	if err != nil {
		panic(err)
	}
	edSeed := sha256.Sum256([]byte("warden fuzz ed key"))
	return []*wardentest.Key{
		{ID: "fk-rsa", Alg: "RS256", Signer: rk.(*rsa.PrivateKey)},
		{ID: "fk-ec", Alg: "ES256", Signer: ek},
		{ID: "fk-ed", Alg: "EdDSA", Signer: ed25519.NewKeyFromSeed(edSeed[:])},
	}
}

// fuzzClients accepts only c1/s3cr3t, without bcrypt, so the Basic path
// runs at fuzzing speed.
type fuzzClients struct{}

func (fuzzClients) VerifyClient(_ context.Context, id, secret string) ([]string, error) {
	if id == "c1" && secret == "s3cr3t" {
		return []string{"entry:read"}, nil
	}
	return nil, warden.ErrInvalidClient
}

var fuzzFix = sync.OnceValue(func() *fuzzFixture {
	fx := &fuzzFixture{keys: fuzzKeys(), signed: map[string]fuzzSigned{}}
	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{
			URL:      fuzzIssuer,
			Audience: fuzzAudience,
			JWKS:     wardentest.JWKS(fx.keys...),
		}},
		Clients: fuzzClients{},
		Leeway:  30 * time.Second,
		Now:     func() time.Time { return fuzzNow },
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Impersonation: warden.Impersonation{Allow: func(_ context.Context, actor, _ string) bool {
			return actor == "c1"
		}, Permissions: func(_ context.Context, p *warden.Principal) ([]string, error) {
			if p.Subject() == "user1" {
				return []string{"entry:read"}, nil
			}
			return nil, nil
		}},
	})
	if err != nil {
		panic(err)
	}
	fx.mw = mw
	fx.h = mw.Accept(warden.SchemeBearer, warden.SchemeBasic).Require(warden.Scopes("entry:read"))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			p, _ := warden.PrincipalFrom(r.Context())
			w.Header().Set("X-Fuzz-Scheme", p.Scheme().String())
			w.Header().Set("X-Fuzz-Client", p.ClientID())
		}))
	base := func() map[string]any {
		return map[string]any{"iss": fuzzIssuer, "aud": fuzzAudience, "sub": "user1", "client_id": "c1",
			"iat": fuzzNow.Unix(), "exp": fuzzNow.Unix() + 300, "jti": "fuzz-jti", "scope": "entry:read"}
	}
	with := func(k string, v any) map[string]any {
		c := base()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	for _, k := range fx.keys {
		fx.sign(k, map[string]any{"alg": k.Alg, "typ": "at+jwt", "kid": k.ID}, base())
		fx.sign(k, map[string]any{"alg": k.Alg}, base()) // no kid: the single fitting key
	}
	rsaKey := fx.keys[0]
	hdr := map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": rsaKey.ID}
	for _, c := range []map[string]any{
		with("scope", []string{"entry:read", "x"}), with("scope", nil), with("scp", "entry:read"),
		with("act", map[string]any{"sub": "c1", "act": map[string]any{"sub": "c9"}}), with("act_as", "user1"),
		with("act", map[string]any{"sub": "c2"}), with("exp", fuzzNow.Unix()-120), with("aud", []string{"x", fuzzAudience}),
		with("exp", 1e30), with("nbf", fuzzNow.Unix()+3600), with("sub", nil),
	} {
		fx.sign(rsaKey, hdr, c)
	}
	fx.sign(rsaKey, map[string]any{"alg": "RS256", "kid": rsaKey.ID, "crit": []string{"foo"}, "foo": 1}, base())
	return fx
})

// sign signs header and claims with k, remembering the signing input.
func (fx *fuzzFixture) sign(k *wardentest.Key, header, claims map[string]any) string {
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	alg, _ := header["alg"].(string)
	tok := k.Sign(alg, hb, cb)
	fx.signed[tok[:strings.LastIndexByte(tok, '.')]] = fuzzSigned{token: tok, alg: alg}
	fx.tokens = append(fx.tokens, tok)
	return tok
}

// fuzzSigned is a token the fixture signed.
type fuzzSigned struct{ token, alg string }

// wasSigned reports whether tok is a token the fixture signed: the only
// tokens that may ever authenticate. RS256 and EdDSA signatures are
// deterministic, so the whole token must match; an ECDSA signature is
// randomised (and differs between the fuzzing processes), so for ES256
// the header and payload must be exactly what was signed.
func (fx *fuzzFixture) wasSigned(tok string) bool {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 || strings.Count(tok, ".") != 2 {
		return false
	}
	s, ok := fx.signed[tok[:i]]
	return ok && (s.token == tok || strings.HasPrefix(s.alg, "ES"))
}

var (
	fuzzChallengeRE = regexp.MustCompile(`^(Bearer realm="api"(, error="(invalid_request|invalid_token)", error_description="[A-Za-z ,.]+"|, error="insufficient_scope", (scope="entry:read"|error_description="[A-Za-z ,.]+"))?|Basic realm="api", charset="UTF-8"|DPoP realm="api", algs="[A-Za-z0-9 ]+")$`)
	fuzzBodyRE      = regexp.MustCompile(`^\{"error":"[a-z_]+","error_description":"[A-Za-z ,.]+"\}\n$`)
)

// checkFuzzResponse asserts that a response is one warden may write: a
// known status, challenges and body made only of fixed text.
func checkFuzzResponse(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	switch w.Code {
	case http.StatusOK:
		return
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
	case http.StatusTooManyRequests:
		// The fixture's clock stands still, so once the fuzzer has failed
		// often enough for a client id, that id stays throttled.
	default:
		t.Fatalf("status %d", w.Code)
	}
	for _, c := range w.Header().Values("WWW-Authenticate") {
		require.Regexp(t, fuzzChallengeRE, c, "challenge")
	}
	require.Regexp(t, fuzzBodyRE, w.Body.String(), "body")
}

// FuzzVerify feeds arbitrary bytes, mutated from validly signed tokens,
// through the middleware and Verify: no panic, and nothing authenticates
// unless its header and payload are exactly what a fixture key signed.
func FuzzVerify(f *testing.F) {
	fx := fuzzFix()
	for _, tok := range fx.tokens {
		f.Add(tok)
	}
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(strings.Repeat(".", 9000))
	f.Fuzz(func(t *testing.T, tok string) {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.Header["Authorization"] = []string{"Bearer " + tok}
		w := httptest.NewRecorder()
		fx.h.ServeHTTP(w, r)
		checkFuzzResponse(t, w)
		if w.Code == http.StatusOK && !fx.wasSigned(tok) {
			t.Fatalf("forged token authenticated: %q", tok)
		}
		p, err := fx.mw.Verify(context.Background(), tok)
		switch {
		case err == nil && (p == nil || !fx.wasSigned(tok)):
			t.Fatalf("Verify accepted a forged token: %q", tok)
		case err != nil:
			var we *warden.Error
			if !asWardenError(err, &we) || we.Status() < 400 {
				t.Fatalf("Verify error %T %v is not a refusal", err, err)
			}
		}
	})
}

// FuzzAuthorizationHeader drives the credential extraction of the
// middleware: zero, one or two Authorization lines plus a query string. A
// 200 needs one Authorization line holding a token whose header and payload
// a fixture key signed, or c1's secret.
func FuzzAuthorizationHeader(f *testing.F) {
	fx := fuzzFix()
	t0 := fx.tokens[0]
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("c1:s3cr3t"))
	for _, s := range []struct {
		h1, h2 string
		n      uint8
		query  string
	}{
		{"", "", 0, ""}, {"Bearer " + t0, "", 1, ""}, {"bearer  " + t0, "", 1, ""}, {"Bearer\t" + t0, "", 1, ""},
		{"Bearer", "", 1, ""}, {"Bearer " + t0 + " xyz", "", 1, ""}, {"Bearer " + t0, "Bearer " + t0, 2, ""},
		{"Bearer " + t0, basic, 2, ""}, {"Bearer " + t0 + ", Bearer " + t0, "", 1, ""}, {"", "", 0, "access_token=" + t0},
		{"Bearer " + t0, "", 1, "access_token=" + t0}, {"Token " + t0, "", 1, ""}, {basic, "", 1, ""},
		{"basic YzE6czNjcjN0", "", 1, ""}, {"Basic !!!notbase64", "", 1, ""}, {"Basic YzE=", "", 1, "a=%zz"},
	} {
		f.Add(s.h1, s.h2, s.n, s.query)
	}
	f.Fuzz(func(t *testing.T, h1, h2 string, n uint8, query string) {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.URL.RawQuery = query
		switch n % 3 {
		case 1:
			r.Header["Authorization"] = []string{h1}
		case 2:
			r.Header["Authorization"] = []string{h1, h2}
		}
		w := httptest.NewRecorder()
		fx.h.ServeHTTP(w, r)
		checkFuzzResponse(t, w)
		if w.Code != http.StatusOK {
			return
		}
		if n%3 != 1 {
			t.Fatalf("200 with %d Authorization lines", n%3)
		}
		switch w.Header().Get("X-Fuzz-Scheme") {
		case "Bearer":
			_, tok, _ := strings.Cut(strings.Trim(h1, " \t"), " ")
			if !fx.wasSigned(strings.TrimLeft(tok, " ")) {
				t.Fatalf("200 for %q, which holds no signed token", h1)
			}
		case "Basic":
			if w.Header().Get("X-Fuzz-Client") != "c1" {
				t.Fatalf("200 for %q as %q", h1, w.Header().Get("X-Fuzz-Client"))
			}
		default:
			t.Fatalf("200 without a principal")
		}
	})
}

// asWardenError is errors.As for *warden.Error.
func asWardenError(err error, target **warden.Error) bool { return errors.As(err, target) }

// TestFuzzFixture checks that the fuzz fixture is meaningful: its valid
// seeds authenticate and its hostile ones do not, so a fuzzer that finds no
// 200 is not just fuzzing a middleware that refuses everything.
func TestFuzzFixture(t *testing.T) {
	t.Parallel()
	fx := fuzzFix()
	for i, tok := range fx.tokens {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		fx.h.ServeHTTP(w, r)
		// Seeds 0..5: each key with and without kid; 6..11: scope array, no
		// scope (403), scp, act chain, act_as, act by c2 (403); 13 aud
		// array; 16 no sub (the client id stands in).
		want := http.StatusUnauthorized
		switch {
		case i <= 6 || i == 8 || i == 9 || i == 10 || i == 13 || i == 16:
			want = http.StatusOK
		case i == 7 || i == 11:
			want = http.StatusForbidden
		}
		assert.Equal(t, want, w.Code, "seed %d (%s)", i, w.Body)
	}
}
