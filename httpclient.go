package warden

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

// Causes of a failed discovery or JWK Set request, for errors.Is.
var (
	// errResponseTooLarge: the body exceeded KeySourceConfig.MaxResponseSize.
	errResponseTooLarge = errors.New("response exceeds the size limit")
	// errRedirectRefused: a redirect left the origin of the first request,
	// downgraded to http, or there were too many of them.
	errRedirectRefused = errors.New("redirect refused")
)

// statusError is a response other than 200 OK.
type statusError struct{ code int }

func (e *statusError) Error() string { return "unexpected HTTP status " + strconv.Itoa(e.code) }

// maxRedirects bounds the same-origin redirects followed for one document.
const maxRedirects = 3

// fetcher performs the GET requests of a remote key source: every request is
// bounded in time (timeout) and size (maxSize), whoever supplied the client.
type fetcher struct {
	client  *http.Client
	own     bool // the client was built here: its idle connections are ours to close
	maxSize int64
	timeout time.Duration
}

// newFetcher wraps client, or builds a default one when it is nil. A
// supplied client is copied, never modified, and its redirect policy runs
// only after warden's: following a JWK Set URL to another host would let
// whoever controls a redirect choose the keys (attack table H17).
func newFetcher(client *http.Client, ks KeySourceConfig) *fetcher {
	f := &fetcher{maxSize: ks.MaxResponseSize, timeout: ks.FetchTimeout}
	if client == nil {
		f.own = true
		f.client = &http.Client{
			Transport: &http.Transport{
				Proxy:                 http.ProxyFromEnvironment,
				DialContext:           (&net.Dialer{Timeout: ks.FetchTimeout, KeepAlive: 30 * time.Second}).DialContext,
				TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
				TLSHandshakeTimeout:   ks.FetchTimeout,
				ResponseHeaderTimeout: ks.FetchTimeout,
				IdleConnTimeout:       90 * time.Second,
				MaxIdleConnsPerHost:   2,
				ForceAttemptHTTP2:     true,
			},
			Timeout:       ks.FetchTimeout,
			CheckRedirect: checkRedirect,
		}
		return f
	}
	c := *client
	theirs := client.CheckRedirect
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
		return fmt.Errorf("%w: more than %d redirects", errRedirectRefused, maxRedirects)
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Host, first.Host) {
		return fmt.Errorf("%w: %s leaves %s", errRedirectRefused, redact(req.URL), first.Scheme+"://"+first.Host)
	}
	return nil
}

// get fetches raw and returns its body and headers. Only 200 OK is accepted;
// the body is read up to maxSize bytes, so an endless or huge response costs
// bounded memory (attack table H10).
func (f *fetcher) get(ctx context.Context, raw, accept string) ([]byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, nil, err
	}
	shown := redact(req.URL)
	req.Header.Set("Accept", accept)
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL unredacted
		}
		return nil, nil, fmt.Errorf("GET %s: %w", shown, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused
		return nil, nil, fmt.Errorf("GET %s: %w", shown, &statusError{resp.StatusCode})
	}
	if resp.ContentLength > f.maxSize {
		return nil, nil, fmt.Errorf("GET %s: %w (%d bytes announced)", shown, errResponseTooLarge, resp.ContentLength)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: reading body: %w", shown, err)
	}
	if int64(len(body)) > f.maxSize {
		return nil, nil, fmt.Errorf("GET %s: %w (over %d bytes)", shown, errResponseTooLarge, f.maxSize)
	}
	return body, resp.Header, nil
}

// closeIdle releases the idle connections of a client warden built, so a
// closed key source leaves no connection goroutines behind.
func (f *fetcher) closeIdle() {
	if f.own {
		f.client.CloseIdleConnections()
	}
}

// redact renders u for logs and errors without a password or query, which
// may carry credentials.
func redact(u *url.URL) string {
	c := *u
	c.RawQuery, c.ForceQuery, c.Fragment = "", false, ""
	return c.Redacted()
}

// freshness returns how long a response stays fresh according to its
// Cache-Control max-age minus its Age (RFC 9111 §4.2.1, §4.2.3), and whether
// the response said. no-store and no-cache count as fresh for zero seconds.
func freshness(h http.Header) (time.Duration, bool) {
	maxAge, found := time.Duration(0), false
	for _, line := range h.Values("Cache-Control") {
		for _, d := range strings.Split(line, ",") {
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
