package warden

import (
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// normalizeKeySourceConfig applies the KeySourceConfig defaults.
func normalizeKeySourceConfig(k KeySourceConfig) (KeySourceConfig, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&k.MinRefreshInterval, time.Minute)
	def(&k.MaxRefreshInterval, 24*time.Hour)
	def(&k.UnknownKIDInterval, 5*time.Second)
	def(&k.UnknownKIDWait, time.Second)
	def(&k.MaxStaleness, 24*time.Hour)
	def(&k.FetchTimeout, 10*time.Second)
	if k.MaxResponseSize == 0 {
		k.MaxResponseSize = 1 << 20
	}
	if k.MinRefreshInterval < 0 || k.MaxRefreshInterval < k.MinRefreshInterval || k.UnknownKIDInterval < 0 ||
		k.UnknownKIDWait < 0 || k.MaxStaleness < 0 || k.FetchTimeout < 0 || k.MaxResponseSize < 0 {
		return k, configErrorf("Keys: intervals must be positive and MinRefreshInterval ≤ MaxRefreshInterval")
	}
	return k, nil
}

// newRemoteSource builds the key source of an issuer whose keys are fetched
// over HTTP (a JWKS URL, a discovery document URL, or discovery from the
// issuer). Placeholder until the remote key source lands.
func newRemoteSource(ic IssuerConfig, ks KeySourceConfig, client *http.Client, logger *slog.Logger, now func() time.Time) (keySource, error) {
	return nil, configErrorf("issuer %q: remote key sources are not available yet", ic.Issuer)
}

// isLoopbackHost reports whether host is localhost or a loopback address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
