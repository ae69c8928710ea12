package integration

import (
	"context"
	"net/http"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/idvflow/idvflow/internal/cost"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

// Issue 21: the plainest path, one Veriff decision webhook through the
// real receiver, worker and Temporal, stays within its budget (≤ 6
// actions, ≤ 20 history events, ≤ 3 workflow tasks: the floor of
// docs/operations.md and the run's recorded config), writes no version
// marker, and its user's onboarding run (notify) stays within 1.5× its
// floor (5 actions, 19 events, 3 tasks: since 1.1 the floor holds the
// take's finish, a local activity's marker, R11).
func TestOneDecisionCost(t *testing.T) {
	wf := workflows.DefaultConfig()
	wf.LateEventWindow = time.Second
	st, err := testkit.Start(context.Background(), testkit.Options{Workflow: wf, T: t, Env: map[string]string{"IDV_ONBOARDING_IDLE": "1s"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)

	user, sessionID := "user-cost", "0c0c0c0c-0000-4000-8000-000000000001"
	st.Emulator.Put(veriff.Name, sessionID, nil)
	body := veriff.DecisionBody(sessionID, "a", user, "approved", time.Now().UTC().Truncate(time.Millisecond))
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, body)); code != http.StatusOK {
		t.Fatalf("decision: %d", code)
	}

	session := closedCost(t, st, workflows.WorkflowID(veriff.Name, sessionID))
	if session.Actions > 6 || session.Events > 20 || session.Tasks > 3 {
		t.Errorf("session: %d actions, %d events, %d workflow tasks; budget 6, 20, 3", session.Actions, session.Events, session.Tasks)
	}
	if session.Markers["Version"] > 0 || session.Markers["SideEffect"] != 1 {
		t.Errorf("session markers %v; want the recorded config only", session.Markers)
	}
	onb := closedCost(t, st, onboarding.WorkflowID(user))
	if onb.Actions > 7 || onb.Events > 28 || onb.Tasks > 4 {
		t.Errorf("onboarding run: %d actions, %d events, %d workflow tasks; budget (1.5× the floor) 7, 28, 4", onb.Actions, onb.Events, onb.Tasks)
	}
	if n := st.Notifications(user); len(n) != 1 || n[0].Data.Status != "approved" {
		t.Errorf("notifications %+v; want the approval once", n)
	}
	t.Logf("session %+v; onboarding run %+v", session, onb)

	// Passbase names the user only in its API's answer: the run learns her
	// from the details it fetches and writes her with the status, in one
	// upsert, not one each.
	key, pbUser := "0c0c0c0c-0000-4000-8000-000000000002", "user-cost-pb"
	now := time.Now().UTC().Truncate(time.Second)
	st.Emulator.Put(passbase.Name, key, passbase.IdentityObject(key, pbUser, "approved", now.Add(-time.Minute), now))
	for _, b := range [][]byte{
		passbase.ProcessedBody(passbase.VocabularyLegacy, key, "", "", now.Add(-time.Minute), now.Add(-time.Second)),
		passbase.ReviewedBody(passbase.VocabularyLegacy, key, "", "approved", now.Add(-time.Minute), now),
	} {
		enc, err := passbase.Encrypt(passbaseSecret, b)
		if err != nil {
			t.Fatal(err)
		}
		if code := send(t, st.Receiver.URL, delivery{"/webhooks/passbase", "text/plain", nil, enc}); code != http.StatusOK {
			t.Fatalf("passbase webhook: %d", code)
		}
	}
	pb := closedCost(t, st, workflows.WorkflowID(passbase.Name, key))
	if pb.Upserts != 1 || pb.Markers["Version"] > 0 {
		t.Errorf("passbase session: %d upserts, markers %v; want one upsert (status and user) and no version marker", pb.Upserts, pb.Markers)
	}
	waitUser(t, st, pbUser, "approved", 20*time.Second)
}

// closedCost waits for the workflow to close and counts its history.
func closedCost(t *testing.T, st *testkit.Stack, workflowID string) cost.Cost {
	t.Helper()
	ctx := context.Background()
	if err := st.WaitClosed(ctx, workflowID, 30*time.Second); err != nil {
		t.Fatalf("%s: %v", workflowID, err)
	}
	var events []*historypb.HistoryEvent
	it := st.Temporal.GetDefaultClient().GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	return cost.Of(events)
}
