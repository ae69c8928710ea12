package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/workflows"
)

// docs/semantics.md R2, through the production receiver, worker and store:
// a user approved in one session opens a second one 1.5 s later (a double
// click, a second device) and walks away. When the second expires, the
// user stays approved, and the record shows the second session's expiry as
// its latest session outcome.
func TestVerdictSurvivesALaterSessionThatExpires(t *testing.T) {
	wf := workflows.DefaultConfig()
	wf.DecisionPollAfter, wf.PollInterval, wf.PollMaxInterval = time.Second, time.Second, time.Second
	wf.SessionExpiry, wf.LateEventWindow = 4*time.Second, time.Second
	st := startStack(t, wf)
	user, first, second := "user-verdict-stays", "0c0c0c0c-0000-4000-8000-000000000001", "0c0c0c0c-0000-4000-8000-000000000002"
	now := time.Now().UTC().Truncate(time.Millisecond)
	st.Emulator.Put(veriff.Name, first, nil)
	st.Emulator.Put(veriff.Name, second, nil)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(first, "a", user, "approved", now))); code != http.StatusOK {
		t.Fatalf("approval: %d", code)
	}
	time.Sleep(1500 * time.Millisecond)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.EventBody(second, "b", user, veriff.Started))); code != http.StatusOK {
		t.Fatalf("second session: %d", code)
	}
	var u admin.UserView
	deadline := time.Now().Add(60 * time.Second)
	for {
		code := getJSON(t, st.Admin.URL+"/v1/users/"+user, adminToken, &u)
		if code == http.StatusOK && u.LatestSession.SessionID == second && u.LatestSession.Status == "expired" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second session's expiry never reached the record: %d %+v", code, u)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if u.Status != "approved" || u.SessionID != first || u.StatusKind != "verdict" || len(u.History) != 2 {
		t.Fatalf("user %+v: want approved of %s, a verdict, beside the second session's expiry", u, first)
	}
}
