package workflows_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/idvflow/idvflow/providers/veriff"

	"github.com/idvflow/idvflow/internal/testkit/schedules"
	"github.com/idvflow/idvflow/workflows"
)

// R10: a session that receives 20,000 repeated signals stays within
// Temporal's limits on one run (10,000 signals) by continuing as new, and
// still applies the decision that comes after them, once.
func TestR10TwentyThousandRepeatedSignals(t *testing.T) {
	w := sharedWorld(t)
	const id, user = "r10-repeats", "user-r10-repeats"
	start := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	review := workflows.Event{ID: "decision/a1/review/x", Provider: veriff.Name, SessionID: id, Type: "decision",
		Kind: workflows.KindDecision, Decision: workflows.StatusReview, ProviderStatus: "review", OccurredAt: start,
		UserID: user, UserIDSource: "vendorData"}
	approved := review
	approved.ID, approved.Decision, approved.ProviderStatus, approved.OccurredAt = "decision/a2/approved/x", workflows.StatusApproved, "approved", start.Add(6*time.Hour)

	var deliveries []schedules.Delivery
	for i := range 20000 {
		e := review
		e.ReceivedAt = start.Add(time.Duration(i) * time.Second)
		deliveries = append(deliveries, schedules.Delivery{At: e.ReceivedAt, Ev: e})
	}
	approved.ReceivedAt = start.Add(20000 * time.Second)
	deliveries = append(deliveries, schedules.Delivery{At: approved.ReceivedAt, Ev: approved})

	cfg := schedules.Skipping.Config
	cfg.SessionExpiry = 7 * 24 * time.Hour
	w.emu.Put(veriff.Name, id, json.RawMessage(`{"id":"`+id+`","status":"review","vendorData":"`+user+`","decisionTime":"`+start.Format(time.RFC3339)+`"}`))
	runs := w.runAll(t, cfg, veriff.Name, id, deliveries, func(time.Time) {}, false)
	if runs < 10 {
		t.Fatalf("%d runs for 20,001 signals; want a continuation at least every 2,000", runs)
	}
	u, err := w.users.Get(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != "approved" || statuses(u) != "review,approved" {
		t.Fatalf("user %s with decisions %q, want review then approved, once each", u.Status, statuses(u))
	}
}

// R10 and R4: a session that polls for seven days at a one-minute interval
// (10,080 polls, far over one run's history) continues as new, keeps its
// expiry, and ends expired, ordered at when it began. A second one finds the
// decision the provider made on day six.
func TestR10PollingForSevenDaysEveryMinute(t *testing.T) {
	w := sharedWorld(t)
	cfg := schedules.Skipping.Config
	cfg.DecisionPollAfter, cfg.PollInterval, cfg.PollMaxInterval = time.Minute, time.Minute, time.Minute
	cfg.SessionExpiry = 7 * 24 * time.Hour
	start := time.Date(2026, 6, 2, 8, 0, 0, 0, time.UTC)
	daySix := start.Add(6 * 24 * time.Hour)

	for _, tc := range []struct {
		id, want string
		decides  bool
	}{
		{"r10-polls-expire", "expired", false},
		{"r10-polls-found", "approved", true},
	} {
		t.Run(tc.want, func(t *testing.T) {
			user := "user-" + tc.id
			started := workflows.Event{ID: "event/a/7001", Provider: veriff.Name, SessionID: tc.id, Type: "event:started",
				Kind: workflows.KindProgress, UserID: user, UserIDSource: "vendorData", ReceivedAt: start}
			state := func(at time.Time) {
				if tc.decides && !at.Before(daySix) {
					w.emu.Put(veriff.Name, tc.id, json.RawMessage(`{"id":"`+tc.id+`","status":"approved","vendorData":"`+user+
						`","decisionTime":"`+daySix.Format(time.RFC3339)+`"}`))
					return
				}
				w.emu.Put(veriff.Name, tc.id, nil)
			}
			runs := w.runAll(t, cfg, veriff.Name, tc.id, []schedules.Delivery{{At: start, Ev: started}}, state, false)
			if runs < 2 {
				t.Fatalf("%d runs: a week of polls every minute must continue as new", runs)
			}
			u, err := w.users.Get(context.Background(), user)
			if err != nil {
				t.Fatal(err)
			}
			if u.Status != tc.want || len(u.History) != 1 {
				t.Fatalf("user %s with %d history rows, want %s once", u.Status, len(u.History), tc.want)
			}
			if tc.want == "expired" && !u.DecidedAt.Equal(start) {
				t.Fatalf("expired ordered at %s, want when the session began (%s)", u.DecidedAt, start)
			}
			if calls := w.emu.Calls(tc.id); tc.want == "expired" && calls < 10000 {
				t.Fatalf("%d polls in seven days at one a minute", calls)
			}
		})
	}
}
