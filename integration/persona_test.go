package integration

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/providers/persona"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

// Persona through the real receiver, worker and Temporal server of the
// test stack (its dev credentials), to the user's record. (Here rather than
// beside the provider's package, so that fuzzing its parser does not
// build the whole Temporal server with coverage.)
func TestPersonaThroughTheStack(t *testing.T) {
	wf := workflows.DefaultConfig()
	wf.DecisionPollAfter, wf.PollInterval, wf.PollMaxInterval = 2*time.Second, time.Second, time.Second
	wf.LateEventWindow, wf.ProcessedGrace = time.Second, time.Second
	st, err := testkit.Start(context.Background(), testkit.Options{Workflow: wf, T: t})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	cfg := st.Target.Providers.Get(persona.Name).(*persona.Config)

	t.Run("a genuine event approves the user", func(t *testing.T) {
		s, err := st.Target.Run(t.Context(), persona.Scenario{Outcome: "approved", UserID: "persona-genuine"}, 1)
		if err != nil {
			t.Fatal(err)
		}
		u := personaWait(t, st, s.UserID, "approved")
		if u.Provider != persona.Name || u.SessionID != s.ID || u.UserIDSource != "reference-id" || len(u.History) != 1 {
			t.Fatalf("record %+v", u)
		}
	})

	t.Run("every forgery and a stale signature get one identical 401 and change nothing", func(t *testing.T) {
		sc, _ := persona.Scenario{Outcome: "approved", UserID: "persona-forged"}.Script(time.Now())
		body := sc.Steps[len(sc.Steps)-1][0]
		secret := []byte(persona.DevWebhookSecret)
		now := time.Now()
		cases := []struct {
			name   string
			header string
			body   []byte
		}{
			{"no signature", "", body},
			{"another secret", persona.Header(now, body, []byte("wbhsec_not-the-receivers-secret")), body},
			{"body changed after signing", persona.Header(now, body, secret), append([]byte(" "), body...)},
			{"another user spliced in", persona.Header(now, body, secret), []byte(strings.Replace(string(body), "persona-forged", "persona-forgex", 1))},
			{"t moved, v1 kept", strings.Replace(persona.Header(now, body, secret), "t=", "t=1", 1), body},
			{"not a signature header", "sha256=" + persona.Sign(secret, "1", body), body},
			{"signed 10 minutes ago", persona.Header(now.Add(-10*time.Minute), body, secret), body},
			{"signed 10 minutes ahead", persona.Header(now.Add(10*time.Minute), body, secret), body},
			{"a stale genuine set beside a fresh forged one", persona.Header(now.Add(-time.Hour), body, secret) + " " +
				persona.Header(now, body, []byte("wbhsec_forger-secret-000")), body},
		}
		var answers []string
		for _, c := range cases {
			code, answer := personaPost(t, st, http.Header{"Persona-Signature": {c.header}}, c.body)
			if code != http.StatusUnauthorized {
				t.Errorf("%s: %d %s", c.name, code, answer)
			}
			answers = append(answers, answer)
		}
		if len(slices.Compact(slices.Clone(answers))) != 1 {
			t.Errorf("the 401 bodies differ: %q", answers)
		}
		if _, err := st.Users.Get(t.Context(), "persona-forged"); !errors.Is(err, userstore.ErrNotFound) {
			t.Errorf("a forged event reached the record: %v", err)
		}
		if _, err := st.Temporal.GetDefaultClient().DescribeWorkflowExecution(t.Context(), workflows.WorkflowID(persona.Name, sc.SessionID), ""); err == nil {
			t.Error("a forged event started the inquiry's workflow")
		}
		// The three stale ones are counted apart from the rest.
		if got := webhooksMetric(t, st, `idv_webhooks_total{outcome="stale",provider="persona",type="unknown"}`); got != "3" {
			t.Errorf("stale count %q, want 3", got)
		}
	})

	t.Run("a rotated header with two sets is accepted whichever set is the receiver's", func(t *testing.T) {
		for i, order := range []string{"new secret first", "old secret first"} {
			user := "persona-rotated-" + string(rune('a'+i))
			sc, _ := persona.Scenario{Outcome: "declined", UserID: user}.Script(time.Now())
			st.Emulator.Put(persona.Name, sc.SessionID, sc.API)
			for _, step := range sc.Steps {
				b := step[0]
				secrets := [][]byte{[]byte(persona.DevNextWebhookSecret), []byte(persona.DevWebhookSecret)}
				if i == 1 {
					slices.Reverse(secrets)
				}
				if code, answer := personaPost(t, st, http.Header{"Persona-Signature": {persona.Header(time.Now(), b, secrets...)}}, b); code != http.StatusOK {
					t.Fatalf("%s: %d %s", order, code, answer)
				}
			}
			personaWait(t, st, user, "declined")
		}
	})

	t.Run("repeats and reordered events make one change", func(t *testing.T) {
		sc, _ := persona.Scenario{Outcome: "approved", UserID: "persona-repeats"}.Script(time.Now())
		st.Emulator.Put(persona.Name, sc.SessionID, sc.API)
		var bodies [][]byte
		for _, step := range sc.Steps {
			bodies = append(bodies, step[0])
		}
		slices.Reverse(bodies) // the decision first, inquiry.created last
		for _, b := range append(bodies, bodies...) {
			for range 2 { // each event twice more, each signed anew as Persona's retries are
				if code, answer, err := st.Target.Send(t.Context(), persona.Name, b); err != nil || code != http.StatusOK {
					t.Fatalf("%d %s %v", code, answer, err)
				}
			}
		}
		u := personaWait(t, st, "persona-repeats", "approved")
		if err := st.WaitClosed(t.Context(), workflows.WorkflowID(persona.Name, sc.SessionID), time.Minute); err != nil {
			t.Fatal(err)
		}
		if u, _ = st.Users.Get(t.Context(), "persona-repeats"); len(u.History) != 1 {
			t.Fatalf("history %+v, want one change", u.History)
		}
	})

	t.Run("a decision lost to the replay window is found by polling", func(t *testing.T) {
		sc, _ := persona.Scenario{Outcome: "review", UserID: "persona-lost"}.Script(time.Now())
		st.Emulator.Put(persona.Name, sc.SessionID, sc.API)
		decision := sc.Steps[len(sc.Steps)-1][0]
		for _, step := range sc.Steps[:len(sc.Steps)-1] {
			if code, answer, err := st.Target.Send(t.Context(), persona.Name, step[0]); err != nil || code != http.StatusOK {
				t.Fatalf("%d %s %v", code, answer, err)
			}
		}
		// Its only delivery was held up past the tolerance: refused.
		h, b, _ := cfg.SealAt(decision, time.Now().Add(-time.Hour))
		if code, answer := personaPost(t, st, h, b); code != http.StatusUnauthorized {
			t.Fatalf("stale decision: %d %s", code, answer)
		}
		personaWait(t, st, "persona-lost", "review")
		if st.Emulator.Calls(sc.SessionID) == 0 {
			t.Fatal("the decision reached the record without a poll")
		}
	})
}

func personaPost(t *testing.T, st *testkit.Stack, h http.Header, body []byte) (int, string) {
	t.Helper()
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	code, answer, err := st.Target.Post(t.Context(), persona.Name, h, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, answer
}

func personaWait(t *testing.T, st *testkit.Stack, user, want string) userstore.User {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		u, err := st.Users.Get(t.Context(), user)
		if err == nil && u.Status == want {
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("user %s: %+v %v, want %s", user, u, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// webhooksMetric is the value of one series on the admin API's /metrics.
func webhooksMetric(t *testing.T, st *testkit.Stack, series string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, st.Admin.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testkit.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}
