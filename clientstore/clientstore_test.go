package clientstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/clientstore"
)

// TestClientStoreRejectsMixedHashes: a store whose hashes differ in kind or
// cost would let timing separate known from unknown client ids.
func TestClientStoreRejectsMixedHashes(t *testing.T) {
	cost4, err := bcrypt.GenerateFromPassword([]byte("a"), 4)
	require.NoError(t, err)
	cost5, err := bcrypt.GenerateFromPassword([]byte("b"), 5)
	require.NoError(t, err)
	const argon = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
	cases := []struct {
		name    string
		clients []clientstore.Client
		want    string
	}{
		{"bcrypt costs differ", []clientstore.Client{{ID: "a", SecretHash: string(cost4)}, {ID: "b", SecretHash: string(cost5)}}, "differ"},
		{"bcrypt and argon2id", []clientstore.Client{{ID: "a", SecretHash: string(cost4)}, {ID: "b", SecretHash: argon}}, "differ"},
		{"malformed hash", []clientstore.Client{{ID: "a", SecretHash: "plaintext"}}, "bcrypt or argon2id"},
		{"duplicate id", []clientstore.Client{{ID: "a", SecretHash: string(cost4)}, {ID: "a", SecretHash: string(cost4)}}, "listed twice"},
		{"bad scope", []clientstore.Client{{ID: "a", SecretHash: string(cost4), Scopes: []string{"a b"}}}, "not a valid scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := clientstore.New(tc.clients)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err = clientstore.New([]clientstore.Client{{ID: "a", SecretHash: string(cost4)}, {ID: "b", SecretHash: string(cost4)}})
	assert.NoError(t, err)
}

// TestVerifyClient: the right secret yields the client's scopes; a wrong
// secret and an unknown id both yield warden.ErrInvalidClient.
func TestVerifyClient(t *testing.T) {
	t.Parallel()
	hash, err := clientstore.Hash("reader-secret")
	require.NoError(t, err)
	store, err := clientstore.New([]clientstore.Client{{ID: "reader", SecretHash: hash, Scopes: []string{"Entry_Read"}}})
	require.NoError(t, err)
	for _, tc := range []struct {
		id, secret string
		want       []string
		err        error
	}{
		{"reader", "reader-secret", []string{"Entry_Read"}, nil},
		{"reader", "wrong", nil, warden.ErrInvalidClient},
		{"nobody", "reader-secret", nil, warden.ErrInvalidClient},
	} {
		t.Run(fmt.Sprintf("%s:%s", tc.id, tc.secret), func(t *testing.T) {
			got, err := store.VerifyClient(context.Background(), tc.id, tc.secret)
			assert.Equal(t, tc.want, got)
			assert.True(t, errors.Is(err, tc.err), "got error %v, want %v", err, tc.err)
		})
	}
}

// ExampleNew builds a store from hashes kept in configuration and lets a
// warden.Middleware check Basic client credentials with it.
func ExampleNew() {
	hash, err := clientstore.Hash("reader-secret") // done once, when the client is registered
	if err != nil {
		panic(err)
	}
	store, err := clientstore.New([]clientstore.Client{{ID: "reader", SecretHash: hash, Scopes: []string{"Organisation_Read"}}})
	if err != nil {
		panic(err)
	}
	mw, err := warden.New(warden.Config{Clients: store})
	if err != nil {
		panic(err)
	}
	defer mw.Close()
	scopes, err := store.VerifyClient(context.Background(), "reader", "reader-secret")
	fmt.Println(scopes, err)
	// Output: [Organisation_Read] <nil>
}
