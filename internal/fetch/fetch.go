// Package fetch performs warden's outbound HTTP requests (discovery
// documents, JWK Sets, introspection) with the discipline every one of them
// needs: https only (http on loopback hosts), a bound on time and size,
// redirects followed only within the origin of the first request, and URLs
// rendered without credentials in errors.
//
// It imports nothing of warden and knows nothing of tokens or requests.
package fetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Causes of a failed request, for errors.Is.
var (
	// ErrTooLarge: the body exceeded the Client's size limit.
	ErrTooLarge = errors.New("response exceeds the size limit")
	// ErrRedirectRefused: a redirect left the origin of the first request,
	// or there were too many of them.
	ErrRedirectRefused = errors.New("redirect refused")
)

// StatusError is a response whose status is not the one expected.
type StatusError struct{ Code int }

func (e *StatusError) Error() string { return "unexpected HTTP status " + strconv.Itoa(e.Code) }

// maxRedirects bounds the same-origin redirects followed for one request.
const maxRedirects = 3

// Client performs bounded requests. Its zero value is not usable; build one
// with New.
type Client struct {
	client  *http.Client
	own     bool // the client was built here: its idle connections are ours to close
	maxSize int64
	timeout time.Duration
}

// New wraps hc, or builds a default client when hc is nil. Every request is
// bounded by timeout and its body by maxSize bytes, whoever supplied the
// client. A supplied client is copied, never modified, and its redirect
// policy runs only after ours: following a key-set URL to another host would
// let whoever controls a redirect choose the keys.
func New(hc *http.Client, timeout time.Duration, maxSize int64) *Client {
	f := &Client{maxSize: maxSize, timeout: timeout}
	if hc == nil {
		f.own = true
		f.client = &http.Client{
			Transport: &http.Transport{
				Proxy:                 http.ProxyFromEnvironment,
				DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
				TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
				TLSHandshakeTimeout:   timeout,
				ResponseHeaderTimeout: timeout,
				IdleConnTimeout:       90 * time.Second,
				MaxIdleConnsPerHost:   2,
				ForceAttemptHTTP2:     true,
			},
			Timeout:       timeout,
			CheckRedirect: checkRedirect,
		}
		return f
	}
	c := *hc
	theirs := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkRedirect(req, via); err != nil {
			return err
		}
		if theirs != nil {
			return theirs(req, via)
		}
		return nil
	}
	f.client = &c
	return f
}

// checkRedirect follows at most maxRedirects redirects, and only within the
// origin (scheme, host and port) of the first request.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("%w: more than %d redirects", ErrRedirectRefused, maxRedirects)
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Host, first.Host) {
		return fmt.Errorf("%w: %s leaves %s", ErrRedirectRefused, Redact(req.URL), first.Scheme+"://"+first.Host)
	}
	return nil
}

// Get fetches raw and returns its body and headers. Only 200 OK is
// accepted; the body is read up to the size limit, so an endless or huge
// response costs bounded memory.
func (f *Client) Get(ctx context.Context, raw, accept string) ([]byte, http.Header, error) {
	req, err := http.NewRequest(http.MethodGet, raw, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", accept)
	return f.Do(ctx, req)
}

// PostForm sends form as an application/x-www-form-urlencoded POST to raw
// (an RFC 7662 introspection request, for instance) with the given extra
// header fields, and returns the body and headers of a 200 OK response,
// bounded like Get. Redirects are followed only within the origin; a 307 or
// 308 re-sends the form there, any other redirect turns the request into a
// GET without it (net/http's rule), which the server will not answer with
// 200 for a POST-only endpoint.
func (f *Client) PostForm(ctx context.Context, raw string, form url.Values, header http.Header) ([]byte, http.Header, error) {
	req, err := http.NewRequest(http.MethodPost, raw, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, err
	}
	for name, values := range header {
		req.Header[name] = values
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.Do(ctx, req)
}

// Do sends req, bounded in time, and returns the body of a 200 OK response.
// Any other status is a *StatusError, and its body is discarded unread
// beyond a few kilobytes.
func (f *Client) Do(ctx context.Context, req *http.Request) ([]byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req = req.WithContext(ctx)
	shown := req.Method + " " + Redact(req.URL)
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL unredacted
		}
		return nil, nil, fmt.Errorf("%s: %w", shown, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused
		return nil, resp.Header, fmt.Errorf("%s: %w", shown, &StatusError{resp.StatusCode})
	}
	if resp.ContentLength > f.maxSize {
		return nil, nil, fmt.Errorf("%s: %w (%d bytes announced)", shown, ErrTooLarge, resp.ContentLength)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: reading body: %w", shown, err)
	}
	if int64(len(body)) > f.maxSize {
		return nil, nil, fmt.Errorf("%s: %w (over %d bytes)", shown, ErrTooLarge, f.maxSize)
	}
	return body, resp.Header, nil
}

// CloseIdle releases the idle connections of a client New built, so a
// closed user leaves no connection goroutines behind.
func (f *Client) CloseIdle() {
	if f.own {
		f.client.CloseIdleConnections()
	}
}

// Redact renders u for logs and errors without a password or query, which
// may carry credentials.
func Redact(u *url.URL) string {
	c := *u
	c.RawQuery, c.ForceQuery, c.Fragment = "", false, ""
	return c.Redacted()
}

// RedactString is Redact for a URL that may not parse.
func RedactString(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return Redact(u)
}

// CheckURL accepts https URLs, and http only on loopback hosts, where no
// network attacker can sit between warden and the server (tests, demos).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopbackHost(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("%q must use https", raw)
}

// IsLoopbackHost reports whether host is localhost or a loopback address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Freshness returns how long a response stays fresh according to its
// Cache-Control max-age minus its Age (RFC 9111 §4.2.1, §4.2.3), and whether
// the response said. no-store and no-cache count as fresh for zero seconds.
func Freshness(h http.Header) (time.Duration, bool) {
	maxAge, found := time.Duration(0), false
	for _, line := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(line, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return 0, true
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64)
				if err != nil || n < 0 {
					return 0, true // RFC 9111 §4.2.1: an invalid max-age means stale
				}
				maxAge, found = time.Duration(min(n, 1<<31))*time.Second, true
			}
		}
	}
	if !found {
		return 0, false
	}
	if age, err := strconv.ParseInt(h.Get("Age"), 10, 64); err == nil && age > 0 {
		maxAge -= time.Duration(min(age, 1<<31)) * time.Second
	}
	return max(maxAge, 0), true
}
