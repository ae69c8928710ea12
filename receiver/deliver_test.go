package receiver_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/receiver"
)

// Deliver is the one judgement of an authentic webhook: the receiver
// answers each webhook with it and an operator's re-drive takes its
// verdict, so both refuse, retry and accept the same bodies.
func TestDeliverVerdicts(t *testing.T) {
	now := time.Now().UTC()
	first := now.Add(-72 * time.Hour).Truncate(time.Microsecond)
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	decision := func(decided string) string {
		return `{"status":"success","verification":{"id":"s-1","attemptId":"a-1","status":"approved","vendorData":"u-1","decisionTime":"` + decided + `"}}`
	}
	untimed := `{"eventType":"fullauto","sessionId":"s-1","attemptId":"a-1","vendorData":"u-1","data":{"verification":{"decision":"approved"}}}`
	for _, tc := range []struct {
		name     string
		body     string
		first    time.Time // Authentic.FirstReceived
		temporal error
		outcome  receiver.Outcome
		status   int
		keep     bool
		signals  int
		// receivedAt, when set, is the receipt the signalled event carries.
		receivedAt time.Time
	}{
		{name: "accepted", body: decision(at(-time.Minute)), outcome: receiver.OutcomeAccepted, status: http.StatusOK, signals: 1},
		{name: "not modelled, no session", body: `{"kind":"something Veriff may add"}`,
			outcome: receiver.OutcomeIgnored, status: http.StatusOK},
		{name: "not a webhook", body: `[1,2]`, outcome: receiver.OutcomeMalformed, status: http.StatusBadRequest, keep: true},
		{name: "decision without a status", body: `{"verification":{"id":"s-1"}}`, outcome: receiver.OutcomeMalformed, status: http.StatusBadRequest, keep: true},
		{name: "dated ahead", body: decision(at(time.Hour)), outcome: receiver.OutcomeMalformed, status: http.StatusBadRequest, keep: true},
		{name: "dated ahead, re-driven: judged now", body: decision(at(time.Hour)), first: first,
			outcome: receiver.OutcomeMalformed, status: http.StatusBadRequest, keep: true},
		{name: "timed decision re-driven: received now", body: decision(at(-time.Minute)), first: first,
			outcome: receiver.OutcomeAccepted, status: http.StatusOK, signals: 1},
		{name: "untimed decision re-driven: its first receipt", body: untimed, first: first,
			outcome: receiver.OutcomeAccepted, status: http.StatusOK, signals: 1, receivedAt: first},
		{name: "invalid to Temporal", body: decision(at(-time.Minute)), temporal: serviceerror.NewInvalidArgument("search attribute value too large"),
			outcome: receiver.OutcomeMalformed, status: http.StatusBadRequest, keep: true},
		{name: "run limit: clears by itself", body: decision(at(-time.Minute)), temporal: serviceerror.NewInvalidArgument("Workflow history count exceeds limit."),
			outcome: receiver.OutcomeUnavailable, status: http.StatusServiceUnavailable},
		{name: "Temporal down", body: decision(at(-time.Minute)), temporal: errors.New("connection refused"),
			outcome: receiver.OutcomeUnavailable, status: http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc0 := &fakeTemporal{err: tc.temporal}
			d := receiver.Deliverer{Temporal: tc0, TaskQueue: "q", Timeout: time.Second}
			v := d.Deliver(context.Background(), veriff.NewWebhooks(veriffClient, []string{veriffSecret}),
				receiver.Authentic{Body: []byte(tc.body), Integration: "acct", FirstReceived: tc.first})
			if v.Outcome != tc.outcome || v.Status() != tc.status || v.Kept() != tc.keep {
				t.Fatalf("verdict %s %d keep=%v (%s), want %s %d keep=%v", v.Outcome, v.Status(), v.Kept(), v.Reason, tc.outcome, tc.status, tc.keep)
			}
			if v.Reason == "" {
				t.Fatal("a verdict without a reason")
			}
			if (tc.temporal != nil) != (v.Err != nil) {
				t.Fatalf("Temporal's error %v, verdict's %v", tc.temporal, v.Err)
			}
			if got := tc0.count(); got != tc.signals {
				t.Fatalf("%d signals, want %d", got, tc.signals)
			}
			if tc.signals == 0 {
				return
			}
			ev := tc0.signals[0].event
			if ev.Integration != "acct" || tc0.signals[0].input.Integration != "acct" {
				t.Fatalf("integration %q / %q, want acct", ev.Integration, tc0.signals[0].input.Integration)
			}
			want := tc.receivedAt
			if want.IsZero() {
				// Received now: after the test began, not before.
				if ev.ReceivedAt.Before(now) || ev.ReceivedAt.After(time.Now()) {
					t.Fatalf("received at %s, want now", ev.ReceivedAt)
				}
				return
			}
			if !ev.ReceivedAt.Equal(want) {
				t.Fatalf("received at %s, want %s", ev.ReceivedAt, want)
			}
		})
	}
}
