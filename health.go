package warden

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Ready reports whether every issuer's key source can verify tokens now:
// it holds a key set that is fresh, or stale by no more than
// KeySourceConfig.MaxStaleness. Static JWKS and HMAC issuers are always
// ready.
func (m *Middleware) Ready() bool {
	for _, ti := range m.core.issuerOrder {
		if !ti.keys.status().Usable {
			return false
		}
	}
	return true
}

// readyIssuer is one issuer in the ReadyHandler body. It leaves out
// KeySourceStatus.LastError, whose text can name internal hosts and
// addresses; KeyStatus has it for operators.
type readyIssuer struct {
	Issuer           string   `json:"issuer"`
	Usable           bool     `json:"usable"`
	KeyIDs           []string `json:"key_ids"`
	LastRefresh      string   `json:"last_refresh,omitempty"`
	StalenessSeconds int64    `json:"staleness_seconds"`
	RefreshFailing   bool     `json:"refresh_failing"`
}

type readyBody struct {
	Status  string        `json:"status"` // "ready" or "not_ready"
	Issuers []readyIssuer `json:"issuers"`
}

// ReadyHandler returns a handler for a readiness probe (e.g. Kubernetes
// readinessProbe): 200 while every issuer's keys are usable, 503 otherwise
// (no key set fetched yet, or the last good one is older than
// KeySourceConfig.MaxStaleness), so that traffic is routed elsewhere
// instead of being answered 503 request by request. The JSON body lists each
// issuer's key ids, last refresh and staleness; it answers GET and HEAD.
//
// A failing refresh alone does not make the handler report not ready: the
// last good keys keep serving within MaxStaleness (see KeySourceConfig),
// and "refresh_failing" says so.
func (m *Middleware) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		body := readyBody{Status: "ready", Issuers: []readyIssuer{}}
		for _, st := range m.KeyStatus() {
			ri := readyIssuer{
				Issuer:           st.Issuer,
				Usable:           st.Usable,
				KeyIDs:           st.KeyIDs,
				StalenessSeconds: int64(math.Floor(st.Staleness.Seconds())),
				RefreshFailing:   st.LastError != "",
			}
			if ri.KeyIDs == nil {
				ri.KeyIDs = []string{}
			}
			if !st.LastRefresh.IsZero() {
				ri.LastRefresh = st.LastRefresh.UTC().Format(time.RFC3339)
			}
			if !st.Usable {
				body.Status = "not_ready"
			}
			body.Issuers = append(body.Issuers, ri)
		}
		status := http.StatusOK
		if body.Status != "ready" {
			status = http.StatusServiceUnavailable
		}
		b, err := json.Marshal(body)
		if err != nil { // cannot happen: strings, bools and integers only
			status, b = http.StatusInternalServerError, []byte(`{"status":"not_ready"}`)
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store") // a probe must see the state now
		h.Set("Content-Length", strconv.Itoa(len(b)+1))
		w.WriteHeader(status)
		if r.Method == http.MethodGet {
			_, _ = w.Write(append(b, '\n'))
		}
	})
}
