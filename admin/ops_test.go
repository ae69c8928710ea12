package admin_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/operator"
)

// Every operator route needs the admin token when one is set, and
// without a token answers only on loopback, before anything is done.
func TestOperatorRoutesAreAuthenticated(t *testing.T) {
	withToken := admin.New(users{}, noTemporal{}, "tok", slog.New(slog.DiscardHandler)).
		WithOps(admin.Ops{Operator: &operator.Operator{}}).Handler()
	noToken := admin.New(users{}, noTemporal{}, "", slog.New(slog.DiscardHandler)).
		WithOps(admin.Ops{Operator: &operator.Operator{}}).Handler()
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/v1/quarantine"},
		{http.MethodGet, "/v1/quarantine/abc"},
		{http.MethodPost, "/v1/quarantine/abc/redrive"},
		{http.MethodGet, "/v1/sessions?state=stuck"},
		{http.MethodPost, "/v1/sessions/veriff/abc/resync"},
		{http.MethodPost, "/v1/sessions/veriff/abc/retry"},
		{http.MethodPost, "/v1/sessions/veriff/abc/restart"},
		{http.MethodPost, "/v1/operations"},
		{http.MethodGet, "/v1/operations/x"},
		{http.MethodPost, "/v1/operations/x/cancel"},
		{http.MethodGet, "/v1/audit"},
	} {
		if w := do(withToken, r.method, "idvflow.example", r.path, nil, ""); w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without the token: %d, want 401", r.method, r.path, w.Code)
		}
		if w := do(withToken, r.method, "idvflow.example", r.path, nil, "wrong"); w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong token: %d, want 401", r.method, r.path, w.Code)
		}
		if w := do(noToken, r.method, "idvflow.example", r.path, nil, ""); w.Code != http.StatusMisdirectedRequest {
			t.Errorf("%s %s off loopback without a token configured: %d, want 421", r.method, r.path, w.Code)
		}
	}
}

// Bad input to the operator routes gets 400 or 404 with a reason, before
// Temporal or the store is asked (both are absent here: a call would panic).
func TestOperatorRoutesRefuseBadInput(t *testing.T) {
	h := admin.New(users{}, noTemporal{}, "tok", slog.New(slog.DiscardHandler)).
		WithOps(admin.Ops{Operator: &operator.Operator{}}).Handler()
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodGet, "/v1/sessions", "", http.StatusBadRequest},
		{http.MethodGet, "/v1/sessions?state=sleeping", "", http.StatusBadRequest},
		{http.MethodGet, "/v1/sessions?state=waiting&older_than=yesterday", "", http.StatusBadRequest},
		{http.MethodGet, "/v1/sessions?state=waiting&provider=Bad%20Name", "", http.StatusBadRequest},
		{http.MethodPost, "/v1/sessions/Bad%20Name/abc/resync", "", http.StatusNotFound},
		{http.MethodPost, "/v1/sessions/veriff/..%2Fx/retry", "", http.StatusNotFound},
		{http.MethodPost, "/v1/operations", "not json", http.StatusBadRequest},
		{http.MethodPost, "/v1/operations", `{"action":"delete","state":"waiting"}`, http.StatusBadRequest},
		{http.MethodPost, "/v1/operations", `{"action":"resync","state":"everything"}`, http.StatusBadRequest},
		{http.MethodPost, "/v1/operations", `{"action":"resync","state":"waiting","rate_per_second":1000}`, http.StatusBadRequest},
		{http.MethodGet, "/v1/audit?since=last%20week", "", http.StatusBadRequest},
		{http.MethodGet, "/v1/sessions?state=waiting&older_than=106752d", "", http.StatusBadRequest},
		{http.MethodPost, "/v1/sessions/operation/abc/retry", "", http.StatusNotFound},
		{http.MethodPost, "/v1/sessions/onboarding/abc/resync", "", http.StatusNotFound},
	} {
		r := httptest.NewRequest(tc.method, "http://idvflow.example"+tc.path, strings.NewReader(tc.body))
		r.Header.Set("Authorization", "Bearer tok")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want || !bytesContains(w.Body.Bytes(), `"error"`) {
			t.Errorf("%s %s %q: %d %s, want %d with a reason", tc.method, tc.path, tc.body, w.Code, w.Body, tc.want)
		}
	}
}

func bytesContains(b []byte, s string) bool { return strings.Contains(string(b), s) }

// A POST that is not JSON is refused before anything is done: a web page
// can send a form or text/plain POST cross-origin without asking, so
// without a token (loopback only) a page the operator opens cannot act:
// not an operator action, and not a reviewer's answer at the gate.
func TestOperatorPostsMustBeJSON(t *testing.T) {
	tc := &strictTemporal{}
	h := admin.New(users{}, tc, "", slog.New(slog.DiscardHandler)).
		WithOps(admin.Ops{Operator: &operator.Operator{}}).Handler()
	review := `{"change_id":"c-1","outcome":"passed","reviewer":"officer-7"}`
	for _, path := range []string{"/v1/sessions/veriff/abc/retry", "/v1/onboarding/u-1/review"} {
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
			r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8081"+path, strings.NewReader(review))
			if ct != "" {
				r.Header.Set("Content-Type", ct)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusUnsupportedMediaType {
				t.Errorf("POST %s with Content-Type %q: %d, want 415", path, ct, w.Code)
			}
		}
	}
	if len(tc.calls) != 0 {
		t.Errorf("Temporal was called: %v", tc.calls)
	}
}
