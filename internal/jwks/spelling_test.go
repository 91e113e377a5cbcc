package jwks

import (
	"errors"
	"strings"
	"testing"
)

// TestSpellingDifference: the differences people make when they copy an
// issuer identifier are named; any other difference is not.
func TestSpellingDifference(t *testing.T) {
	t.Parallel()
	for _, row := range []struct{ configured, got, want string }{
		{"https://idp.example/", "https://idp.example", "they differ only by a trailing slash"},
		{"https://idp.example/tenant", "https://idp.example/tenant/", "they differ only by a trailing slash"},
		{"https://IDP.example", "https://idp.example", "they differ only in letter case"},
		{"HTTPS://idp.example", "https://idp.example", "they differ only in letter case"},
		{"https://idp.example:443", "https://idp.example", "they differ only by a default port, letter case or a trailing slash"},
		{"http://IDP.example:80/a/", "http://idp.example/a", "they differ only by a default port, letter case or a trailing slash"},
		{"https://idp.example", "https://idp.example", ""},
		{"https://idp.example", "http://idp.example", ""},
		{"https://idp.example:8443", "https://idp.example", ""},
		{"https://idp.example/a", "https://idp.example/b", ""},
		{"https://idp.example/A", "https://idp.example/a", "they differ only in letter case"},
		{"not a url", "https://idp.example", ""},
	} {
		if got := SpellingDifference(row.configured, row.got); got != row.want {
			t.Errorf("SpellingDifference(%q, %q) = %q, want %q", row.configured, row.got, got, row.want)
		}
	}
}

// TestParseMetadataSaysHow: the discovery error names both spellings and
// the difference, for every kind of difference.
func TestParseMetadataSaysHow(t *testing.T) {
	t.Parallel()
	_, err := ParseMetadata([]byte(`{"issuer":"https://idp.example","jwks_uri":"https://idp.example/keys"}`), "https://idp.example:443")
	if !errors.Is(err, ErrIssuerMismatch) {
		t.Fatalf("got %v", err)
	}
	want := `document names "https://idp.example", configured "https://idp.example:443": they differ only by a default port, letter case or a trailing slash; configure the issuer exactly as the document names it`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}
