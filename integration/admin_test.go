package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/workflows"
)

func getJSON(t *testing.T, url, token string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// TestSeedWebhookThroughAdminAPI posts the Veriff seed guide's example and
// follows it to the admin API's user record and session state.
func TestSeedWebhookThroughAdminAPI(t *testing.T) {
	wf := workflows.DefaultConfig()
	st := startStack(t, wf)

	body, err := os.ReadFile(filepath.Join("..", "testdata", "veriff", "decision-approved.seed.json"))
	if err != nil {
		t.Fatal(err)
	}
	code := send(t, st.Receiver.URL, delivery{"/webhooks/veriff", "application/json", http.Header{
		"X-Auth-Client":    {veriffKey},
		"X-Hmac-Signature": {"01fa3ded011bfce75672c99877a6cc1cf7aeaeda0ccb6b43fc21b60f595063c2"},
	}, body})
	if code != http.StatusOK {
		t.Fatalf("seed webhook: %d", code)
	}

	var u admin.UserView
	deadline := time.Now().Add(30 * time.Second)
	for getJSON(t, st.Admin.URL+"/v1/users/12345678", adminToken, &u) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("user 12345678 never appeared")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if u.Status != "approved" || u.Provider != "veriff" || u.SessionID != "12df6045-3846-3e45-946a-14fa6136d78b" ||
		u.UserIDSource != "vendorData" || len(u.History) != 1 ||
		!u.DecidedAt.Equal(time.Date(2019, 11, 6, 7, 18, 36, 916000000, time.UTC)) {
		t.Fatalf("user %+v", u)
	}

	// The record is written before the notify step runs: the session
	// reaches its late window a moment after the user row appears.
	var state workflows.SessionState
	for {
		if code := getJSON(t, st.Admin.URL+"/v1/sessions/veriff/12df6045-3846-3e45-946a-14fa6136d78b", adminToken, &state); code != http.StatusOK {
			t.Fatalf("session state: %d", code)
		}
		if state.NextStep == "absorb late events" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if state.Decision != workflows.StatusApproved || state.UserID != "12345678" || state.NextStep != "absorb late events" {
		t.Fatalf("state %+v", state)
	}

	for url, want := range map[string]int{
		"/v1/users/nobody":                    http.StatusNotFound,
		"/v1/sessions/veriff/no-such-session": http.StatusNotFound,
		"/v1/sessions/jumio/x":                http.StatusNotFound,
		"/healthz":                            http.StatusOK,
		"/readyz":                             http.StatusOK,
	} {
		if code := getJSON(t, st.Admin.URL+url, adminToken, nil); code != want {
			t.Errorf("GET %s: %d, want %d", url, code, want)
		}
	}
	if code := getJSON(t, st.Admin.URL+"/v1/users/12345678", "", nil); code != http.StatusUnauthorized {
		t.Errorf("without the token: %d, want 401", code)
	}
	if code := getJSON(t, st.Admin.URL+"/v1/users/12345678", "wrong", nil); code != http.StatusUnauthorized {
		t.Errorf("with a wrong token: %d, want 401", code)
	}
}
