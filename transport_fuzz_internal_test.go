package warden

import "testing"

// FuzzCallURI: the URI a call over another transport says it was made to
// (gRPC: the client's :authority and the method) becomes a normalised htu
// or nothing, with and without a configured PublicURL, and never panics.
func FuzzCallURI(f *testing.F) {
	for _, s := range []string{"https://127.0.0.1:8443/pkg.Service/Method", "http:///x", "/pkg.Service/Method",
		"https://api.example/a?b#c", "https://api.example", "://", "x://y", "https://[::1]:0/%2e%2e/a"} {
		f.Add(s)
	}
	behind := &binding{publicURL: "https://api.example"}
	direct := &binding{}
	f.Fuzz(func(t *testing.T, uri string) {
		for _, b := range []*binding{behind, direct} {
			got := b.publicURI(uri)
			if got == "" {
				continue
			}
			if again, ok := normalizeHTU(got); !ok || again != got {
				t.Fatalf("publicURI(%q) = %q, which is not a normalised htu", uri, got)
			}
			if b == behind && len(got) < len("https://api.example/") || b == behind && got[:len("https://api.example/")] != "https://api.example/" {
				t.Fatalf("publicURI(%q) = %q, not under PublicURL", uri, got)
			}
		}
	})
}
