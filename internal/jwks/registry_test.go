package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// regServer serves a discovery document and a JWK Set for every issuer
// path /{name}, except names starting with "bad", whose discovery fails.
type regServer struct {
	srv              *httptest.Server
	discovery, jwkss atomic.Int64
	set              []byte
}

func newRegServer(t *testing.T) *regServer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := &regServer{set: ksSet(t, ksJWK(t, &k.PublicKey, map[string]any{"kid": "k1"}))}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch {
		case rest == ".well-known/openid-configuration":
			s.discovery.Add(1)
			if strings.HasPrefix(name, "bad") {
				http.Error(w, "no such tenant", http.StatusNotFound)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": s.srv.URL + "/" + name, "jwks_uri": s.srv.URL + "/" + name + "/keys"})
		case rest == "keys":
			s.jwkss.Add(1)
			_, _ = w.Write(s.set)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// regClock is a settable clock.
type regClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *regClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *regClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestRegistry(t *testing.T, s *regServer, size, perMinute int) (*Registry, *regClock) {
	t.Helper()
	clock := &regClock{t: time.Unix(1_800_000_000, 0)}
	opt, err := Options{Now: clock.Now, UnknownKIDWait: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRegistry(opt, RegistryOptions{Size: size, PerMinute: perMinute,
		DiscoveryURL: func(iss string) string { return iss + "/.well-known/openid-configuration" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, clock
}

// key asks the registry for issuer name's key k1.
func key(r *Registry, s *regServer, name string) (Source, *Key, error) {
	src, release, err := r.Source(s.srv.URL + "/" + name)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	k, err := src.Key(context.Background(), "k1", true, "ES256")
	return src, k, err
}

// TestRegistryCreationWindow checks that at most PerMinute sources are
// created in any minute, counted on the injected clock.
func TestRegistryCreationWindow(t *testing.T) {
	s := newRegServer(t)
	r, clock := newTestRegistry(t, s, 100, 3)
	for i, name := range []string{"a", "b", "c"} {
		if _, _, err := key(r, s, name); err != nil {
			t.Fatalf("source %d: %v", i, err)
		}
		clock.Advance(20 * time.Second)
	}
	// 60 s after "a": its slot is free again, but b's and c's are not.
	if _, _, err := key(r, s, "d"); err != nil {
		t.Errorf("d, a minute after a: %v", err)
	}
	if _, _, err := r.Source(s.srv.URL + "/e"); !errors.Is(err, ErrCreationLimit) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("e: got %v, want ErrCreationLimit", err)
	}
	if _, _, err := key(r, s, "a"); err != nil {
		t.Errorf("a source held is served beyond the limit: %v", err)
	}
	if got := s.discovery.Load(); got != 4 {
		t.Errorf("got %d discovery fetches, want 4", got)
	}
}

// TestRegistryFailedFirstFetch checks that a source whose first fetch
// failed makes no attempt of its own, answers ErrUnavailable without a
// fetch until MinRefreshInterval has passed, and is then created anew.
func TestRegistryFailedFirstFetch(t *testing.T) {
	s := newRegServer(t)
	r, clock := newTestRegistry(t, s, 100, 100)
	src, _, err := key(r, s, "bad1")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	if due := src.(*Remote).due.Load(); due != math.MaxInt64 {
		t.Errorf("a retry is scheduled at %d; want none (the registry decides)", due)
	}
	clock.Advance(30 * time.Second)
	if _, _, err := r.Source(s.srv.URL + "/bad1"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("within MinRefreshInterval: got %v", err)
	}
	if got := s.discovery.Load(); got != 1 {
		t.Errorf("within MinRefreshInterval: got %d discovery fetches, want 1", got)
	}
	clock.Advance(30 * time.Second)
	if _, _, err := key(r, s, "bad1"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("after MinRefreshInterval: got %v", err)
	}
	if got := s.discovery.Load(); got != 2 {
		t.Errorf("after MinRefreshInterval: got %d discovery fetches, want 2", got)
	}
}

// TestRegistryEviction checks the bound on sources, the second chance of a
// source whose cached tokens were presented, and that a dropped source no
// longer holds keys.
func TestRegistryEviction(t *testing.T) {
	s := newRegServer(t)
	r, _ := newTestRegistry(t, s, 2, 100)
	srcA, kA, err := key(r, s, "a")
	if err != nil {
		t.Fatal(err)
	}
	srcB, kB, err := key(r, s, "b")
	if err != nil {
		t.Fatal(err)
	}
	if !srcA.Holds(kA) { // a cached token of a: a is used
		t.Fatal("a does not hold its key")
	}
	if _, _, err := key(r, s, "c"); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 2 {
		t.Errorf("got %d sources, want 2", r.Len())
	}
	if srcB.Holds(kB) {
		t.Errorf("b was dropped but still holds its key")
	}
	if !srcA.Holds(kA) {
		t.Errorf("a, used, was dropped instead of b")
	}
}
