package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/internal/payloadcodec"
	"github.com/idvflow/idvflow/onboarding"
)

type users struct{}

func (users) Get(context.Context, string) (userstore.User, error) {
	return userstore.User{UserID: "u-1", Status: "approved"}, nil
}
func (users) Ping(context.Context) error { return nil }

type noTemporal struct{ queryErr error }

func (n noTemporal) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	if n.queryErr != nil {
		return nil, n.queryErr
	}
	return nil, io.EOF
}
func (n noTemporal) UpdateWorkflow(context.Context, client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	return nil, io.EOF
}
func (n noTemporal) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	return &client.CheckHealthResponse{}, nil
}

func serve(t *testing.T, token string) http.Handler {
	t.Helper()
	codec, err := payloadcodec.ParseKeys(payloadcodec.NewKey("k1"))
	if err != nil {
		t.Fatal(err)
	}
	return admin.New(users{}, noTemporal{}, token, slog.New(slog.DiscardHandler)).WithCodec(codec, nil).Handler()
}

func do(h http.Handler, method, host, path string, body []byte, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://"+host+path, bytes.NewReader(body))
	if body != nil {
		r.Header.Set("Content-Type", "application/json") // as idvctl sends it
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// Without a token the admin API answers only to a loopback Host, so a web
// page that rebinds its name to 127.0.0.1 cannot read user records from the
// operator's browser.
func TestHostWithoutToken(t *testing.T) {
	h := serve(t, "")
	for host, want := range map[string]int{
		"127.0.0.1:8081": 200, "localhost:8081": 200, "[::1]:8081": 200, "LOCALHOST": 200,
		"evil.example:8081": http.StatusMisdirectedRequest, "192.168.1.5:8081": http.StatusMisdirectedRequest,
	} {
		if got := do(h, http.MethodGet, host, "/v1/users/u-1", nil, "").Code; got != want {
			t.Errorf("Host %s: %d, want %d", host, got, want)
		}
	}
	// With a token, the token decides, whatever the Host.
	if got := do(serve(t, "tok"), http.MethodGet, "admin.internal", "/v1/users/u-1", nil, "tok").Code; got != 200 {
		t.Errorf("with a token: %d", got)
	}
}

// Answers that carry personal data are never cached.
func TestPersonalDataIsNotCached(t *testing.T) {
	w := do(serve(t, ""), http.MethodGet, "127.0.0.1", "/v1/users/u-1", nil, "")
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", got)
	}
}

// The codec endpoint reads at most 8 MiB.
func TestCodecBodyIsBounded(t *testing.T) {
	big := bytes.Repeat([]byte("a"), 9<<20)
	if got := do(serve(t, ""), http.MethodPost, "127.0.0.1", "/codec/decode", big, "").Code; got != http.StatusRequestEntityTooLarge {
		t.Fatalf("9 MiB to the codec: %d, want 413", got)
	}
}

// A session whose workflow cannot answer (its task failing on a worker
// configured unlike the others) is reported as such, not as Temporal being
// down.
func TestBlockedSessionSaysWhy(t *testing.T) {
	h := admin.New(users{}, noTemporal{queryErr: serviceerror.NewQueryFailed("workflow task failed: cannot decode a payload")},
		"", slog.New(slog.DiscardHandler)).Handler()
	w := do(h, http.MethodGet, "127.0.0.1", "/v1/sessions/veriff/s-1", nil, "")
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "cannot decode a payload") {
		t.Fatalf("%d %s, want 409 saying why", w.Code, w.Body)
	}
}

// askedUsers records which user id the admin API asked the store for.
type askedUsers struct{ asked []string }

func (a *askedUsers) Get(_ context.Context, id string) (userstore.User, error) {
	a.asked = append(a.asked, id)
	return userstore.User{UserID: id, Status: "approved"}, nil
}
func (a *askedUsers) Ping(context.Context) error { return nil }

// A user id the store accepts can be read back, whatever it holds: "/"
// (escaped as %2F), spaces, percent signs.
func TestUserIDsWithSlashes(t *testing.T) {
	for escaped, want := range map[string]string{
		"tenant%2F7%2Fuser%209": "tenant/7/user 9",
		"a%25b":                 "a%b",
		"plain":                 "plain",
	} {
		u := &askedUsers{}
		h := admin.New(u, noTemporal{}, "", slog.New(slog.DiscardHandler)).Handler()
		w := do(h, http.MethodGet, "127.0.0.1:8081", "/v1/users/"+escaped, nil, "")
		if w.Code != http.StatusOK || len(u.asked) != 1 || u.asked[0] != want {
			t.Fatalf("GET /v1/users/%s: %d, asked the store for %q; want 200 for %q", escaped, w.Code, u.asked, want)
		}
	}
}

// strictTemporal answers as a real frontend (v1.32.1) does for ids over
// limit.maxIDLength (1,000): InvalidArgument ("UpdateId length exceeds
// limit." for an Update, service/frontend/workflow_handler.go:5443; the
// same for a workflow id), and records every call.
type strictTemporal struct {
	calls    []string
	queryErr error
}

func (s *strictTemporal) QueryWorkflow(_ context.Context, id, _, _ string, _ ...any) (converter.EncodedValue, error) {
	s.calls = append(s.calls, "query "+id)
	if s.queryErr != nil {
		return nil, s.queryErr
	}
	if len(id) > 1000 {
		return nil, serviceerror.NewInvalidArgument("WorkflowId length exceeds limit.")
	}
	return nil, serviceerror.NewNotFound("workflow not found")
}

func (s *strictTemporal) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	s.calls = append(s.calls, "update "+o.WorkflowID)
	if len(o.UpdateID) > 1000 || len(o.WorkflowID) > 1000 {
		return nil, serviceerror.NewInvalidArgument("UpdateId length exceeds limit.")
	}
	return nil, serviceerror.NewNotFound("workflow not found")
}

func (s *strictTemporal) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	return &client.CheckHealthResponse{}, nil
}

// Bad input gets a clear 4xx before Temporal is called; R9 (a user id is
// at most 255 bytes). The onboarding routes check the path's user id and
// the reviewer's length themselves: sent on to Temporal, its
// InvalidArgument would be answered 503 "temporal unavailable" (an
// operator's script would retry a request that can never succeed).
func TestOnboardingRoutesRefuseBadInputBeforeTemporal(t *testing.T) {
	t.Run("user id over its bound", func(t *testing.T) {
		tc := &strictTemporal{}
		h := admin.New(users{}, tc, "", slog.New(slog.DiscardHandler)).Handler()
		w := do(h, http.MethodGet, "127.0.0.1", "/v1/onboarding/"+strings.Repeat("u", 1200), nil, "")
		if w.Code < 400 || w.Code >= 500 || len(tc.calls) != 0 {
			t.Errorf("GET with a 1,200-byte user id: %d %s after Temporal calls %d; want a 4xx before Temporal", w.Code, w.Body, len(tc.calls))
		}
	})
	t.Run("reviewer over any bound", func(t *testing.T) {
		tc := &strictTemporal{}
		h := admin.New(users{}, tc, "", slog.New(slog.DiscardHandler)).Handler()
		body, _ := json.Marshal(onboarding.Review{ChangeID: "c-1", Outcome: onboarding.ReviewPassed, Reviewer: strings.Repeat("r", 1500)})
		w := do(h, http.MethodPost, "127.0.0.1", "/v1/onboarding/u-1/review", body, "")
		if w.Code != http.StatusBadRequest || len(tc.calls) != 0 {
			t.Errorf("POST review with a 1,500-byte reviewer: %d %s after Temporal calls %v; want 400 before Temporal", w.Code, w.Body, tc.calls)
		}
	})
	t.Run("onboarding that cannot answer", func(t *testing.T) {
		// The session route answers 409 saying why (TestBlockedSessionSaysWhy);
		// the onboarding route says Temporal is down.
		tc := &strictTemporal{queryErr: serviceerror.NewQueryFailed("workflow task failed: cannot decode a payload")}
		h := admin.New(users{}, tc, "", slog.New(slog.DiscardHandler)).Handler()
		w := do(h, http.MethodGet, "127.0.0.1", "/v1/onboarding/u-1", nil, "")
		if w.Code != http.StatusConflict {
			t.Errorf("GET of an onboarding whose task fails: %d %s; want 409 saying why, as for sessions", w.Code, w.Body)
		}
	})
}
