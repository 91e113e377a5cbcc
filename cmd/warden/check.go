package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/internal/jwks"
)

// checkConfig is what check was told.
type checkConfig struct {
	issuer, audience, jwksURL string
	scopes                    []string
	leeway, timeout           time.Duration
	algs                      []string
	strict, actAs             bool
}

// maxLifetime is warden's default MaxTokenLifetime.
const maxLifetime = 24 * time.Hour

// check runs every check in order, then asks warden for its verdict.
func check(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		fmt.Fprint(stdout, manual)
		return exitOK
	}
	cfg, rest, err := parseCheck(args)
	if err != nil {
		fmt.Fprintln(stderr, "warden check:", err)
		return exitUsage
	}
	tok, err := readToken(rest, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "warden check:", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "warden check: issuer %s, audience %s\n", cfg.issuer, cfg.audience)
	d := &doctor{cfg: cfg, out: stdout, now: time.Now()}
	d.run(tok)
	return d.verdict(tok)
}

func wantsHelp(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "-help" || a == "--help" })
}

func parseCheck(args []string) (checkConfig, []string, error) {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, below
	c := checkConfig{}
	fs.StringVar(&c.issuer, "issuer", "", "")
	fs.StringVar(&c.audience, "audience", "", "")
	fs.StringVar(&c.jwksURL, "jwks", "", "")
	fs.Func("scope", "", func(s string) error {
		c.scopes = append(c.scopes, strings.Fields(s)...)
		return nil
	})
	fs.DurationVar(&c.leeway, "leeway", time.Minute, "")
	fs.DurationVar(&c.timeout, "timeout", jwks.DefaultFetchTimeout, "")
	algs := fs.String("algs", "", "")
	fs.BoolVar(&c.strict, "strict", false, "")
	fs.BoolVar(&c.actAs, "act-as", false, "")
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	if c.issuer == "" || c.audience == "" {
		return c, nil, errors.New("-issuer and -audience are required (warden -h for the manual)")
	}
	c.algs = warden.DefaultAlgorithms()
	if *algs != "" {
		c.algs = strings.Split(*algs, ",")
	}
	return c, fs.Args(), nil
}

// doctor runs the checks and prints one line each.
type doctor struct {
	cfg      checkConfig
	out      io.Writer
	now      time.Time
	verified bool // the signature verified: the claims are the issuer's
}

// line prints one check: ok, FAIL, or -- for one that could not run or
// only informs.
func (d *doctor) line(mark, name, format string, args ...any) {
	fmt.Fprintf(d.out, "  %-4s  %-9s  %s\n", mark, name, fmt.Sprintf(format, args...))
}

func (d *doctor) result(ok bool, name, format string, args ...any) {
	mark := "FAIL"
	if ok {
		mark = "ok"
	}
	if !d.verified && name != "header" && name != "algorithm" && name != "keys" && name != "kid" && name != "signature" {
		format += " (unverified)"
	}
	d.line(mark, name, format, args...)
}

func (d *doctor) run(tok string) {
	j, err := splitJWS(tok)
	if err != nil {
		d.line("FAIL", "header", "%v", err)
		return
	}
	alg, _ := str(j.header, "alg")
	kid, hasKID := str(j.header, "kid")
	typ, _ := str(j.header, "typ")
	_, crit := j.header["crit"]
	headerOK := alg != "" && !crit && (!d.cfg.strict || isAccessTokenType(typ))
	d.result(headerOK, "header", "alg %q, kid %q, typ %q%s", alg, kid, typ, map[bool]string{true: ", crit (warden understands no extension)"}[crit])
	d.result(slices.Contains(d.cfg.algs, alg), "algorithm", "%q against the allow-list %s", alg, strings.Join(d.cfg.algs, " "))

	key := d.keys(kid, hasKID, alg)
	if key != nil {
		err := verifySignature(alg, j.signingInput, j.sig, key.Public)
		d.verified = err == nil
		if err != nil {
			d.result(false, "signature", "does not verify with that key: %v", err)
		} else {
			d.result(true, "signature", "verifies")
		}
	} else {
		d.line("--", "signature", "not checked: no key")
	}
	d.claims(j)
}

// keys fetches the set and finds the token's key, as warden would.
func (d *doctor) keys(kid string, hasKID bool, alg string) *jwks.Key {
	ks := fetchKeys(context.Background(), d.cfg.issuer, d.cfg.jwksURL, d.cfg.timeout)
	for _, note := range ks.discovery {
		d.line("--", "discovery", "%s", note)
	}
	if ks.err != nil {
		d.result(false, "keys", "%v", ks.err)
		return nil
	}
	set, err := jwks.Parse(ks.body)
	if err != nil {
		d.result(false, "keys", "the JWK Set is refused: %v", err)
		return nil
	}
	d.result(set.Len() > 0, "keys", "%d usable keys (kids %s) at %s", set.Len(), strings.Join(set.KIDs(), " "), ks.jwksURL)
	k, ok := set.Find(kid, hasKID, alg)
	if !ok {
		what := fmt.Sprintf("kid %q", kid)
		if !hasKID {
			what = "a token without kid (tried only against the single key of its type, in a set of at most 4)"
		}
		d.result(false, "kid", "no key for %s and alg %s: warden refreshes the set at most every 5s for an unknown kid, then refuses it", what, alg)
		return nil
	}
	d.result(true, "kid", "%q: %s", k.KID, describeKey(k.Public))
	return k
}

func describeKey(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA, %d bits", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "EC " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// verifySignature verifies as warden does: golang-jwt's methods, and for
// RSASSA-PSS a salt as long as the hash (RFC 7518 §3.5).
func verifySignature(alg, input string, sig []byte, pub any) error {
	m := jwt.GetSigningMethod(alg)
	if strings.HasPrefix(alg, "PS") {
		if pss, ok := m.(*jwt.SigningMethodRSAPSS); ok {
			exact := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: pss.Hash}
			m = &jwt.SigningMethodRSAPSS{SigningMethodRSA: pss.SigningMethodRSA, Options: exact, VerifyOptions: exact}
		}
	}
	if m == nil {
		return fmt.Errorf("unknown algorithm %q", alg)
	}
	return m.Verify(input, sig, pub)
}

// claims checks what a verified token's claims must say.
func (d *doctor) claims(j *jws) {
	iss, _ := str(j.claims, "iss")
	if iss == d.cfg.issuer {
		d.result(true, "iss", "%q", iss)
	} else {
		hint := jwks.SpellingDifference(d.cfg.issuer, iss)
		if hint != "" {
			hint = ": " + hint
		}
		d.result(false, "iss", "expected %q got %q%s", d.cfg.issuer, iss, hint)
	}
	aud, _ := j.strings("aud")
	d.result(slices.Contains(aud, d.cfg.audience), "aud", "expected %q got %q", d.cfg.audience, aud)
	d.times(j)
	if d.cfg.strict {
		var missing []string
		for _, c := range []string{"sub", "client_id", "jti", "iat"} {
			if _, ok := j.claims[c]; !ok {
				missing = append(missing, c)
			}
		}
		d.result(len(missing) == 0, "claims", "RFC 9068 requires sub, client_id, jti, iat; missing: %v", missing)
	}
	// The first of warden's default ScopeClaims present: a space-delimited
	// string or an array.
	var found []string
	for _, c := range []string{"scope", "scp"} {
		if _, ok := j.claims[c]; !ok {
			continue
		}
		if s, ok := str(j.claims, c); ok {
			found = strings.Fields(s)
		} else {
			found, _ = j.strings(c)
		}
		break
	}
	var missing []string
	for _, s := range d.cfg.scopes {
		if !slices.Contains(found, s) {
			missing = append(missing, s)
		}
	}
	switch {
	case len(d.cfg.scopes) == 0:
		d.result(true, "scopes", "found %q; none required (-scope)", found)
	case len(missing) == 0:
		d.result(true, "scopes", "found %q; required %q", found, d.cfg.scopes)
	default:
		d.result(false, "scopes", "found %q; required %q; missing %q", found, d.cfg.scopes, missing)
	}
	d.actors(j)
	d.binding(j)
}

// times checks exp, nbf, iat and the lifetime, with the leeway.
func (d *doctor) times(j *jws) {
	lw := d.cfg.leeway
	exp, ok := j.time("exp")
	if !ok {
		d.result(false, "exp", "missing (warden requires it)")
	} else {
		d.result(d.now.Before(exp.Add(lw)), "exp", "%s (leeway %s)", when(exp, d.now), lw)
		d.result(!exp.After(d.now.Add(maxLifetime+lw)), "lifetime", "exp at most %s ahead", maxLifetime)
	}
	for _, name := range []string{"nbf", "iat"} {
		if t, ok := j.time(name); ok {
			d.result(!d.now.Add(lw).Before(t), name, "%s (leeway %s)", when(t, d.now), lw)
		} else {
			d.result(true, name, "absent")
		}
	}
}

// actors prints the impersonation chain.
func (d *doctor) actors(j *jws) {
	var chain []string
	act, _ := j.claims["act"].(map[string]any)
	for depth := 0; act != nil && depth < 9; depth++ {
		sub, _ := str(act, "sub")
		chain = append(chain, fmt.Sprintf("%q", sub))
		act, _ = act["act"].(map[string]any)
	}
	actAs, hasActAs := str(j.claims, "act_as")
	switch {
	case len(chain) > 0:
		sub, _ := str(j.claims, "sub")
		d.result(true, "actor", "%q, acted for by %s (RFC 8693 act)", sub, strings.Join(chain, ", acting for whom "))
	case hasActAs && d.cfg.actAs:
		d.result(true, "actor", "acts as %q (act_as, honoured on a client credentials token)", actAs)
	case hasActAs:
		d.line("--", "actor", "act_as %q is an ordinary claim unless the issuer opts in (-act-as, IssuerConfig.ActAs)", actAs)
	default:
		d.result(true, "actor", "none: the token speaks for its subject")
	}
}

// binding says how the token is bound to its client.
func (d *doctor) binding(j *jws) {
	cnf, _ := j.claims["cnf"].(map[string]any)
	jkt, _ := str(cnf, "jkt")
	x5t, _ := str(cnf, "x5t#S256")
	switch {
	case jkt != "":
		d.line("--", "binding", "bound to the DPoP key %s (RFC 9449): warden admits it only with a proof of that key, so check, which has none, is refused", jkt)
	case x5t != "":
		d.line("--", "binding", "bound to the client certificate %s (RFC 8705): warden admits it only over a connection with that certificate", x5t)
	default:
		d.line("ok", "binding", "none: a bearer token")
	}
}

// verdict asks warden itself, built with the configuration given, and
// prints its reason.
func (d *doctor) verdict(tok string) int {
	mw, err := warden.New(warden.Config{
		Issuers:       []warden.IssuerConfig{{URL: d.cfg.issuer, Audience: d.cfg.audience, JWKSURL: d.cfg.jwksURL, ActAs: d.cfg.actAs}},
		Algorithms:    d.cfg.algs,
		Leeway:        d.cfg.leeway,
		NoLeeway:      d.cfg.leeway == 0,
		StrictRFC9068: d.cfg.strict,
		KeySetPolicy:  warden.KeySetPolicy{FetchTimeout: d.cfg.timeout},
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		var kfe *warden.KeyFetchError
		if errors.As(err, &kfe) {
			fmt.Fprintf(d.out, "warden: %s (503, Retry-After; and New fails unless KeySetPolicy.LazyStart)\n  %v\n", warden.ReasonKeysUnavailable, err)
			return exitRefused
		}
		fmt.Fprintf(d.out, "warden: the configuration is refused: %v\n", err)
		return exitUsage
	}
	defer mw.Close()
	ctx := context.Background()
	p, err := mw.Verify(ctx, tok)
	if err == nil && len(d.cfg.scopes) > 0 {
		err = mw.Authorize(ctx, p, warden.Scopes(d.cfg.scopes...))
	}
	var e *warden.Error
	if !errors.As(err, &e) {
		if err != nil {
			fmt.Fprintf(d.out, "warden: %v\n", err)
			return exitRefused
		}
		fmt.Fprintf(d.out, "warden: %s: admitted, subject %q, client %q, scopes %q\n", warden.ReasonOK, p.Subject(), p.ClientID(), p.Scopes())
		return exitOK
	}
	fmt.Fprintf(d.out, "warden: %s (%d %s): %s\n", e.Reason, e.Status(), e.Code(), e.Description())
	if e.Err != nil {
		fmt.Fprintf(d.out, "  %v\n", e) // the cause: the expected and received iss or aud, a claim's name, …
	}
	return exitRefused
}

// isAccessTokenType checks typ against RFC 9068 §4, as warden does.
func isAccessTokenType(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == "at+jwt" || typ == "application/at+jwt"
}
