package wardentest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Failure is a way a JWK Set endpoint misbehaves, for testing how a
// resource server rides out an issuer outage. Set one with
// JWKSServer.Fail or Issuer.FailJWKS; Healthy restores the keys.
type Failure int32

// The failures a JWK Set endpoint can be switched to.
const (
	Healthy          Failure = iota // serve the keys (application/jwk-set+json)
	Status500                       // 500 Internal Server Error
	HTMLPage                        // 200 with a text/html maintenance page
	BadJSON                         // 200 with a JSON document cut short
	Truncated                       // Content-Length of the whole set, half the body
	Oversized                       // 200 with a 10 MiB document
	Endless                         // 200, streaming until the client hangs up
	Hang                            // no answer until the client gives up or the server closes
	Reset                           // the connection closed without an answer
	EmptySet                        // 200 {"keys":[]}
	RedirectOffHost                 // 302 to another origin (which serves the keys)
	RedirectSameHost                // 302 to another path of the same origin (which serves the keys)
	RedirectLoop                    // 302s through four further same-origin hops
	Slow                            // the keys, after 100 ms
	failureCount
)

var failureNames = [...]string{"healthy", "500", "html", "bad-json", "truncated", "oversized", "endless", "hang", "reset",
	"empty-set", "redirect-off-host", "redirect-same-host", "redirect-loop", "slow"}

// String names the failure, for subtest names.
func (f Failure) String() string {
	if f < 0 || f >= failureCount {
		return "failure(" + strconv.Itoa(int(f)) + ")"
	}
	return failureNames[f]
}

// Failures lists every Failure but Healthy, for table tests.
func Failures() []Failure {
	out := make([]Failure, 0, failureCount-1)
	for f := Healthy + 1; f < failureCount; f++ {
		out = append(out, f)
	}
	return out
}

// jwksEndpoint serves one JWK Set with switchable failures. It is the
// handler behind both a JWKSServer and an Issuer's /jwks.json.
type jwksEndpoint struct {
	keys         func() []*Key
	doc          atomic.Pointer[[]byte] // a document set with SetDocument, served instead of keys
	mode         atomic.Int32
	cacheControl atomic.Pointer[string]
	hits         atomic.Int64
	perMode      [failureCount]atomic.Int64
	offHostHits  atomic.Int64
	movedPath    string // same-origin redirect target
	hopPrefix    string // same-origin redirect chain: hopPrefix+"1" … hopPrefix+"4"
	offHost      *httptest.Server
	release      chan struct{} // closed when the server stops: frees hung handlers
	closeOnce    sync.Once
}

func newJWKSEndpoint(keys func() []*Key, movedPath, hopPrefix string) *jwksEndpoint {
	e := &jwksEndpoint{keys: keys, movedPath: movedPath, hopPrefix: hopPrefix, release: make(chan struct{})}
	e.offHost = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		e.offHostHits.Add(1)
		e.writeKeys(w)
	}))
	return e
}

// mount registers the endpoint and its redirect targets on h at path.
func (e *jwksEndpoint) mount(handle func(string, http.Handler), path string) {
	handle(path, e)
	handle(e.movedPath, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { e.writeKeys(w) }))
	for i := 1; i <= 4; i++ {
		next := e.hopPrefix + strconv.Itoa(i+1)
		if i == 4 {
			next = e.movedPath
		}
		handle(e.hopPrefix+strconv.Itoa(i), http.RedirectHandler(next, http.StatusFound))
	}
}

// stop frees hung handlers and closes the off-host server.
func (e *jwksEndpoint) stop() {
	e.closeOnce.Do(func() {
		close(e.release)
		e.offHost.Close()
	})
}

func (e *jwksEndpoint) document() []byte {
	if d := e.doc.Load(); d != nil {
		return *d
	}
	return JWKS(e.keys()...)
}

func (e *jwksEndpoint) writeKeys(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	if cc := e.cacheControl.Load(); cc != nil {
		w.Header().Set("Cache-Control", *cc)
	}
	_, _ = w.Write(e.document())
}

func (e *jwksEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.hits.Add(1)
	m := Failure(e.mode.Load())
	e.perMode[m].Add(1)
	switch m {
	case Healthy:
		e.writeKeys(w)
	case Slow:
		select {
		case <-time.After(100 * time.Millisecond):
			e.writeKeys(w)
		case <-r.Context().Done():
		case <-e.release:
		}
	case Status500:
		http.Error(w, "upstream unavailable", http.StatusInternalServerError)
	case HTMLPage:
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!doctype html><html><body>Down for maintenance</body></html>"))
	case BadJSON:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[{"kty":"RSA","n":`))
	case Truncated:
		doc := e.document()
		w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
		_, _ = w.Write(doc[:len(doc)/2])
	case Oversized:
		w.Header().Set("Content-Type", "application/json")
		chunk := bytes.Repeat([]byte(" "), 64<<10)
		_, _ = w.Write([]byte(`{"keys":[`))
		for range 10 << 20 / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`]}`))
	case Endless:
		w.Header().Set("Content-Type", "application/json")
		chunk := append([]byte(`{"keys":[`), bytes.Repeat([]byte(" "), 64<<10)...)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			select {
			case <-e.release:
				return
			default:
			}
		}
	case Hang:
		select {
		case <-r.Context().Done():
		case <-e.release:
		}
	case Reset:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
	case EmptySet:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[]}`))
	case RedirectOffHost:
		http.Redirect(w, r, e.offHost.URL+"/jwks", http.StatusFound)
	case RedirectSameHost:
		http.Redirect(w, r, e.movedPath, http.StatusFound)
	case RedirectLoop:
		http.Redirect(w, r, e.hopPrefix+"1", http.StatusFound)
	}
}

// JWKSServer is a JWK Set endpoint on 127.0.0.1 whose answers a test
// switches between the keys and every common way of failing (see Failure),
// counting the requests, to test that a resource server keeps serving
// through an issuer outage and fetches no more than it should. An Issuer's
// own /jwks.json can be switched the same way with Issuer.FailJWKS.
//
// A JWKSServer is safe for concurrent use.
type JWKSServer struct {
	// URL is the JWK Set's URL.
	URL string
	// Server is the underlying test server.
	Server *httptest.Server

	mu   sync.Mutex
	keys []*Key
	ep   *jwksEndpoint
}

// NewJWKSServer starts a JWK Set endpoint publishing keys, and stops it
// when t's test ends.
func NewJWKSServer(t testing.TB, keys ...*Key) *JWKSServer {
	t.Helper()
	s := StartJWKSServer(keys...)
	t.Cleanup(s.Close)
	return s
}

// StartJWKSServer starts a JWK Set endpoint publishing keys without a
// *testing.T; call Close when done.
func StartJWKSServer(keys ...*Key) *JWKSServer {
	s := &JWKSServer{keys: append([]*Key(nil), keys...)}
	s.ep = newJWKSEndpoint(s.published, "/jwks-moved", "/jwks-hop")
	mux := http.NewServeMux()
	s.ep.mount(func(p string, h http.Handler) { mux.Handle(p, h) }, "/jwks")
	s.Server = httptest.NewServer(mux)
	s.URL = s.Server.URL + "/jwks"
	return s
}

// Close stops the server, releasing requests held by Hang first.
func (s *JWKSServer) Close() {
	s.ep.stop()
	s.Server.Close()
}

func (s *JWKSServer) published() []*Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Key(nil), s.keys...)
}

// SetKeys replaces the published keys (a rotation) and drops a document
// set with SetDocument.
func (s *JWKSServer) SetKeys(keys ...*Key) {
	s.mu.Lock()
	s.keys = append([]*Key(nil), keys...)
	s.mu.Unlock()
	s.ep.doc.Store(nil)
}

// SetDocument serves doc, verbatim, instead of the keys: for hostile or
// malformed JWK Sets. SetKeys goes back to the keys.
func (s *JWKSServer) SetDocument(doc []byte) { setDocument(s.ep, doc) }

// Fail switches the endpoint to f; Healthy switches it back.
func (s *JWKSServer) Fail(f Failure) { s.ep.mode.Store(int32(f)) }

// SetCacheControl sets the Cache-Control of healthy answers (none by
// default), to test refresh scheduling.
func (s *JWKSServer) SetCacheControl(v string) { s.ep.cacheControl.Store(&v) }

// Fetches returns how many requests reached the JWK Set URL.
func (s *JWKSServer) Fetches() int64 { return s.ep.hits.Load() }

// FetchesWhile returns how many requests reached the JWK Set URL while it
// was switched to f.
func (s *JWKSServer) FetchesWhile(f Failure) int64 { return s.ep.perMode[f].Load() }

// OffHostFetches returns how many requests followed a RedirectOffHost
// redirect to the other origin: a resource server should never do so.
func (s *JWKSServer) OffHostFetches() int64 { return s.ep.offHostHits.Load() }

func setDocument(e *jwksEndpoint, doc []byte) {
	d := bytes.Clone(doc)
	e.doc.Store(&d)
}
