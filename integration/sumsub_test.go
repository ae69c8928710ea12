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
	"github.com/idvflow/idvflow/providers/sumsub"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

// Sumsub through the real receiver, worker and Temporal server of the
// test stack, to the user's record. The receiver is mid-rotation: it
// holds the dev secret and the next one.
func TestSumsubThroughTheStack(t *testing.T) {
	wf := workflows.DefaultConfig()
	wf.DecisionPollAfter, wf.PollInterval, wf.PollMaxInterval = 2*time.Second, time.Second, time.Second
	wf.LateEventWindow, wf.ProcessedGrace = time.Second, time.Second
	st, err := testkit.Start(context.Background(), testkit.Options{Workflow: wf, T: t,
		Env: map[string]string{"SUMSUB_WEBHOOK_SECRETS": sumsub.DevWebhookSecret + "," + sumsub.DevNextWebhookSecret}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)

	t.Run("a genuine webhook approves the user", func(t *testing.T) {
		s, err := st.Target.Run(t.Context(), sumsub.Scenario{Outcome: "approved", UserID: "sumsub-genuine"}, 1)
		if err != nil {
			t.Fatal(err)
		}
		u := personaWait(t, st, s.UserID, "approved")
		if u.Provider != sumsub.Name || u.SessionID != s.ID || u.UserIDSource != "externalUserId" || len(u.History) != 1 {
			t.Fatalf("record %+v", u)
		}
	})

	t.Run("every forgery and a disallowed algorithm get one identical 401 and change nothing", func(t *testing.T) {
		sc, _ := sumsub.Scenario{Outcome: "approved", UserID: "sumsub-forged"}.Script(time.Now())
		body := sc.Steps[len(sc.Steps)-1][0]
		secret := []byte(sumsub.DevWebhookSecret)
		compact := []byte(strings.Join(strings.Fields(string(body)), ""))
		sha256 := sumsub.Sign(sumsub.SHA256, secret, body)
		cases := []struct {
			name, alg, digest string
			body              []byte
		}{
			{"no headers", "", "", body},
			{"no algorithm", "", sha256, body},
			{"SHA-1, genuine but not allowed", "HMAC_SHA1_HEX", sumsub.Sign(sumsub.SHA1, secret, body), body},
			{"an unknown algorithm", "HMAC_MD5_HEX", sha256, body},
			{"another secret", "HMAC_SHA256_HEX", sumsub.Sign(sumsub.SHA256, []byte("not-the-receivers-secret-0001"), body), body},
			{"body changed after signing", "HMAC_SHA256_HEX", sha256, append([]byte(" "), body...)},
			{"another user spliced in", "HMAC_SHA256_HEX", sha256, []byte(strings.Replace(string(body), "sumsub-forged", "sumsub-forgex", 1))},
			{"body re-encoded compact", "HMAC_SHA256_HEX", sha256, compact},
			{"SHA-256 digest named SHA-512", "HMAC_SHA512_HEX", sha256, body},
		}
		var answers []string
		for _, c := range cases {
			h := http.Header{"Content-Type": {"application/json"}}
			if c.alg != "" {
				h.Set(sumsub.DigestAlgHeader, c.alg)
			}
			if c.digest != "" {
				h.Set(sumsub.DigestHeader, c.digest)
			}
			code, answer, err := st.Target.Post(t.Context(), sumsub.Name, h, c.body)
			if err != nil {
				t.Fatal(err)
			}
			if code != http.StatusUnauthorized {
				t.Errorf("%s: %d %s", c.name, code, answer)
			}
			answers = append(answers, answer)
		}
		if len(slices.Compact(slices.Clone(answers))) != 1 {
			t.Errorf("the 401 bodies differ: %q", answers)
		}
		if _, err := st.Users.Get(t.Context(), "sumsub-forged"); !errors.Is(err, userstore.ErrNotFound) {
			t.Errorf("a forged webhook reached the record: %v", err)
		}
		if _, err := st.Temporal.GetDefaultClient().DescribeWorkflowExecution(t.Context(), workflows.WorkflowID(sumsub.Name, sc.SessionID), ""); err == nil {
			t.Error("a forged webhook started the applicant's workflow")
		}
		if got := webhooksMetric(t, st, `idv_webhooks_total{outcome="unauthenticated",provider="sumsub",type="unknown"}`); got != "9" {
			t.Errorf("unauthenticated count %q, want 9", got)
		}
	})

	t.Run("during a rotation, webhooks under either secret are accepted", func(t *testing.T) {
		sc, _ := sumsub.Scenario{Outcome: "declined", UserID: "sumsub-rotated"}.Script(time.Now())
		st.Emulator.Put(sumsub.Name, sc.SessionID, sc.API)
		for i, step := range sc.Steps {
			secret := []string{sumsub.DevWebhookSecret, sumsub.DevNextWebhookSecret}[i%2]
			alg := []sumsub.Alg{sumsub.SHA256, sumsub.SHA512}[i/2%2]
			h := http.Header{"Content-Type": {"application/json"}, sumsub.DigestAlgHeader: {string(alg)},
				sumsub.DigestHeader: {sumsub.Sign(alg, []byte(secret), step[0])}}
			if code, answer, err := st.Target.Post(t.Context(), sumsub.Name, h, step[0]); err != nil || code != http.StatusOK {
				t.Fatalf("step %d: %d %s %v", i, code, answer, err)
			}
		}
		personaWait(t, st, "sumsub-rotated", "declined")
	})

	t.Run("repeats and reordered webhooks make one change", func(t *testing.T) {
		sc, _ := sumsub.Scenario{Outcome: "approved", UserID: "sumsub-repeats"}.Script(time.Now())
		st.Emulator.Put(sumsub.Name, sc.SessionID, sc.API)
		var bodies [][]byte
		for _, step := range sc.Steps {
			bodies = append(bodies, step[0])
		}
		slices.Reverse(bodies) // the decision first, applicantCreated last
		for _, b := range append(bodies, bodies...) {
			for range 2 {
				if code, answer, err := st.Target.Send(t.Context(), sumsub.Name, b); err != nil || code != http.StatusOK {
					t.Fatalf("%d %s %v", code, answer, err)
				}
			}
		}
		personaWait(t, st, "sumsub-repeats", "approved")
		if err := st.WaitClosed(t.Context(), workflows.WorkflowID(sumsub.Name, sc.SessionID), time.Minute); err != nil {
			t.Fatal(err)
		}
		if u, _ := st.Users.Get(t.Context(), "sumsub-repeats"); len(u.History) != 1 {
			t.Fatalf("history %+v, want one change", u.History)
		}
	})

	t.Run("a lost decision is found by polling, with a signed request", func(t *testing.T) {
		sc, _ := sumsub.Scenario{Outcome: "declined", UserID: "sumsub-lost"}.Script(time.Now())
		st.Emulator.Put(sumsub.Name, sc.SessionID, sc.API)
		for _, step := range sc.Steps[:len(sc.Steps)-1] { // applicantReviewed never arrives
			if code, answer, err := st.Target.Send(t.Context(), sumsub.Name, step[0]); err != nil || code != http.StatusOK {
				t.Fatalf("%d %s %v", code, answer, err)
			}
		}
		u := personaWait(t, st, "sumsub-lost", "declined")
		if u.ReasonCode != "DOCUMENT_TEMPLATE,FORGERY" {
			t.Errorf("reason %q", u.ReasonCode)
		}
		// The emulator answers 200 only to a request signed with the app
		// token's secret key within Sumsub's minute.
		if answers := st.Emulator.Answers(sc.SessionID); !slices.Contains(answers, http.StatusOK) {
			t.Fatalf("the emulator answered %v: the poll's signature was refused", answers)
		}
	})
}
