package warden_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wardenhq/warden/wardentest"
)

// The leak test runs the attack table with every log line (Config.Logger)
// and every decision (Config.OnDecision) captured, and asserts that no
// token, token segment, Basic secret, kid or claim value from a request
// shows up in a log line, a decision's error, a response header, or a
// refusal body. The 200 bodies are the application's (the echo handler
// prints the principal on purpose) and are not checked.

// atkLeakMinLen ignores values so short that a match would be chance.
const atkLeakMinLen = 5

// atkSecrets returns what a request carries that must never be echoed.
func (fx *atkFixture) atkSecrets(row atkRow) []string {
	allowed := map[string]bool{atkIssuer: true, atkAudience: true, "api": true}
	for _, s := range append([]string{"entry:read"}, row.require...) {
		allowed[s] = true
	}
	var out []string
	add := func(s string) {
		if len(s) < atkLeakMinLen {
			return
		}
		for a := range allowed {
			if strings.Contains(a, s) {
				return // part of the configuration, e.g. scope "entry" in entry:read
			}
		}
		out = append(out, s)
	}
	var values []string
	values = append(values, row.auth...)
	for _, v := range row.header {
		values = append(values, v)
	}
	if q, err := url.ParseQuery(row.query); err == nil {
		values = append(values, q["access_token"]...)
	}
	if f, err := url.ParseQuery(row.form); err == nil {
		values = append(values, f["access_token"]...)
	}
	for _, v := range values {
		v = strings.Trim(v, " \t")
		scheme, cred, found := strings.Cut(v, " ")
		if !found && !strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "Basic") {
			cred = v // "Bearer<token>" and the like
		}
		cred = strings.TrimLeft(cred, " ")
		add(cred)
		if raw, err := base64.StdEncoding.DecodeString(cred); err == nil {
			user, pass, _ := strings.Cut(string(raw), ":")
			add(user)
			add(pass)
			if u, err := url.QueryUnescape(pass); err == nil {
				add(u)
			}
		}
		for i, seg := range strings.Split(cred, ".") {
			add(seg)
			if raw, err := base64.RawURLEncoding.DecodeString(seg); err == nil && i < 2 {
				var m map[string]any
				if json.Unmarshal(raw, &m) == nil {
					for k, v := range m {
						if i == 0 && (k == "alg" || k == "typ") {
							continue // algorithm names and "at+jwt" appear in fixed texts
						}
						atkLeaves(v, add)
					}
				}
			}
		}
	}
	return out
}

// atkLeaves calls add for every string and number in a JSON value.
func atkLeaves(v any, add func(string)) {
	switch x := v.(type) {
	case string:
		add(x)
	case float64:
		add(fmt.Sprint(int64(x)))
	case []any:
		for _, e := range x {
			atkLeaves(e, add)
		}
	case map[string]any:
		for _, e := range x {
			atkLeaves(e, add)
		}
	}
}

// TestNoLeaks runs sections A to G and checks every output for the secrets
// of the request that produced it.
func TestNoLeaks(t *testing.T) {
	t.Parallel()
	fx := newAtkFixture(t)
	counter := newHitCounter(t)
	var rows []atkRow
	for _, section := range [][]atkRow{
		atkHeaderRows(fx), atkTokenRows(fx), atkAlgRows(fx, counter), atkClaimRows(fx),
		atkScopeRows(fx), atkImpersonationRows(fx), atkBasicRows(fx),
	} {
		rows = append(rows, section...)
	}
	checked := 0
	for _, row := range rows {
		logStart := len(fx.logs.String())
		fx.mu.Lock()
		decStart := len(fx.decisions)
		fx.mu.Unlock()
		w := fx.serve(row)

		var out strings.Builder
		out.WriteString(fx.logs.String()[logStart:])
		for k, vs := range w.Header() {
			fmt.Fprintf(&out, "%s: %s\n", k, strings.Join(vs, "\n"))
		}
		if w.Code != http.StatusOK {
			out.WriteString(w.Body.String())
		}
		fx.mu.Lock()
		decisions := fx.decisions[decStart:]
		fx.mu.Unlock()
		assert.Len(t, decisions, 1, "%s: decisions", row.id)
		for _, d := range decisions {
			fmt.Fprintf(&out, "%s %d %v %s %v\n", d.Reason, d.Status, d.Scheme, d.Requirement, d.Err)
			// Identity fields are set only for an authenticated principal:
			// a refused token's unverified claims never reach them.
			if w.Code == http.StatusUnauthorized || w.Code == http.StatusBadRequest {
				assert.Empty(t, d.Subject+d.ClientID+d.Issuer, "%s: refused with identity %q/%q/%q", row.id, d.Subject, d.ClientID, d.Issuer)
			}
		}
		text := out.String()
		for _, s := range fx.atkSecrets(row) {
			if len(decisions) == 1 && decisions[0].Err != nil && slices.Contains(decisions[0].Err.Got, s) {
				continue // the iss or aud of a token a trusted key signed (Error.Got), said on purpose
			}
			checked++
			assert.NotContains(t, text, s, "%s: the output contains a value from the request", row.id)
		}
	}
	t.Logf("%d rows, %d request values checked", len(rows), checked)
	require.GreaterOrEqual(t, checked, len(rows), "values checked over %d rows", len(rows))
}

// TestNoLeaksKeySourceLogs checks the one place that logs on its own: the
// remote key source. Its failures are logged (so the capture is not empty),
// yet no token or kid from the requests that triggered them appears.
func TestNoLeaksKeySourceLogs(t *testing.T) {
	t.Parallel()
	fx := newAtkFixture(t)
	j := wardentest.NewJWKSServer(t, fx.k1, fx.e1)
	mw, _ := fx.newRemote(t, j.URL, nil)
	j.Fail(wardentest.Status500)
	atk := spareRSAKey("leaky-kid-0000")
	var secrets []string
	for range 3 {
		fx.clock.Advance(2 * time.Hour)
		tok := fx.kidToken(atk)
		fx.expect(t, mw, "unknown-kid", tok, 401, descKID)
		secrets = append(secrets, fx.atkSecrets(atkRow{auth: []string{"Bearer " + tok}})...)
	}
	fx.logs.await(t, "refresh failed")
	logs := fx.logs.String()
	for _, s := range secrets {
		assert.NotContains(t, logs, s, "the logs contain a value from a request")
	}
}
