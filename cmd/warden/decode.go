package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// decode prints the header and claims of a token, unverified.
func decode(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		fmt.Fprint(stdout, manual)
		return exitOK
	}
	tok, err := readToken(args, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "warden decode:", err)
		return exitUsage
	}
	jws, err := splitJWS(tok)
	if err != nil {
		fmt.Fprintln(stderr, "warden decode:", err)
		return exitUsage
	}
	fmt.Fprintln(stdout, "UNVERIFIED: nothing below was checked; warden check verifies it.")
	fmt.Fprintln(stdout, "header (UNVERIFIED):")
	fmt.Fprintln(stdout, indentJSON(jws.headerJSON))
	fmt.Fprintln(stdout, "claims (UNVERIFIED):")
	fmt.Fprintln(stdout, indentJSON(jws.payloadJSON))
	now := time.Now()
	for _, name := range []string{"iat", "nbf", "exp"} {
		if t, ok := jws.time(name); ok {
			fmt.Fprintf(stdout, "%s (UNVERIFIED): %s\n", name, when(t, now))
		}
	}
	fmt.Fprintf(stdout, "signature: %d bytes, not shown\n", jws.sigLen)
	return exitOK
}

// jws is a compact JWS split into its parts, decoded but unchecked.
type jws struct {
	headerJSON, payloadJSON []byte
	header, claims          map[string]any
	signingInput            string
	sig                     []byte
	sigLen                  int
}

// splitJWS splits and decodes a compact JWS (RFC 7515 §7.1).
func splitJWS(tok string) (*jws, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("the token has %d segments; a JWT has 3 (an opaque token can only be introspected)", len(parts))
	}
	b64 := base64.RawURLEncoding.Strict()
	j := &jws{signingInput: parts[0] + "." + parts[1]}
	var err error
	if j.headerJSON, err = b64.DecodeString(parts[0]); err != nil {
		return nil, errors.New("the header is not base64url without padding")
	}
	if j.payloadJSON, err = b64.DecodeString(parts[1]); err != nil {
		return nil, errors.New("the payload is not base64url without padding")
	}
	if j.sig, err = b64.DecodeString(parts[2]); err != nil {
		return nil, errors.New("the signature is not base64url without padding")
	}
	j.sigLen = len(j.sig)
	if j.header, err = object(j.headerJSON); err != nil {
		return nil, fmt.Errorf("the header: %w", err)
	}
	if j.claims, err = object(j.payloadJSON); err != nil {
		return nil, fmt.Errorf("the claims: %w", err)
	}
	return j, nil
}

func object(data []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// str returns a string member of m.
func str(m map[string]any, name string) (string, bool) {
	s, ok := m[name].(string)
	return s, ok
}

// time returns a NumericDate claim (RFC 7519 §2).
func (j *jws) time(name string) (time.Time, bool) {
	n, ok := j.claims[name].(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0).UTC(), true
}

// strings returns a claim that is a string or an array of strings.
func (j *jws) strings(name string) ([]string, bool) {
	switch v := j.claims[name].(type) {
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

func indentJSON(data []byte) string {
	var b bytes.Buffer
	if json.Indent(&b, data, "", "  ") != nil {
		return string(data)
	}
	return b.String()
}

// when renders t absolutely and relative to now.
func when(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	if d >= 0 {
		return fmt.Sprintf("%s, in %s", t.Format(time.RFC3339), d)
	}
	return fmt.Sprintf("%s, %s ago", t.Format(time.RFC3339), -d)
}
