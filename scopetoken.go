package warden

// This file is the syntax of OAuth scopes (RFC 6749 §3.3): scope-tokens,
// and scope strings of scope-tokens separated by spaces.

import "strings"

// validScopeToken reports whether s is an RFC 6749 §3.3 scope-token, which
// is also what can be written inside a quoted auth-param without escaping.
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	for ; i+8 <= len(s); i += 8 {
		// Eight bytes at a time: 0x21–0x7E except '"' and '\\' (see
		// jsonwalk.go for the SWAR tests).
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if swarHasLess(x, 0x21) || swarHasMore(x, 0x7e) || swarHasZero(x^(swarOnes*'"')) || swarHasZero(x^(swarOnes*'\\')) {
			return false
		}
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// parseScopeString splits a scope claim (RFC 6749 §3.3, RFC 8693 §4.2):
// scope-tokens separated by SP (0x20) and nothing else. Runs of spaces and
// leading or trailing spaces are tolerated; any other byte outside the
// scope-token set (TAB, LF, NBSP, U+2028, a quote, a backslash) makes the
// whole claim invalid, so that no reader can split it differently from the
// authorization server and find a scope it never granted.
func parseScopeString(s string) ([]string, bool) {
	if !isScopeText(s) {
		return nil, false
	}
	return splitScopes(s), true
}

// isScopeText reports whether every byte of s is SP or a scope-token
// character (0x21–0x7E but '"' and '\\'), eight bytes at a time: a string
// that passes splits at SP into valid scope-tokens, and holds nothing a JSON
// string must escape.
func isScopeText[T string | []byte](s T) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		_ = s[i+7]
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if swarHasLess(x, 0x20) || swarHasMore(x, 0x7e) || swarHasZero(x^(swarOnes*'"')) || swarHasZero(x^(swarOnes*'\\')) {
			return false
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// splitScopes splits s, which isScopeText accepts, at SP: the fields are
// substrings of s, in one allocation sized by counting spaces (vectorised).
func splitScopes(s string) []string {
	out := make([]string, 0, strings.Count(s, " ")+1)
	for s != "" {
		f := s
		if i := strings.IndexByte(s, ' '); i >= 0 {
			f, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if f != "" { // runs of spaces, leading or trailing ones
			out = append(out, f)
		}
	}
	return out
}
