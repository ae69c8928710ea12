package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"

	"github.com/idvflow/idvflow/testkit/schedules"
)

// R10: a session that receives 20,000 repeated signals stays within
// Temporal's limits on one run (10,000 signals) by continuing as new, and
// still applies the decision that comes after them, once.
func TestR10TwentyThousandRepeatedSignals(t *testing.T) {
	w := sharedWorld(t)
	const id, user = "r10-repeats", "user-r10-repeats"
	start := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	review := veriff.DecisionBody(id, "a1", user, "review", start)
	var deliveries []schedules.Delivery
	for i := range 20000 {
		deliveries = append(deliveries, arrive(veriff.Name, start.Add(time.Duration(i)*time.Second), review))
	}
	deliveries = append(deliveries, arrive(veriff.Name, start.Add(20000*time.Second),
		veriff.DecisionBody(id, "a2", user, "approved", start.Add(5*time.Hour))))

	cfg := schedules.Skipping.Config
	cfg.SessionExpiry = 7 * 24 * time.Hour
	w.emu.Put(veriff.Name, id, sim.JSON(veriff.Verification(id, "a1", user, "review", start)))
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
			started := arrive(veriff.Name, start, veriff.EventBody(tc.id, "a", user, veriff.Started))
			state := func(at time.Time) {
				if tc.decides && !at.Before(daySix) {
					w.emu.Put(veriff.Name, tc.id, sim.JSON(veriff.Verification(tc.id, "a", user, "approved", daySix)))
					return
				}
				w.emu.Put(veriff.Name, tc.id, nil)
			}
			runs := w.runAll(t, cfg, veriff.Name, tc.id, []schedules.Delivery{started}, state, false)
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
