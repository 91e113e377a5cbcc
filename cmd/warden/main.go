// Command warden is the token doctor: it answers "why is my access token
// refused?" with warden's own rules. Install it with
//
//	go install github.com/wardenhq/warden/cmd/warden@latest
//
// and run warden -h for its manual.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// manual is what -h prints.
const manual = `NAME
    warden - the token doctor: why is my access token refused?

SYNOPSIS
    warden check -issuer URL -audience AUD [-jwks URL] [-scope S]... [options] TOKEN|-
    warden decode TOKEN|-
    warden keys -issuer URL [-jwks URL] [-timeout D]
    warden help

DESCRIPTION
    warden runs the checks of github.com/wardenhq/warden, the Go middleware
    for APIs that accept OAuth 2.0 access tokens, one at a time, and says
    which one a token fails and why. The verdict is the library's own: check
    builds a warden.Middleware with the configuration given and asks it, so
    the doctor and the middleware cannot disagree.

    TOKEN is the access token (a leading "Bearer " or "DPoP " is dropped).
    Give "-" to read it from standard input: an argument is visible to other
    users of the machine and stays in the shell's history.

COMMANDS
    check
        Fetches the issuer's keys (by discovery, or from -jwks) and runs every
        check in order, marking each ok or FAIL:
          header      the JOSE header decodes; alg, kid, typ; no crit
          algorithm   alg is on the allow-list (-algs)
          keys        the JWK Set was fetched and holds usable keys
          kid         the set has a key for the token's kid and alg
          signature   the signature verifies with that key
          iss         the issuer expected and the one the token names
          aud         the audience expected and those the token names
          exp nbf iat absolute times and relative to now, with the leeway
          lifetime    exp is at most 24 h ahead
          claims      with -strict: sub, client_id, jti, iat (RFC 9068)
          scopes      the scopes found (scope, scp) and those required
          actor       the impersonation chain (act; act_as with -act-as)
          binding     cnf: a DPoP key or a client certificate
        then prints warden's reason code (REASONS.md in the repository lists
        them all), its HTTP status and error code, and why. Claims read
        before the signature verified are marked (unverified).

    decode
        Prints the token's header and claims as JSON and its times in words,
        all UNVERIFIED: nothing is fetched or checked. The signature is not
        printed.

    keys
        Prints what discovery found (each location tried, and why one was
        refused), the JWK Set's cache headers and the refresh interval warden
        would use, and each key (kid, type, alg, size) with what warden makes
        of it: usable, skipped and why, or refusing the whole set.

OPTIONS
    -issuer URL     the issuer, exactly as its tokens name it in "iss"
    -audience AUD   an audience the API accepts ("aud"); required by check
    -jwks URL       take the keys from this JWK Set URL instead of discovery
    -scope S        a scope the request needs; repeat, or give "a b" (all of)
    -leeway D       clock skew allowed on exp, nbf and iat (default 1m0s)
    -algs A,B       the algorithm allow-list (default: warden's default, the
                    asymmetric RFC 7518 and RFC 8037 algorithms)
    -strict         RFC 9068: typ at+jwt; sub, client_id, jti, iat required
    -act-as         honour the vendor act_as claim (IssuerConfig.ActAs)
    -timeout D      bound on each fetch (default 10s)

EXIT STATUS
    0   check: warden admits the token; decode, keys: done
    1   check: warden refuses the token; keys: no usable key set
    2   the command line or the input is wrong, or a fetch failed in keys

SECURITY
    warden never prints the token it is given, nor its signature, and sends
    it nowhere: only the discovery document and the JWK Set are fetched,
    from the issuer given on the command line (https, or http on a loopback
    host), never from a URL the token names.

EXAMPLES
    warden decode - < token.txt
    warden keys -issuer https://login.example.com
    warden check -issuer https://login.example.com -audience https://api.example.com \
        -scope Entry_Read - < token.txt
    TOKEN=$(curl -s -u demo-reader:demo-reader-secret -d grant_type=client_credentials \
        http://127.0.0.1:8080/oauth/token | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
    echo "$TOKEN" | warden check -issuer http://127.0.0.1:8080 -audience https://api.example.test -
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK      = 0
	exitRefused = 1
	exitUsage   = 2
)

// run is the command, with its streams as parameters for the tests.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "usage: warden check|decode|keys … (warden -h for the manual)\n")
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, manual)
		return exitOK
	case "check":
		return check(args[1:], stdin, stdout, stderr)
	case "decode":
		return decode(args[1:], stdin, stdout, stderr)
	case "keys":
		return keys(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "warden: unknown command %q (warden -h for the manual)\n", args[0])
	return exitUsage
}

// errNoToken: neither an argument nor standard input gave a token.
var errNoToken = errors.New("no token: give it as the last argument, or - to read it from standard input")

// readToken returns the token given as arg, or read from stdin when arg is
// "-", without a scheme in front and surrounding white space.
func readToken(args []string, stdin io.Reader) (string, error) {
	if len(args) != 1 {
		return "", errNoToken
	}
	tok := args[0]
	if tok == "-" {
		line, err := bufio.NewReader(io.LimitReader(stdin, 1<<20)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the token: %w", err)
		}
		tok = line
	}
	tok = strings.TrimSpace(tok)
	for _, scheme := range []string{"Bearer ", "DPoP "} {
		if len(tok) > len(scheme) && strings.EqualFold(tok[:len(scheme)], scheme) {
			tok = strings.TrimSpace(tok[len(scheme):])
		}
	}
	if tok == "" {
		return "", errNoToken
	}
	return tok, nil
}
