package integration

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/providers/onfido"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

// Onfido through the real receiver, worker and Temporal server of the test
// stack, to the user's record (the run's customer_user_id, fetched from the
// emulated API). The receiver is mid-rotation: it holds two tokens.
func TestOnfidoThroughTheStack(t *testing.T) {
	wf := workflows.DefaultConfig()
	wf.DecisionPollAfter, wf.PollInterval, wf.PollMaxInterval = 2*time.Second, time.Second, time.Second
	wf.LateEventWindow, wf.ProcessedGrace = time.Second, time.Second
	st, err := testkit.Start(context.Background(), testkit.Options{Workflow: wf, T: t,
		Env: map[string]string{"ONFIDO_WEBHOOK_TOKENS": onfido.DevWebhookToken + "," + onfido.DevNextWebhookToken}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	post := func(t *testing.T, sig string, body []byte) (int, string) {
		t.Helper()
		h := http.Header{"Content-Type": {"application/json"}}
		if sig != "" {
			h.Set(onfido.SignatureHeader, sig)
		}
		code, answer, err := st.Target.Post(t.Context(), onfido.Name, h, body)
		if err != nil {
			t.Fatal(err)
		}
		return code, answer
	}

	t.Run("a genuine webhook declines the user", func(t *testing.T) {
		s, err := st.Target.Run(t.Context(), onfido.Scenario{Outcome: "declined", UserID: "onfido-genuine"}, 1)
		if err != nil {
			t.Fatal(err)
		}
		u := personaWait(t, st, s.UserID, "declined")
		if u.Provider != onfido.Name || u.SessionID != s.ID || u.UserIDSource != "customer_user_id" || len(u.History) != 1 {
			t.Fatalf("record %+v", u)
		}
	})

	t.Run("every forgery gets one identical 401 and changes nothing", func(t *testing.T) {
		sc, _ := onfido.Scenario{Outcome: "approved", UserID: "onfido-forged"}.Script(time.Now())
		st.Emulator.Put(onfido.Name, sc.SessionID, sc.API)
		body := sc.Steps[1][0]
		tok := []byte(onfido.DevWebhookToken)
		cases := []struct {
			name, sig string
			body      []byte
		}{
			{"no signature", "", body},
			{"another token", onfido.Sign([]byte("not-the-receivers-token-0001"), body), body},
			{"body changed after signing", onfido.Sign(tok, body), append([]byte(" "), body...)},
			{"another run spliced in", onfido.Sign(tok, body), []byte(strings.Replace(string(body), "approved", "declined", 1))},
			{"the published vector's signature", "a0082d7481f9f0a2907583dbe1f344d6d4c0d9989df2fd804f98479f60cd760e", body},
			{"not hex", "sha256=" + onfido.Sign(tok, body), body},
		}
		var answers []string
		for _, c := range cases {
			code, answer := post(t, c.sig, c.body)
			if code != http.StatusUnauthorized {
				t.Errorf("%s: %d %s", c.name, code, answer)
			}
			answers = append(answers, answer)
		}
		if len(slices.Compact(slices.Clone(answers))) != 1 {
			t.Errorf("the 401 bodies differ: %q", answers)
		}
		if _, err := st.Users.Get(t.Context(), "onfido-forged"); !errors.Is(err, userstore.ErrNotFound) {
			t.Errorf("a forged webhook reached the record: %v", err)
		}
		if _, err := st.Temporal.GetDefaultClient().DescribeWorkflowExecution(t.Context(), workflows.WorkflowID(onfido.Name, sc.SessionID), ""); err == nil {
			t.Error("a forged webhook started the run's workflow")
		}
	})

	t.Run("during a rotation, webhooks under either token are accepted", func(t *testing.T) {
		for i, tok := range []string{onfido.DevNextWebhookToken, onfido.DevWebhookToken} {
			user := "onfido-rotated-" + string(rune('a'+i))
			sc, _ := onfido.Scenario{Outcome: "approved", UserID: user}.Script(time.Now())
			st.Emulator.Put(onfido.Name, sc.SessionID, sc.API)
			for _, step := range sc.Steps {
				if code, answer := post(t, onfido.Sign([]byte(tok), step[0]), step[0]); code != http.StatusOK {
					t.Fatalf("%d %s", code, answer)
				}
			}
			personaWait(t, st, user, "approved")
		}
	})

	t.Run("repeats and reordered webhooks make one change", func(t *testing.T) {
		sc, _ := onfido.Scenario{Outcome: "approved", UserID: "onfido-repeats"}.Script(time.Now())
		st.Emulator.Put(onfido.Name, sc.SessionID, sc.API)
		bodies := [][]byte{sc.Steps[1][0], sc.Steps[0][0]}
		for _, b := range append(bodies, bodies...) {
			for range 2 {
				if code, answer, err := st.Target.Send(t.Context(), onfido.Name, b); err != nil || code != http.StatusOK {
					t.Fatalf("%d %s %v", code, answer, err)
				}
			}
		}
		personaWait(t, st, "onfido-repeats", "approved")
		if err := st.WaitClosed(t.Context(), workflows.WorkflowID(onfido.Name, sc.SessionID), time.Minute); err != nil {
			t.Fatal(err)
		}
		if u, _ := st.Users.Get(t.Context(), "onfido-repeats"); len(u.History) != 1 {
			t.Fatalf("history %+v, want one change", u.History)
		}
	})

	t.Run("a classic check's result is found by polling", func(t *testing.T) {
		const check = "3f2e1d0c-check-idvflow-0000000001"
		st.Emulator.Put(onfido.ChecksKey, check, onfido.CheckObject(check, "onfido-check-applicant", "complete", "clear", time.Now().Add(-time.Minute)))
		b := onfido.WebhookBody("check", "check.completed", check, "complete", time.Now().Add(-time.Second))
		if code, answer, err := st.Target.Send(t.Context(), onfido.Name, b); err != nil || code != http.StatusOK {
			t.Fatalf("%d %s %v", code, answer, err)
		}
		u := personaWait(t, st, "onfido-check-applicant", "approved")
		if u.UserIDSource != "applicant_id" {
			t.Fatalf("record %+v", u)
		}
	})

	t.Run("a lost decision is found by polling", func(t *testing.T) {
		sc, _ := onfido.Scenario{Outcome: "declined", UserID: "onfido-lost"}.Script(time.Now())
		st.Emulator.Put(onfido.Name, sc.SessionID, sc.API)
		// Only a non-final run webhook arrives; workflow_run.completed is lost.
		b := onfido.WebhookBody("workflow_run", "workflow_run.completed", sc.SessionID, "awaiting_input", time.Now().Add(-2*time.Minute))
		if code, answer, err := st.Target.Send(t.Context(), onfido.Name, b); err != nil || code != http.StatusOK {
			t.Fatalf("%d %s %v", code, answer, err)
		}
		personaWait(t, st, "onfido-lost", "declined")
		if st.Emulator.Calls(sc.SessionID) == 0 {
			t.Fatal("no poll")
		}
	})
}
