package warden_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// This file tests IssuerConfig.Keyfunc: an issuer's keys from a golang-jwt
// Keyfunc (keyfunc.Keyfunc's, or any). The keyfunc module itself is tested
// against it in adapters/conformance and bench, which may depend on it.

// keyfuncIssuer is a wardentest issuer whose keys a jwt.Keyfunc hands out,
// with a count of calls and a switch to withdraw a key.
type keyfuncIssuer struct {
	iss       *wardentest.Issuer
	calls     atomic.Int64
	mu        sync.Mutex
	withdrawn map[string]bool
	answer    func(kid string) (any, error) // overrides the issuer's keys when set
}

func newKeyfuncIssuer(t *testing.T) *keyfuncIssuer {
	return &keyfuncIssuer{iss: wardentest.NewIssuer(t), withdrawn: map[string]bool{}}
}

func (k *keyfuncIssuer) keyfunc(tok *jwt.Token) (any, error) {
	k.calls.Add(1)
	kid, _ := tok.Header["kid"].(string)
	if iss, _ := tok.Claims.(jwt.MapClaims)["iss"].(string); iss != k.iss.URL {
		return nil, errors.New("the Keyfunc was not told the issuer")
	}
	k.mu.Lock()
	answer, gone := k.answer, k.withdrawn[kid]
	k.mu.Unlock()
	if answer != nil {
		return answer(kid)
	}
	for _, key := range k.iss.Keys() {
		if key.ID == kid && !gone {
			return key.Signer.Public(), nil
		}
	}
	return nil, errors.New("kid not found")
}

func (k *keyfuncIssuer) middleware(t *testing.T) *warden.Middleware {
	t.Helper()
	mw, err := warden.New(warden.Config{
		Issuers: []warden.IssuerConfig{{URL: k.iss.URL, Audience: k.iss.Audience, Keyfunc: k.keyfunc}},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mw.Close() })
	return mw
}

// TestKeyfunc: tokens verify with the Keyfunc's keys, every algorithm
// family; a cached token costs one Keyfunc call and no signature; a key
// the Keyfunc withdraws stops admitting its cached tokens.
func TestKeyfunc(t *testing.T) {
	t.Parallel()
	k := newKeyfuncIssuer(t)
	mw := k.middleware(t)
	ctx := context.Background()
	for _, key := range k.iss.Keys() {
		tok := k.iss.Mint(wardentest.Token{Key: key, Claims: wardentest.Claims{"scope": "Entry_Read"}})
		if _, err := mw.Verify(ctx, tok); err != nil {
			t.Fatalf("%s (%s): %v", key.ID, key.Alg, err)
		}
		before := k.calls.Load()
		if _, err := mw.Verify(ctx, tok); err != nil {
			t.Fatalf("%s again: %v", key.ID, err)
		}
		if n := k.calls.Load() - before; n != 1 {
			t.Errorf("%s: a cached token cost %d Keyfunc calls, want 1", key.ID, n)
		}
		k.mu.Lock()
		k.withdrawn[key.ID] = true
		k.mu.Unlock()
		var e *warden.Error
		if _, err := mw.Verify(ctx, tok); !errors.As(err, &e) || e.Reason != warden.ReasonUnknownKID {
			t.Errorf("%s withdrawn: %v, want unknown_kid", key.ID, err)
		}
	}
}

// TestKeyfuncRefusals: whatever the Keyfunc answers that is not a usable
// public key refuses the token as unknown_kid, as a JWK Set would.
func TestKeyfuncRefusals(t *testing.T) {
	t.Parallel()
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []struct {
		name   string
		answer func(kid string) (any, error)
	}{
		{"an error", func(string) (any, error) { return nil, errors.New("no such key") }},
		{"a secret", func(string) (any, error) { return []byte(strings.Repeat("s", 32)), nil }},
		{"a private key", func(string) (any, error) { return weak, nil }},
		{"a weak RSA key", func(string) (any, error) { return &weak.PublicKey, nil }},
		{"a key of another type", func(string) (any, error) { return wardentest.NewECKey("ec").Signer.Public(), nil }},
		{"two keys that fit", func(string) (any, error) {
			pub := wardentest.NewRSAKey("x").Signer.Public()
			return jwt.VerificationKeySet{Keys: []jwt.VerificationKey{pub, pub}}, nil
		}},
		{"nothing", func(string) (any, error) { return nil, nil }},
	} {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			k := newKeyfuncIssuer(t)
			k.answer = row.answer
			mw := k.middleware(t)
			tok := k.iss.Mint(wardentest.Token{Key: k.iss.Key("rsa-1")})
			var e *warden.Error
			if _, err := mw.Verify(context.Background(), tok); !errors.As(err, &e) || e.Reason != warden.ReasonUnknownKID {
				t.Errorf("got %v, want unknown_kid", err)
			}
		})
	}
	t.Run("a key set with one key that fits", func(t *testing.T) {
		t.Parallel()
		k := newKeyfuncIssuer(t)
		k.answer = func(string) (any, error) {
			return jwt.VerificationKeySet{Keys: []jwt.VerificationKey{k.iss.Key("ec-1").Signer.Public(),
				k.iss.Key("rsa-1").Signer.Public(), k.iss.Key("ed-1").Signer.Public()}}, nil
		}
		if _, err := k.middleware(t).Verify(context.Background(), k.iss.Mint(wardentest.Token{Key: k.iss.Key("rsa-1")})); err != nil {
			t.Errorf("got %v", err)
		}
	})
}

// TestKeyfuncConfig: a Keyfunc is one key source among the others.
func TestKeyfuncConfig(t *testing.T) {
	t.Parallel()
	kf := func(*jwt.Token) (any, error) { return nil, errors.New("unused") }
	for _, ic := range []warden.IssuerConfig{
		{URL: "https://idp.example", Audience: "a", Keyfunc: kf, JWKSURL: "https://idp.example/keys"},
		{URL: "https://idp.example", Audience: "a", Keyfunc: kf, HMACSecret: make([]byte, 32)},
		{URL: "https://idp.example/{tenant}", Audience: "a", Keyfunc: kf, Tenants: warden.TenantPolicy{AnyTenant: true}},
	} {
		if _, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{ic}}); err == nil {
			t.Errorf("New accepted %+v", ic)
		}
	}
	mw, err := warden.New(warden.Config{Issuers: []warden.IssuerConfig{{URL: "not even a URL", Audience: "a", Keyfunc: kf}}})
	if err != nil {
		t.Fatalf("an issuer whose keys a Keyfunc gives needs no fetchable URL: %v", err)
	}
	_ = mw.Close()
}
