// Package clientstore verifies OAuth client credentials against a fixed
// list of clients whose secrets are kept only as bcrypt or argon2id hashes:
// a warden.ClientVerifier for routes that accept HTTP Basic client
// authentication (RFC 6749 §2.3.1). It lives outside the warden package so
// that a service which takes only tokens does not link the password hashes.
package clientstore

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/wardenhq/warden"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Client is a client that may authenticate with HTTP Basic. Its secret is
// kept only as a hash.
type Client struct {
	// ID is the client id.
	ID string `json:"client_id"`
	// SecretHash is a bcrypt hash ("$2a$…", "$2b$…") or an argon2id PHC
	// string ("$argon2id$v=19$m=…,t=…,p=…$salt$hash"), e.g. from Hash.
	SecretHash string `json:"secret_hash"`
	// Scopes are the client's permissions.
	Scopes []string `json:"scopes"`
}

// Store is a warden.ClientVerifier over a fixed list of clients with hashed
// secrets. An unknown client id is checked against a dummy hash of the same
// kind and cost, so it takes as long as a wrong secret. For that to hold for
// every client, all hashes in a store must share one kind and cost.
type Store struct {
	clients map[string]storedClient
	dummy   storedClient
}

type storedClient struct {
	scopes []string
	hash   secretHash
}

// New builds a Store, rejecting duplicate ids, malformed
// hashes, hashes of different kinds or costs (which would let response times
// tell known client ids from unknown ones) and scopes that are not RFC 6749
// scope-tokens.
func New(clients []Client) (*Store, error) {
	s := &Store{clients: make(map[string]storedClient, len(clients))}
	for _, c := range clients {
		if c.ID == "" {
			return nil, errorf("client with an empty id")
		}
		if _, dup := s.clients[c.ID]; dup {
			return nil, errorf("client %q is listed twice", c.ID)
		}
		h, err := parseSecretHash(c.SecretHash)
		if err != nil {
			return nil, errorf("client %q: %v", c.ID, err)
		}
		for _, sc := range c.Scopes {
			if !validScope(sc) {
				return nil, errorf("client %q: %q is not a valid scope", c.ID, sc)
			}
		}
		if s.dummy.hash != nil && h.params() != s.dummy.hash.params() {
			return nil, errorf("client %q: hash parameters %s differ from the store's %s; rehash all secrets alike",
				c.ID, h.params(), s.dummy.hash.params())
		}
		s.clients[c.ID] = storedClient{scopes: append([]string(nil), c.Scopes...), hash: h}
		if s.dummy.hash == nil {
			d, err := h.sibling()
			if err != nil {
				return nil, err
			}
			s.dummy.hash = d
		}
	}
	if s.dummy.hash == nil {
		s.dummy.hash = bcryptHash(mustBcrypt(randomSecret()))
	}
	return s, nil
}

// VerifyClient implements warden.ClientVerifier: it returns the client's
// scopes, or warden.ErrInvalidClient for an unknown id or a wrong secret.
func (s *Store) VerifyClient(_ context.Context, clientID, secret string) ([]string, error) {
	c, known := s.clients[clientID]
	if !known {
		c = s.dummy
	}
	// The hash is always computed, so both failures cost the same.
	match := c.hash.matches(secret)
	if !known || !match {
		return nil, warden.ErrInvalidClient
	}
	return c.scopes, nil
}

// Hash hashes a client secret with bcrypt at its default cost, for
// Client.SecretHash.
func Hash(secret string) (string, error) {
	if len(secret) > 72 {
		return "", fmt.Errorf("clientstore: bcrypt secrets are limited to 72 bytes")
	}
	b, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.DefaultCost)
	return string(b), err
}

type secretHash interface {
	matches(secret string) bool
	// sibling returns a hash of a random secret with the same parameters.
	sibling() (secretHash, error)
	// params names the kind and cost, which decide how long matches takes.
	params() string
}

type bcryptHash []byte

func (h bcryptHash) matches(secret string) bool {
	if len(secret) > 72 {
		// bcrypt would ignore the excess; compare anyway so the cost is
		// paid, then refuse.
		_ = bcrypt.CompareHashAndPassword(h, []byte(secret[:72]))
		return false
	}
	return bcrypt.CompareHashAndPassword(h, []byte(secret)) == nil
}

func (h bcryptHash) params() string {
	cost, _ := bcrypt.Cost(h)
	return fmt.Sprintf("bcrypt cost %d", cost)
}

func (h bcryptHash) sibling() (secretHash, error) {
	cost, err := bcrypt.Cost(h)
	if err != nil {
		return nil, err
	}
	b, err := bcrypt.GenerateFromPassword([]byte(randomSecret()), cost)
	return bcryptHash(b), err
}

func mustBcrypt(secret string) []byte {
	b, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.DefaultCost)
	if err != nil {
		panic(err)
	}
	return b
}

type argon2idHash struct {
	time, memory uint32
	threads      uint8
	salt, key    []byte
}

func (h argon2idHash) matches(secret string) bool {
	k := argon2.IDKey([]byte(secret), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(k, h.key) == 1
}

func (h argon2idHash) params() string {
	return fmt.Sprintf("argon2id m=%d,t=%d,p=%d,len=%d", h.memory, h.time, h.threads, len(h.key))
}

func (h argon2idHash) sibling() (secretHash, error) {
	d := h
	d.salt = make([]byte, len(h.salt))
	_, _ = rand.Read(d.salt)
	d.key = argon2.IDKey([]byte(randomSecret()), d.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return d, nil
}

// Bounds on argon2id parameters read from configuration, so a typo cannot
// make every request allocate gigabytes.
const (
	maxArgonMemoryKiB = 1 << 20
	maxArgonTime      = 16
)

func parseSecretHash(s string) (secretHash, error) {
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		if _, err := bcrypt.Cost([]byte(s)); err != nil {
			return nil, fmt.Errorf("malformed bcrypt hash")
		}
		return bcryptHash(s), nil
	case strings.HasPrefix(s, "$argon2id$"):
		var h argon2idHash
		var version int
		parts := strings.Split(s, "$")
		if len(parts) != 6 {
			return nil, fmt.Errorf("malformed argon2id hash")
		}
		if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
			return nil, fmt.Errorf("unsupported argon2id version")
		}
		if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &h.threads); err != nil {
			return nil, fmt.Errorf("malformed argon2id parameters")
		}
		if h.memory == 0 || h.memory > maxArgonMemoryKiB || h.time == 0 || h.time > maxArgonTime || h.threads == 0 {
			return nil, fmt.Errorf("argon2id parameters out of range")
		}
		var err error
		if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
			return nil, fmt.Errorf("malformed argon2id salt")
		}
		if h.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.key) < 16 {
			return nil, fmt.Errorf("malformed argon2id hash")
		}
		return h, nil
	default:
		return nil, fmt.Errorf("secret hash must be bcrypt or argon2id")
	}
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errInvalid = errors.New("clientstore: invalid client list")

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errInvalid}, args...)...)
}

// validScope reports an RFC 6749 §3.3 scope-token, the only scopes a route
// can require.
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}
