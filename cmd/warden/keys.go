package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/wardenhq/warden/internal/fetch"
	"github.com/wardenhq/warden/internal/jwks"
)

// keySource is what fetching an issuer's keys found, step by step.
type keySource struct {
	discovery []string // each discovery location tried, and what came of it
	jwksURL   string
	body      []byte
	header    http.Header
	err       error // why there is no JWK Set document
}

// fetchKeys fetches the issuer's JWK Set as warden does: from jwksURL, or
// from the jwks_uri of the first discovery document that names the issuer
// exactly, with warden's bounds on time and size.
func fetchKeys(ctx context.Context, issuer, jwksURL string, timeout time.Duration) keySource {
	var ks keySource
	f := fetch.New(nil, timeout, jwks.DefaultMaxResponseSize)
	defer f.CloseIdle()
	if jwksURL == "" {
		urls, err := jwks.DiscoveryURLs(issuer)
		if err == nil {
			err = fetch.CheckURL(issuer)
		}
		if err != nil {
			ks.err = err
			return ks
		}
		for _, loc := range urls {
			body, _, err := f.Get(ctx, loc, "application/json")
			if err == nil {
				var md jwks.Metadata
				if md, err = jwks.ParseMetadata(body, issuer); err == nil {
					ks.discovery = append(ks.discovery, "found    "+fetch.RedactString(loc)+": jwks_uri "+fetch.RedactString(md.JWKSURI))
					jwksURL = md.JWKSURI
					break
				}
			}
			ks.discovery = append(ks.discovery, "refused  "+fetch.RedactString(loc)+": "+err.Error())
		}
		if jwksURL == "" {
			ks.err = errors.New("no discovery document names the issuer (warden would refuse to start: KeyFetchError)")
			return ks
		}
	} else if err := fetch.CheckURL(jwksURL); err != nil {
		ks.err = err
		return ks
	}
	ks.jwksURL = jwksURL
	ks.body, ks.header, ks.err = f.Get(ctx, jwksURL, "application/jwk-set+json, application/json")
	return ks
}

// keys prints what discovery found and what warden makes of the JWK Set.
func keys(args []string, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		fmt.Fprint(stdout, manual)
		return exitOK
	}
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	issuer := fs.String("issuer", "", "")
	jwksURL := fs.String("jwks", "", "")
	timeout := fs.Duration("timeout", jwks.DefaultFetchTimeout, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(stderr, "warden keys:", err)
		return exitUsage
	}
	if *issuer == "" && *jwksURL == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "warden keys: give -issuer (and -jwks to skip discovery), nothing else")
		return exitUsage
	}
	fmt.Fprintln(stdout, "issuer:", *issuer)
	ks := fetchKeys(context.Background(), *issuer, *jwksURL, *timeout)
	if len(ks.discovery) > 0 {
		fmt.Fprintln(stdout, "discovery:")
		for _, d := range ks.discovery {
			fmt.Fprintln(stdout, "  "+d)
		}
	}
	if ks.err != nil {
		fmt.Fprintln(stdout, "no JWK Set:", ks.err)
		return exitUsage
	}
	fmt.Fprintln(stdout, "JWK Set:", fetch.RedactString(ks.jwksURL))
	printCaching(stdout, ks.header)
	reports, setErr := jwks.Inspect(ks.body)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tkid\ttype\talg\tsize\twarden")
	usable := 0
	for _, r := range reports {
		verdict := "usable"
		switch {
		case r.Rejects:
			verdict = "REFUSES THE WHOLE SET: " + r.Why
		case !r.Usable:
			verdict = "skipped: " + r.Why
		default:
			usable++
		}
		typ := r.KTY
		if r.Curve != "" {
			typ += " " + r.Curve
		}
		size := "-"
		if r.Bits > 0 {
			size = fmt.Sprint(r.Bits)
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", r.Index, orDash(r.KID), typ, orDash(r.Alg), size, verdict)
	}
	_ = tw.Flush()
	switch {
	case setErr != nil:
		fmt.Fprintln(stdout, "warden refuses this set:", setErr)
		return exitRefused
	case usable == 0:
		fmt.Fprintln(stdout, "warden refuses this set:", jwks.ErrNoUsableKeys)
		return exitRefused
	}
	fmt.Fprintf(stdout, "warden uses %d of its %d keys\n", usable, len(reports))
	return exitOK
}

// printCaching prints the response's cache headers and when warden, with
// its default KeySetPolicy, would refresh the set.
func printCaching(w io.Writer, h http.Header) {
	for _, name := range []string{"Cache-Control", "Age", "Expires", "ETag", "Last-Modified"} {
		if v := h.Values(name); len(v) > 0 {
			fmt.Fprintf(w, "  %s: %v\n", name, v)
		}
	}
	opt, _ := jwks.Options{}.WithDefaults()
	ttl, given := fetch.Freshness(h)
	if given {
		fmt.Fprintf(w, "  fresh for %s (Cache-Control max-age minus Age)\n", ttl)
	} else {
		ttl = -1
		fmt.Fprintln(w, "  no max-age: warden takes the set to live 1h0m0s")
	}
	lo, hi := opt.RefreshWindow(ttl)
	fmt.Fprintf(w, "  warden refreshes it after %s to %s (80-90 %% of that, within KeySetPolicy's %s to %s and at most MaxStaleness/2), sooner for an unknown kid (at most every %s)\n",
		lo, hi, opt.MinRefreshInterval, opt.MaxRefreshInterval, opt.UnknownKIDInterval)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
