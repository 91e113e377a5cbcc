package warden

import (
	"fmt"
	"slices"
	"strings"
)

// requirement is a route's compiled scope requirement.
type requirement struct {
	scopes []string // required scopes, in the order given
	any    bool     // true: one of scopes suffices; false: all are needed
}

// newRequirement validates the scopes a route requires. Each must be an
// RFC 6749 §3.3 scope-token, which is also what can be written inside the
// scope="…" challenge parameter without escaping.
func newRequirement(any bool, scopes []string) (requirement, error) {
	seen := make(map[string]bool, len(scopes))
	var out []string
	for _, s := range scopes {
		if !validScopeToken(s) {
			return requirement{}, fmt.Errorf("warden: %q is not a valid scope (RFC 6749 §3.3 scope-token)", s)
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if any && len(out) == 0 {
		return requirement{}, fmt.Errorf("warden: RequireAny needs at least one scope")
	}
	return requirement{scopes: out, any: any}, nil
}

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

// satisfiedBy reports whether granted meets the requirement. When
// permissions is non-nil (an impersonated subject with a permission
// resolver), a scope counts only if it is both granted by the token and held
// by the subject.
func (q requirement) satisfiedBy(granted []string, permissions []string, usePermissions bool) bool {
	has := func(s string) bool {
		if !slices.Contains(granted, s) {
			return false
		}
		return !usePermissions || slices.Contains(permissions, s)
	}
	if q.any {
		return slices.ContainsFunc(q.scopes, has)
	}
	for _, s := range q.scopes {
		if !has(s) {
			return false
		}
	}
	return true
}

// String renders the requirement for decisions and logs: "a b" for all-of,
// "a|b" for any-of.
func (q requirement) String() string {
	if q.any {
		return strings.Join(q.scopes, "|")
	}
	return strings.Join(q.scopes, " ")
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
