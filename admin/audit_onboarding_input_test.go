package admin_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/onboarding"
)

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

// Audit: non-negotiable "bad input gets a clear 4xx before Temporal is
// called"; R9 (a user id is at most 255 bytes). The onboarding routes
// check neither the path's user id nor the reviewer's length: both go to
// Temporal, whose InvalidArgument the handler answers 503 "temporal
// unavailable" (an operator's script would retry a request that can never
// succeed).
func TestAuditOnboardingRoutesRefuseBadInputBeforeTemporal(t *testing.T) {
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
