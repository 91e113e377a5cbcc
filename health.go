package warden

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"
)

// KeySetStatus describes the health of one issuer's key set.
type KeySetStatus struct {
	// Issuer is the issuer whose keys these are.
	Issuer string `json:"issuer"`
	// KeyIDs are the kids of the keys held.
	KeyIDs []string `json:"key_ids"`
	// LastRefresh is when the keys held were fetched (for static keys,
	// when New loaded them).
	LastRefresh time.Time `json:"last_refresh"`
	// Staleness is how long ago the held keys were last confirmed.
	Staleness time.Duration `json:"staleness"`
	// LastError is the cause of the last failed refresh, if any.
	LastError string `json:"last_error,omitempty"`
	// Usable reports whether tokens can be verified now: the keys are
	// fresh, or stale by no more than KeySetPolicy.MaxStaleness.
	Usable bool `json:"usable"`
}

// KeyStatus reports the health of every issuer's key set, in the order of
// Config.Issuers.
func (m *Middleware) KeyStatus() []KeySetStatus {
	if m.tokens == nil {
		return []KeySetStatus{}
	}
	out := make([]KeySetStatus, 0, len(m.tokens.order))
	for _, ti := range m.tokens.order {
		st := ti.keys.Status()
		ks := KeySetStatus{Issuer: ti.url, KeyIDs: st.KIDs, LastRefresh: st.LastRefresh, Staleness: st.Staleness, Usable: st.Usable}
		if st.LastErr != nil {
			ks.LastError = st.LastErr.Error()
		}
		out = append(out, ks)
	}
	return out
}

// readyIssuer is one issuer in the ReadyHandler body. It leaves out
// KeySetStatus.LastError, whose text can name internal hosts and
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
// KeySetPolicy.MaxStaleness), so that traffic is routed elsewhere
// instead of being answered 503 request by request. The JSON body lists each
// issuer's key ids, last refresh and staleness; it answers GET and HEAD.
//
// A failing refresh alone does not make the handler report not ready: the
// last good keys keep serving within MaxStaleness (see KeySetPolicy),
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
