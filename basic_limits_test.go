package warden_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden"
)

// blVerifier knows one client, "known" with secret "good". The first hold
// checks signal entered and wait for release; it counts checks and the most
// that ran at once.
type blVerifier struct {
	hold             int
	entered, release chan struct{}
	revoked          atomic.Bool // "good" no longer verifies

	mu              sync.Mutex
	calls, inFlight int
	maxInFlight     int
}

func newBLVerifier(hold int) *blVerifier {
	return &blVerifier{hold: hold, entered: make(chan struct{}), release: make(chan struct{})}
}

func (v *blVerifier) VerifyClient(_ context.Context, id, secret string) ([]string, error) {
	v.mu.Lock()
	v.calls++
	n := v.calls
	v.inFlight++
	v.maxInFlight = max(v.maxInFlight, v.inFlight)
	v.mu.Unlock()
	if n <= v.hold {
		v.entered <- struct{}{}
		<-v.release
	}
	v.mu.Lock()
	v.inFlight--
	v.mu.Unlock()
	if id == "known" && secret == "good" && !v.revoked.Load() {
		return []string{"read"}, nil
	}
	return nil, warden.ErrInvalidClient
}

func (v *blVerifier) counts() (calls, maxInFlight int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.calls, v.maxInFlight
}

// blSetup builds a Basic-only middleware (no token issuer) over v, on a
// test clock, and its route requiring "read".
func blSetup(t *testing.T, v warden.ClientVerifier, ttl time.Duration) (*warden.Middleware, *testClock, http.Handler) {
	t.Helper()
	clock := newTestClock()
	m := newMiddleware(t, warden.Config{Clients: v, BasicCacheTTL: ttl, Now: clock.Now})
	return m, clock, m.Accept(warden.SchemeBasic).Require(warden.Scopes("read"))(noContent)
}

// blResponse is what a refusal looks like on the wire.
type blResponse struct {
	status int
	header http.Header
	body   string
}

func blServe(ctx context.Context, h http.Handler, creds string) blResponse {
	w := request{ctx: ctx, auth: []string{basicAuth(creds)}}.do(h)
	return blResponse{w.Code, w.Header(), w.Body.String()}
}

func blRefusal(status int, extra http.Header, body string) blResponse {
	h := http.Header{
		"Cache-Control": {"no-store"}, "Pragma": {"no-cache"},
		"Content-Type": {"application/json"}, "X-Content-Type-Options": {"nosniff"},
	}
	maps.Copy(h, extra)
	return blResponse{status, h, body}
}

var (
	blInvalid = blRefusal(http.StatusUnauthorized, http.Header{"Www-Authenticate": {bareBasic}}, bodyBasic)
	// Retry-After of a 503 is UnknownKIDInterval (default 5 s).
	blOverloaded = blRefusal(http.StatusServiceUnavailable, http.Header{"Retry-After": {"5"}},
		`{"error":"temporarily_unavailable","error_description":"Too many client authentications are in progress"}`+"\n")
	blThrottled = blRefusal(http.StatusTooManyRequests, http.Header{"Retry-After": {"60"}},
		`{"error":"temporarily_unavailable","error_description":"Too many failed authentication attempts for this client"}`+"\n")
	blAdmitted = blResponse{status: http.StatusNoContent, header: http.Header{}}
)

func blCheck(t *testing.T, step string, got, want blResponse) {
	t.Helper()
	assert.Equal(t, want.status, got.status, "%s: status", step)
	assert.Equal(t, want.body, got.body, "%s: body", step)
	assert.Equal(t, want.header, got.header, "%s: headers", step)
}

// holdSlots fills every hashing slot with a failing check that waits for
// v.release, and returns a function that releases them and checks that
// each was answered 401.
func holdSlots(t *testing.T, h http.Handler, v *blVerifier) (release func()) {
	t.Helper()
	var wg sync.WaitGroup
	got := make([]blResponse, v.hold)
	for i := range v.hold {
		wg.Go(func() { got[i] = blServe(context.Background(), h, fmt.Sprintf("holder-%d:x", i)) })
		<-v.entered
	}
	return func() {
		close(v.release)
		wg.Wait()
		for i, r := range got {
			blCheck(t, fmt.Sprintf("holder %d", i), r, blInvalid)
		}
	}
}

// TestBasicHashingBound: at most GOMAXPROCS checks run at once; a request
// that gets no slot within the wait (or before its context ends) is refused
// with basic_overloaded, 503 and Retry-After, without a check; cached
// credentials need no slot (issue 10, defect 3).
func TestBasicHashingBound(t *testing.T) {
	t.Parallel()
	bound := runtime.GOMAXPROCS(0)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name  string
		wait  time.Duration
		ctx   context.Context
		creds func(i int) string
		want  blResponse
	}{
		{"no free slot, no wait", 0, context.Background(), func(i int) string { return fmt.Sprintf("flood-%d:x", i) }, blOverloaded},
		{"no slot within the wait", time.Millisecond, context.Background(), func(i int) string { return fmt.Sprintf("flood-%d:x", i) }, blOverloaded},
		{"request context ends while waiting", time.Hour, cancelled, func(i int) string { return fmt.Sprintf("flood-%d:x", i) }, blOverloaded},
		{"good credentials, uncached", 0, context.Background(), func(int) string { return "known:good" }, blOverloaded},
		{"cached credentials need no slot", 0, context.Background(), func(int) string { return "known:cached" }, blAdmitted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := newBLVerifier(bound)
			m, _, h := blSetup(t, &blCachedVerifier{v}, 0)
			warden.SetBasicSlotWait(m, tc.wait)
			// Cached before the flood; the cache answers without v.
			blCheck(t, "prime the cache", blServe(context.Background(), h, "known:cached"), blAdmitted)
			release := holdSlots(t, h, v)
			for i := range bound + 1 {
				blCheck(t, fmt.Sprintf("request %d beyond the bound", i), blServe(tc.ctx, h, tc.creds(i)), tc.want)
			}
			calls, _ := v.counts()
			assert.Equal(t, bound, calls, "checks: a refused request was checked")
			release()
			_, most := v.counts()
			assert.LessOrEqual(t, most, bound, "checks at once")
		})
	}

	t.Run("a slot freed within the wait", func(t *testing.T) {
		t.Parallel()
		v := newBLVerifier(bound)
		m, _, h := blSetup(t, v, 0)
		warden.SetBasicSlotWait(m, time.Hour)
		release := holdSlots(t, h, v)
		done := make(chan blResponse)
		go func() { done <- blServe(context.Background(), h, "waiter:x") }()
		for warden.BasicSlotWaiters(m) == 0 {
			select {
			case r := <-done:
				release()
				require.FailNow(t, "answered while every slot was taken", "status %d", r.status)
			default:
				runtime.Gosched()
			}
		}
		release()
		blCheck(t, "waiter", <-done, blInvalid)
		calls, most := v.counts()
		assert.Equal(t, bound+1, calls, "checks")
		assert.LessOrEqual(t, most, bound, "checks at once")
	})
}

// blCachedVerifier admits "known:cached" without touching v, so priming
// the cache does not count against v's held checks.
type blCachedVerifier struct{ v *blVerifier }

func (c *blCachedVerifier) VerifyClient(ctx context.Context, id, secret string) ([]string, error) {
	if id == "known" && secret == "cached" {
		return []string{"read"}, nil
	}
	return c.v.VerifyClient(ctx, id, secret)
}

// TestBasicFailureMemory: failed credentials are refused without a check
// for BasicCacheTTL, keyed by the MAC of the token68 as presented, alike for
// known and unknown ids.
func TestBasicFailureMemory(t *testing.T) {
	t.Parallel()
	type step struct {
		name      string
		creds     string
		advance   time.Duration
		wantCalls int
	}
	remembered := []step{
		{"first failure", "ID:bad", 0, 1},
		{"same credentials again", "ID:bad", 0, 1},
		{"same credentials, other encoding", "ID:ba%64", 0, 2},
		{"still remembered before the TTL", "ID:bad", warden.DefaultBasicCacheTTL - time.Second, 2},
		{"checked again at the TTL", "ID:bad", time.Second, 3},
	}
	for _, tc := range []struct {
		name  string
		ttl   time.Duration
		id    string
		steps []step
	}{
		{"known id", 0, "known", remembered},
		{"unknown id", 0, "nobody", remembered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := newBLVerifier(0)
			m, clock, h := blSetup(t, v, tc.ttl)
			for _, st := range tc.steps {
				clock.Advance(st.advance)
				creds := strings.ReplaceAll(st.creds, "ID", tc.id)
				blCheck(t, st.name, blServe(context.Background(), h, creds), blInvalid)
				calls, _ := v.counts()
				assert.Equal(t, st.wantCalls, calls, "%s: checks", st.name)
			}
			presented := [][32]byte{
				warden.BasicMAC(m, base64.StdEncoding.EncodeToString([]byte(tc.id+":bad"))),
				warden.BasicMAC(m, base64.StdEncoding.EncodeToString([]byte(tc.id+":ba%64"))),
			}
			for _, k := range warden.BasicFailureKeys(m) {
				assert.Contains(t, presented, k, "failure memory holds a key that is not the MAC of a presented token68")
			}
		})
	}
}

// TestBasicThrottle: after basicThrottleFailures failed checks for one
// client id within basicThrottleWindow, new credentials for that id are
// refused with basic_throttled (429, Retry-After) without a check until the
// window ends. A known and an unknown id get the same answers throughout.
func TestBasicThrottle(t *testing.T) {
	t.Parallel()
	type step struct {
		name      string
		creds     string
		advance   time.Duration
		want      blResponse
		wantCalls int
	}
	var steps []step
	for i := range warden.BasicThrottleFailures {
		steps = append(steps, step{fmt.Sprintf("failure %d", i+1), fmt.Sprintf("ID:guess-%d", i), 0, blInvalid, i + 1})
	}
	n := warden.BasicThrottleFailures
	steps = append(steps,
		step{"one failure too many", "ID:guess-x", 0, blThrottled, n},
		step{"the right secret, uncached", "ID:good", 0, blThrottled, n},
		step{"the id in another encoding", "%IDHEX:guess-y", 0, blThrottled, n},
		step{"another id is still checked", "someone-else:guess", 0, blInvalid, n + 1},
		step{"a remembered failure is still 401", "ID:guess-0", warden.BasicThrottleWindow - warden.DefaultBasicCacheTTL - time.Second, blInvalid, n + 1},
		step{"just before the window ends", "ID:guess-z", warden.DefaultBasicCacheTTL, blThrottled, n + 1},
		step{"after the window", "ID:guess-after", time.Second, blInvalid, n + 2},
	)
	answers := map[string][]blResponse{}
	for _, id := range []string{"known", "nobody"} {
		t.Run(id, func(t *testing.T) {
			v := newBLVerifier(0)
			_, clock, h := blSetup(t, v, 0)
			for _, st := range steps {
				clock.Advance(st.advance)
				creds := strings.ReplaceAll(st.creds, "%IDHEX", fmt.Sprintf("%%%02X", id[0])+id[1:])
				creds = strings.ReplaceAll(creds, "ID", id)
				got := blServe(context.Background(), h, creds)
				answers[id] = append(answers[id], got)
				blCheck(t, st.name, got, st.want)
				calls, _ := v.counts()
				assert.Equal(t, st.wantCalls, calls, "%s: checks", st.name)
			}
		})
	}
	for i, st := range steps {
		assert.Equal(t, answers["known"][i], answers["nobody"][i], "%s: a known and an unknown id get the same answer", st.name)
	}
}

// TestBasicThrottleKeepsVerifiedClients: failing on purpose for a client id
// does not lock out that client while it presents credentials that verified
// before, cached or expired (the throttle only spares hashes for others);
// once such credentials fail, the exemption ends.
func TestBasicThrottleKeepsVerifiedClients(t *testing.T) {
	t.Parallel()
	const ttl = 10 * time.Second // shorter than basicThrottleWindow, so expiries fall inside one window
	v := newBLVerifier(0)
	_, clock, h := blSetup(t, v, ttl)
	type step struct {
		name      string
		creds     string
		advance   time.Duration
		revoke    bool
		want      blResponse
		wantCalls int
	}
	steps := []step{{"the client authenticates", "known:good", 0, false, blAdmitted, 1}}
	for i := range warden.BasicThrottleFailures {
		var advance time.Duration
		if i == 0 {
			advance = ttl / 2
		}
		steps = append(steps, step{fmt.Sprintf("attacker failure %d", i+1), fmt.Sprintf("known:guess-%d", i), advance, false, blInvalid, i + 2})
	}
	n := warden.BasicThrottleFailures + 1
	steps = append(steps,
		step{"the attacker is throttled", "known:guess-x", 0, false, blThrottled, n},
		step{"the client is served from the cache", "known:good", 0, false, blAdmitted, n},
		step{"cache entry expired: checked despite the throttle", "known:good", ttl / 2, false, blAdmitted, n + 1},
		step{"the attacker is still throttled", "known:guess-y", 0, false, blThrottled, n + 1},
		step{"secret revoked: cached until the TTL", "known:good", 0, true, blAdmitted, n + 1},
		step{"revoked secret checked at the TTL and refused", "known:good", ttl, false, blInvalid, n + 2},
		step{"revoked secret: remembered", "known:good", 0, false, blInvalid, n + 2},
		step{"revoked secret after the memory: throttled like any other", "known:good", ttl, false, blThrottled, n + 2},
	)
	for _, st := range steps {
		clock.Advance(st.advance)
		if st.revoke {
			v.revoked.Store(true)
		}
		blCheck(t, st.name, blServe(context.Background(), h, st.creds), st.want)
		calls, _ := v.counts()
		assert.Equal(t, st.wantCalls, calls, "%s: checks", st.name)
	}
}

// TestBasicLimitsMemoryBound: a flood of random client ids and secrets
// keeps the failure memory and the throttle within their bounds, and does
// not evict a throttled id.
func TestBasicLimitsMemoryBound(t *testing.T) {
	t.Parallel()
	v := newBLVerifier(0)
	m, _, h := blSetup(t, v, 0)
	for i := range warden.BasicThrottleFailures + 1 {
		blServe(context.Background(), h, fmt.Sprintf("target:guess-%d", i))
	}
	blCheck(t, "target before the flood", blServe(context.Background(), h, "target:guess-x"), blThrottled)
	for i := range 2 * warden.MaxBasicFailureEntries {
		r := blServe(context.Background(), h, fmt.Sprintf("random-%d:%d", i, i))
		require.Equal(t, http.StatusUnauthorized, r.status, "flood request %d", i)
	}
	failures, ids := len(warden.BasicFailureKeys(m)), warden.BasicThrottledIDs(m)
	assert.LessOrEqual(t, failures, warden.MaxBasicFailureEntries, "remembered failures after the flood")
	assert.LessOrEqual(t, ids, warden.MaxBasicFailureEntries, "throttled ids after the flood")
	assert.GreaterOrEqual(t, failures, warden.MaxBasicFailureEntries/2, "remembered failures after the flood: the map in use")
	assert.GreaterOrEqual(t, ids, warden.MaxBasicFailureEntries/2, "throttled ids after the flood: the map in use")
	blCheck(t, "target after the flood", blServe(context.Background(), h, "target:guess-y"), blThrottled)
}
