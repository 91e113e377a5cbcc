package jwks

import (
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Options tune a Remote. Every zero field takes the default named in its
// comment.
type Options struct {
	// MinRefreshInterval and MaxRefreshInterval clamp the refresh interval
	// taken from the JWK Set response's Cache-Control max-age (RFC 9111
	// §5.2.2.1, minus Age); the set is refreshed at 80-90 % of that
	// lifetime. A response without max-age is taken to live 1 h. Defaults
	// 1 min and 24 h. MinRefreshInterval also caps the retry backoff after a
	// failed refresh (1 s doubling, at most 5 min).
	MinRefreshInterval time.Duration
	MaxRefreshInterval time.Duration
	// UnknownKIDInterval is the least time between two refreshes triggered
	// by unknown kids. Default 5 s.
	UnknownKIDInterval time.Duration
	// UnknownKIDWait is the longest a request waits for a refresh, shared
	// with every other request waiting at the time. Default 1 s.
	UnknownKIDWait time.Duration
	// MaxStaleness is how long, after the last successful refresh, the set
	// keeps serving while refreshes fail. Default 24 h.
	MaxStaleness time.Duration
	// MaxResponseSize caps discovery and JWK Set responses. Default 1 MiB.
	MaxResponseSize int64
	// FetchTimeout bounds one request, and NewRemote's wait for the first
	// set. Default 10 s.
	FetchTimeout time.Duration
	// LazyStart makes NewRemote return at once; Key answers ErrUnavailable
	// until the first set arrives.
	LazyStart bool
	// OnRefresh, when set, is called after every fetch attempt. It must not
	// block.
	OnRefresh func(Refresh)
	// HTTPClient performs the requests; nil means a bounded default client.
	HTTPClient *http.Client
	// Logger receives refresh state changes. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock that ages key sets. Default time.Now.
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultMinRefreshInterval = time.Minute
	DefaultMaxRefreshInterval = 24 * time.Hour
	DefaultUnknownKIDInterval = 5 * time.Second
	DefaultUnknownKIDWait     = time.Second
	DefaultMaxStaleness       = 24 * time.Hour
	DefaultMaxResponseSize    = 1 << 20
	DefaultFetchTimeout       = 10 * time.Second
)

// Refresh describes one attempt to fetch a key set.
type Refresh struct {
	// Err is nil when the attempt succeeded; the previous keys stay
	// otherwise.
	Err error
	// Keys is the number of usable keys fetched (0 on failure).
	Keys int
	// Duration is how long discovery and the fetch took.
	Duration time.Duration
}

// ErrBadOptions: an Options field is out of range.
var ErrBadOptions = errors.New("intervals must be positive and MinRefreshInterval ≤ MaxRefreshInterval")

// WithDefaults returns o with every zero field set to its default, or
// ErrBadOptions.
func (o Options) WithDefaults() (Options, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.MinRefreshInterval, DefaultMinRefreshInterval)
	def(&o.MaxRefreshInterval, DefaultMaxRefreshInterval)
	def(&o.UnknownKIDInterval, DefaultUnknownKIDInterval)
	def(&o.UnknownKIDWait, DefaultUnknownKIDWait)
	def(&o.MaxStaleness, DefaultMaxStaleness)
	def(&o.FetchTimeout, DefaultFetchTimeout)
	if o.MaxResponseSize == 0 {
		o.MaxResponseSize = DefaultMaxResponseSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MinRefreshInterval < 0 || o.MaxRefreshInterval < o.MinRefreshInterval || o.UnknownKIDInterval < 0 ||
		o.UnknownKIDWait < 0 || o.MaxStaleness < 0 || o.FetchTimeout < 0 || o.MaxResponseSize < 0 {
		return o, ErrBadOptions
	}
	return o, nil
}
