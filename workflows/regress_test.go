package workflows_test

// Regression tests for what broke the record's promise when idvflow was
// tried from outside (issue 10), each named by the rule it checks
// (docs/semantics.md).

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"

	"github.com/idvflow/idvflow/testkit/schedules"
)

// arrive is a webhook body built by the provider's package, signalled as
// the receiver signals it when it arrives at at.
func arrive(provider string, at time.Time, body []byte) schedules.Delivery {
	ev := receive(provider, body)
	ev.ReceivedAt = at
	return schedules.Delivery{At: at, Ev: ev, Body: body}
}

func (w *world) user(t *testing.T, id string) (string, string) {
	t.Helper()
	u, err := w.users.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u.Status, statuses(u)
}

// R4: an older session that never got a decision expires after a newer
// session approved the user; and a late webhook opens a new run of the old
// session, whose poll finds nothing and which expires again. The user stays
// approved.
func TestR4OlderSessionExpiringNeverUndoesANewerDecision(t *testing.T) {
	w := sharedWorld(t)
	user := "user-r4-two-sessions"
	t0 := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	none := func(id string) func(time.Time) { return func(time.Time) { w.emu.Put(veriff.Name, id, nil) } }
	approvedAPI := func(time.Time) {
		w.emu.Put(veriff.Name, "r4-new", sim.JSON(veriff.Verification("r4-new", "a", user, "approved", t0.Add(time.Hour))))
	}
	w.runAll(t, schedules.Skipping.Config, veriff.Name, "r4-new", []schedules.Delivery{
		arrive(veriff.Name, t0.Add(time.Hour), veriff.DecisionBody("r4-new", "a", user, "approved", t0.Add(time.Hour))),
	}, approvedAPI, false)
	started := veriff.EventBody("r4-old", "a", user, veriff.Started)
	w.runAll(t, schedules.Skipping.Config, veriff.Name, "r4-old", []schedules.Delivery{
		arrive(veriff.Name, t0, started),
		arrive(veriff.Name, t0.Add(10*24*time.Hour), started),
	}, none("r4-old"), false)
	if st, h := w.user(t, user); st != "approved" || h != "approved" {
		t.Fatalf("user %s with decisions %q, want approved only", st, h)
	}
}

// R3: Passbase says pending (processing finished, awaiting review) and
// approved within the same second (its times are whole seconds): the final
// decision wins, whichever came first.
func TestR3PendingAndApprovedInTheSameSecond(t *testing.T) {
	w := sharedWorld(t)
	t0 := time.Date(2026, 7, 2, 9, 0, 0, 0, time.UTC)
	for i, order := range [][2]string{{"pending", "approved"}, {"approved", "pending"}} {
		id := fmt.Sprintf("e3e3e3e3-0000-4000-8000-%012d", i)
		user := "user-r3-" + id
		w.emu.Put(passbase.Name, id, passbase.IdentityObject(id, user, "approved", t0, t0))
		body := map[string][]byte{
			"pending":  passbase.ProcessedBody(passbase.VocabularyNew, id, "", "pending", t0, t0),
			"approved": passbase.ReviewedBody(passbase.VocabularyNew, id, "", "approved", t0, t0),
		}
		var ds []schedules.Delivery
		for j, status := range order {
			ds = append(ds, arrive(passbase.Name, t0.Add(time.Duration(j+1)*time.Second), body[status]))
		}
		w.runAll(t, schedules.Skipping.Config, passbase.Name, id, ds, func(time.Time) {}, false)
		if st, _ := w.user(t, user); st != "approved" {
			t.Fatalf("%s then %s in one second: user %s, want approved", order[0], order[1], st)
		}
	}
}

// R8's webhook in the run's last task needs a real server (the test
// environment never puts a signal and a firing timer in one task):
// integration TestR8SignalInTheRunsLastTask.

// R5: a Veriff decision without decisionTime or acceptanceTime (as full
// auto decisions come) is ordered by when it was received, so it replaces a returning user's
// older decision instead of being "older" than everything (the year 1).
func TestR5DecisionWithoutTimeForAReturningUser(t *testing.T) {
	w := sharedWorld(t)
	user := "user-r5-returning"
	t0 := time.Date(2026, 7, 3, 9, 0, 0, 0, time.UTC)
	none := func(id string) func(time.Time) { return func(time.Time) { w.emu.Put(veriff.Name, id, nil) } }
	w.runAll(t, schedules.Skipping.Config, veriff.Name, "r5-first", []schedules.Delivery{
		arrive(veriff.Name, t0, veriff.DecisionBody("r5-first", "a", user, "declined", t0)),
	}, none("r5-first"), false)
	later := t0.Add(30 * 24 * time.Hour)
	w.runAll(t, schedules.Skipping.Config, veriff.Name, "r5-second", []schedules.Delivery{
		arrive(veriff.Name, later, veriff.DecisionBody("r5-second", "b", user, "approved", time.Time{})),
	}, none("r5-second"), false)
	if st, h := w.user(t, user); st != "approved" || h != "declined,approved" {
		t.Fatalf("user %s with decisions %q, want declined then approved", st, h)
	}
}

// R5: a Passbase identity polled with "updated": 0 has no time; its
// decision is ordered by the poll, not by 1970.
func TestR5PolledIdentityWithoutTime(t *testing.T) {
	w := sharedWorld(t)
	user := "user-r5-updated-zero"
	t0 := time.Date(2026, 7, 4, 9, 0, 0, 0, time.UTC)
	first, second := "e5e5e5e5-0000-4000-8000-000000000001", "e5e5e5e5-0000-4000-8000-000000000002"
	identity := func(id, status string, updated time.Time) func(time.Time) {
		return func(time.Time) { w.emu.Put(passbase.Name, id, passbase.IdentityObject(id, user, status, t0, updated)) }
	}
	w.runAll(t, schedules.Skipping.Config, passbase.Name, first, []schedules.Delivery{
		arrive(passbase.Name, t0, passbase.ReviewedBody(passbase.VocabularyLegacy, first, user, "declined", t0, t0)),
	}, identity(first, "declined", t0), false)
	// The second session's decision webhook is lost; the poll finds it,
	// with "updated": 0.
	at := t0.Add(24 * time.Hour)
	w.runAll(t, schedules.Skipping.Config, passbase.Name, second, []schedules.Delivery{
		arrive(passbase.Name, at, passbase.ProcessedBody(passbase.VocabularyLegacy, second, user, "", at, at)),
	}, identity(second, "approved", time.Unix(0, 0)), false)
	if st, h := w.user(t, user); st != "approved" || h != "declined,approved" {
		t.Fatalf("user %s with decisions %q, want declined then approved", st, h)
	}
}

// R8: a Veriff poll that the API refuses for good (404: no such session)
// ends the session as an error with the reason, instead of polling until
// it expires with the wrong reason.
func TestR8VeriffPollRefusedForGoodEndsTheSession(t *testing.T) {
	w := sharedWorld(t)
	user := "user-r8-veriff-404"
	started := arrive(veriff.Name, time.Date(2026, 7, 5, 9, 0, 0, 0, time.UTC), veriff.EventBody("r8-unknown", "a", user, veriff.Started))
	// The emulator knows no such session: every poll answers 404.
	w.runAll(t, schedules.Skipping.Config, veriff.Name, "r8-unknown", []schedules.Delivery{started}, func(time.Time) {}, true)
	u, err := w.users.Get(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != "error" || u.Reason == "" || w.emu.Calls("r8-unknown") > 3 {
		t.Fatalf("user %s (%q) after %d polls, want error with the API's reason after the first", u.Status, u.Reason, w.emu.Calls("r8-unknown"))
	}
}
