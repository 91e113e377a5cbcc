package warden

import (
	"strings"
	"testing"
)

// TestValidScopeTokenEveryByte: the eight-at-a-time checks agree with the
// byte-by-byte definition (RFC 6749 §3.3 scope-token: %x21 / %x23-5B /
// %x5D-7E) for every byte at every position of a word.
func TestValidScopeTokenEveryByte(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		want := c >= 0x21 && c <= 0x7e && c != 0x22 && c != 0x5c
		for pos := range 17 {
			b := []byte(strings.Repeat("a", 17))
			b[pos] = byte(c)
			if got := validScopeToken(string(b)); got != want {
				t.Fatalf("validScopeToken: byte %#x at %d: %v, want %v", c, pos, got, want)
			}
			if got := isScopeText(b); got != (want || c == ' ') {
				t.Fatalf("isScopeText: byte %#x at %d: %v, want %v", c, pos, got, want || c == ' ')
			}
		}
	}
}
